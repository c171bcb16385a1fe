"""Savers: error cases for every approach, in-place .npy appends, and failures that lose nothing."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from storecore import HDF5Saver, NumpySaver, ZarrSaver
from storecore.backends.local import AtomicLocalFile
from storecore.errors import InvalidArgument, NotFound, ShapeMismatch, StorecoreError

SAVERS = {
    "numpy": lambda d, approach="append": NumpySaver(os.path.join(d, "r.npy"), approach=approach),
    "hdf5": lambda d, approach="append": HDF5Saver(os.path.join(d, "r.h5"), "g/data", approach=approach),
    "zarr": lambda d, approach="append": ZarrSaver(os.path.join(d, "r.zarr"), "g/data", approach=approach),
}


def read(kind, d):
    if kind == "numpy":
        return np.load(os.path.join(d, "r.npy"))
    if kind == "hdf5":
        with h5py.File(os.path.join(d, "r.h5"), "r") as f:
            return f["g/data"][...]
    return zarr.open_array(zarr.storage.LocalStore(os.path.join(d, "r.zarr")), path="g/data")[...]


@pytest.fixture(params=sorted(SAVERS))
def kind(request):
    return request.param


def test_unknown_approach_raises_value_error(kind, tmp_path):
    with pytest.raises(ValueError, match="unknown approach"):
        SAVERS[kind](str(tmp_path), "upsert")
    saver = SAVERS[kind](str(tmp_path))
    saver.approach = "sideways"
    with pytest.raises(ValueError):
        saver.save([1])
    assert os.listdir(tmp_path) == []


def test_approach_is_normalised(kind, tmp_path):
    saver = SAVERS[kind](str(tmp_path), "  Overwrite ")
    assert saver.approach == "overwrite"


def test_update_on_missing_store_raises_file_not_found(kind, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        SAVERS[kind](str(tmp_path), "update").save([1], indices=[0])
    assert isinstance(info.value, NotFound)
    assert os.listdir(tmp_path) == []  # nothing created


@pytest.mark.parametrize("kind", ["hdf5", "zarr"])  # a .npy file holds one array: no dataset names
def test_update_on_missing_dataset_raises_file_not_found_and_value_error(kind, tmp_path):
    SAVERS[kind](str(tmp_path)).save([1, 2])
    cls = HDF5Saver if kind == "hdf5" else ZarrSaver
    path = os.path.join(tmp_path, "r.h5" if kind == "hdf5" else "r.zarr")
    with pytest.raises(FileNotFoundError) as info:
        cls(path, "unknown_dataset", approach="update").save([1], indices=[0])
    assert isinstance(info.value, ValueError)  # raygent documents ValueError for HDF5


def test_update_without_indices_raises(kind, tmp_path):
    SAVERS[kind](str(tmp_path)).save([1, 2, 3])
    with pytest.raises(InvalidArgument, match="indices"):
        SAVERS[kind](str(tmp_path), "update").save([1])
    assert read(kind, str(tmp_path)).tolist() == [1, 2, 3]


def test_update_with_slice_and_unsorted_list(kind, tmp_path):
    SAVERS[kind](str(tmp_path)).save(np.zeros(6, dtype="int64"))
    up = SAVERS[kind](str(tmp_path), "update")
    up.save([7, 8], indices=slice(1, 3))
    up.save([5, 4], indices=[5, 0])
    assert read(kind, str(tmp_path)).tolist() == [4, 7, 8, 0, 0, 5]


def test_update_shape_mismatch_keeps_data(kind, tmp_path):
    SAVERS[kind](str(tmp_path)).save([1, 2, 3])
    with pytest.raises(ShapeMismatch):
        SAVERS[kind](str(tmp_path), "update").save([1, 2, 3], indices=[0, 1])
    assert read(kind, str(tmp_path)).tolist() == [1, 2, 3]


def test_append_shape_mismatch_names_both_shapes(kind, tmp_path):
    SAVERS[kind](str(tmp_path)).save(np.zeros((2, 3)))
    with pytest.raises(ShapeMismatch) as info:
        SAVERS[kind](str(tmp_path)).save(np.zeros((1, 4)))
    assert "(1, 4)" in str(info.value) and "(2, 3)" in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, StorecoreError)
    assert read(kind, str(tmp_path)).shape == (2, 3)


@pytest.mark.parametrize("approach", ["append", "overwrite", "update"])
def test_unconvertible_data_leaves_previous_data(kind, tmp_path, approach):
    SAVERS[kind](str(tmp_path)).save([1, 2, 3])
    with pytest.raises(TypeError) as info:
        SAVERS[kind](str(tmp_path), approach).save([[1, 2], [3]], indices=[0, 1])
    assert isinstance(info.value, StorecoreError)
    assert read(kind, str(tmp_path)).tolist() == [1, 2, 3]


def _fail_once(monkeypatch, owner, name):
    original = getattr(owner, name)
    state = {"armed": True}

    def boom(*args, **kwargs):
        if state["armed"]:
            state["armed"] = False
            raise OSError("disk full (simulated)")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, boom)


def test_numpy_write_failure_mid_append_keeps_data(tmp_path, monkeypatch):
    path = str(tmp_path / "r.npy")
    NumpySaver(path).save(np.arange(4))
    size = os.path.getsize(path)
    _fail_once(monkeypatch, os, "fsync")  # the new rows are written, then the sync fails
    with pytest.raises(OSError):
        NumpySaver(path).save([10, 11])
    assert np.load(path).tolist() == [0, 1, 2, 3] and os.path.getsize(path) == size


def test_numpy_write_failure_mid_overwrite_and_rewrite_keeps_data(tmp_path, monkeypatch):
    path = str(tmp_path / "r.npy")
    NumpySaver(path).save(np.arange(4))
    _fail_once(monkeypatch, AtomicLocalFile, "write")
    with pytest.raises(OSError):
        NumpySaver(path, "overwrite").save([9])
    _fail_once(monkeypatch, AtomicLocalFile, "write")
    with pytest.raises(OSError):
        NumpySaver(path).save([0.5])  # float rows into an int file: a full rewrite
    assert np.load(path).tolist() == [0, 1, 2, 3]
    assert [n for n in os.listdir(tmp_path)] == ["r.npy"]


def test_hdf5_write_failure_keeps_data(tmp_path, monkeypatch):
    path = str(tmp_path / "r.h5")
    HDF5Saver(path, "g/data").save([1, 2, 3])
    for approach, kw in (("append", {}), ("overwrite", {}), ("update", {"indices": [0, 2]})):
        _fail_once(monkeypatch, h5py.Dataset, "__setitem__")
        with pytest.raises(OSError):
            HDF5Saver(path, "g/data", approach).save([8, 9], **kw)
        with h5py.File(path, "r") as f:
            assert f["g/data"][...].tolist() == [1, 2, 3], approach
            assert list(f["g"]) == ["data"]


def test_zarr_write_failure_keeps_data(tmp_path, monkeypatch):
    path = str(tmp_path / "r.zarr")
    ZarrSaver(path, "g/data").save([1, 2, 3])
    cases = (
        ("append", {}, "__setitem__"),
        ("overwrite", {}, "__setitem__"),
        ("update", {"indices": [0, 2]}, "set_orthogonal_selection"),
    )
    for approach, kw, method in cases:
        _fail_once(monkeypatch, zarr.Array, method)
        with pytest.raises(OSError):
            ZarrSaver(path, "g/data", approach).save([8, 9], **kw)
        z = zarr.open_array(zarr.storage.LocalStore(path), path="g/data")
        assert z[...].tolist() == [1, 2, 3], approach
    assert sorted(os.listdir(os.path.join(path, "g"))) == ["data", "zarr.json"]


def test_numpy_append_is_in_place_without_loading(tmp_path, monkeypatch):
    path = str(tmp_path / "big.npy")
    NumpySaver(path).save(np.ones((1000, 8), dtype="float32"))
    inode = os.stat(path).st_ino

    def no_full_read(*a, **k):
        raise AssertionError("the existing array was loaded")

    monkeypatch.setattr(np, "load", no_full_read)
    monkeypatch.setattr(np, "memmap", no_full_read)
    monkeypatch.setattr(np, "fromfile", no_full_read)
    for _ in range(3):
        NumpySaver(path).save(np.full((10, 8), 2, dtype="float32"))
    monkeypatch.undo()
    assert os.stat(path).st_ino == inode  # same file: the header was rewritten in place
    out = np.load(path)
    assert out.shape == (1030, 8) and out[1000:].min() == 2 and out[:1000].max() == 1


def test_numpy_append_rewrites_when_dtype_widens_or_fortran(tmp_path):
    path = str(tmp_path / "r.npy")
    NumpySaver(path).save([1, 2])
    NumpySaver(path).save([0.5])
    out = np.load(path)
    assert out.dtype == np.float64 and out.tolist() == [1, 2, 0.5]
    fpath = str(tmp_path / "f.npy")
    np.save(fpath, np.asfortranarray(np.arange(6).reshape(3, 2)))
    NumpySaver(fpath).save([[6, 7]])
    assert np.load(fpath).tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]


def test_numpy_append_to_scalar_file_is_refused(tmp_path):
    path = str(tmp_path / "s.npy")
    np.save(path, np.float64(3.0))
    with pytest.raises(ShapeMismatch):
        NumpySaver(path).save([1.0])
    assert np.load(path) == 3.0


def test_update_out_of_range_index(tmp_path):
    path = str(tmp_path / "r.npy")
    NumpySaver(path).save([1, 2])
    with pytest.raises(InvalidArgument):
        NumpySaver(path, "update").save([5], indices=[7])
    assert np.load(path).tolist() == [1, 2]


@settings(max_examples=15, deadline=None)
@given(
    batches=st.lists(st.integers(0, 5), min_size=1, max_size=5),
    width=st.integers(1, 3),
    dtype=st.sampled_from(["int16", "float32", "uint8", "complex64"]),
)
def test_append_round_trip_property(tmp_path_factory, batches, width, dtype):
    d = str(tmp_path_factory.mktemp("prop"))
    parts = [(np.arange(n * width).reshape(n, width) % 100).astype(dtype) for n in batches]
    expected = np.concatenate(parts)
    for kind in SAVERS:
        saver = SAVERS[kind](d)
        for part in parts:
            saver.save(part)
        out = read(kind, d)
        assert out.dtype == expected.dtype and out.shape == expected.shape, kind
        np.testing.assert_array_equal(out, expected)
