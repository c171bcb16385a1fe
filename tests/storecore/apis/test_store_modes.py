"""Store persistence modes r / r+ / a / w / w- (atomea-store.txt, "mode"), for every store and backend."""

from __future__ import annotations

import os

import numpy as np
import polars as pl
import pytest

from storecore import DiskFormat, HDF5ArrayStore, NumpyArrayStore, PolarsTableStore, ZarrArrayStore
from storecore.errors import AlreadyExists, InvalidArgument, ModeError, NotFound, StorecoreError

LOCAL = {
    "numpy": (NumpyArrayStore, DiskFormat.NPY, "arrays"),
    "zarr": (ZarrArrayStore, DiskFormat.ZARR, "arrays.zarr"),
    "hdf5": (HDF5ArrayStore, DiskFormat.HDF5, "arrays.h5"),
    "polars": (PolarsTableStore, DiskFormat.PARQUET, "tables"),
}
REMOTE = {"numpy": (NumpyArrayStore, DiskFormat.NPY, "arrays"), "polars": (PolarsTableStore, DiskFormat.PARQUET, "tables")}


def payload(kind, value=1):
    return pl.DataFrame({"x": [value]}) if kind == "polars" else np.array([value])


def values(kind, data):
    return data["x"].to_list() if kind == "polars" else data.tolist()


@pytest.fixture(params=[*(f"local-{k}" for k in LOCAL), *(f"{b}-{k}" for b in ("memory", "s3") for k in REMOTE)])
def opener(request, tmp_path):
    backend, kind = request.param.split("-")
    cls, fmt, name = LOCAL[kind]
    if backend == "local":
        path = str(tmp_path / name)
    elif backend == "memory":
        path = request.getfixturevalue("memory_root") + "/" + name
    else:
        path = request.getfixturevalue("s3_root") + "/" + name

    def open_store(mode):
        return cls(path, mode=mode, disk_format=fmt)

    open_store.kind = kind
    return open_store


def seed(opener, value=1):
    with opener("w") as s:
        s.write("d", payload(opener.kind, value))


def test_mode_r_on_missing_path_raises_not_found(opener):
    with pytest.raises(NotFound) as info:
        opener("r")
    assert isinstance(info.value, FileNotFoundError) and "mode 'r'" in str(info.value)


def test_mode_r_plus_on_missing_path_raises_not_found(opener):
    with pytest.raises(FileNotFoundError):
        opener("r+")


def test_mode_r_refuses_writes_and_keeps_data(opener):
    seed(opener)
    with opener("r") as s:
        for op in (lambda: s.write("d", payload(opener.kind, 9)), lambda: s.append("d", payload(opener.kind, 9)), lambda: s.write("new", payload(opener.kind))):
            with pytest.raises(ModeError) as info:
                op()
            assert isinstance(info.value, ValueError) and isinstance(info.value, StorecoreError)
        assert values(opener.kind, s.read("d")) == [1]
        assert s.available() == ["d"]


def test_mode_r_plus_reads_and_writes_existing(opener):
    seed(opener)
    with opener("r+") as s:
        s.append("d", payload(opener.kind, 2))
        assert values(opener.kind, s.read("d")) == [1, 2]


def test_mode_a_creates_then_keeps(opener):
    with opener("a") as s:
        s.write("d", payload(opener.kind))
    with opener("a") as s:
        s.append("d", payload(opener.kind, 2))
        assert values(opener.kind, s.read("d")) == [1, 2]


def test_mode_w_overwrites_existing(opener):
    seed(opener)
    with opener("w") as s:
        assert s.available() == []
        s.write("e", payload(opener.kind, 5))
    with opener("r") as s:
        assert s.available() == ["e"]


def test_mode_w_minus_creates_but_fails_if_exists(opener):
    with opener("w-") as s:
        s.write("d", payload(opener.kind))
    with pytest.raises(AlreadyExists) as info:
        opener("w-")
    assert isinstance(info.value, FileExistsError)
    with opener("r") as s:
        assert values(opener.kind, s.read("d")) == [1]


def test_unknown_mode_raises_value_error(tmp_path):
    for cls, fmt, name in LOCAL.values():
        with pytest.raises(InvalidArgument, match="unknown mode"):
            cls(str(tmp_path / name), mode="rw", disk_format=fmt)
        assert not os.path.exists(tmp_path / name)


def test_wrong_disk_format_for_store_raises(tmp_path):
    with pytest.raises(InvalidArgument):
        NumpyArrayStore(str(tmp_path / "a"), mode="a", disk_format=DiskFormat.PARQUET)
    with pytest.raises(InvalidArgument):
        PolarsTableStore(str(tmp_path / "t"), mode="a", disk_format=DiskFormat.EXCEL)


def test_remote_hdf5_refuses_write_modes(s3_root):
    with pytest.raises(ModeError):
        HDF5ArrayStore(s3_root + "/f.h5", mode="a")


def test_remote_zarr_uri_points_to_containers(memory_root):
    with pytest.raises(InvalidArgument, match="open_container"):
        ZarrArrayStore(memory_root + "/x.zarr", mode="a")


def test_partial_write_into_missing_array_raises_not_found(tmp_path):
    for cls, fmt, name in LOCAL.values():
        with cls(str(tmp_path / name), mode="a", disk_format=fmt) as s:
            with pytest.raises(NotFound):
                s.write("nope", payload("polars" if cls is PolarsTableStore else "numpy"), view=slice(0, 1))


def test_invalid_data_paths_are_refused(tmp_path):
    s = NumpyArrayStore(str(tmp_path / "a"), mode="a")
    for bad in ("../escape", "", "/"):
        with pytest.raises(InvalidArgument):
            s.write(bad, [1])
    assert not (tmp_path / "escape.npy").exists()


def test_hdf5_whole_write_failure_keeps_old_dataset(tmp_path, monkeypatch):
    import h5py

    s = HDF5ArrayStore(str(tmp_path / "f.h5"), mode="a")
    s.write("g/d", np.arange(3))
    original = h5py.Group.create_dataset

    def boom(self, name, *a, **k):
        original(self, name, *a, **k)
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(OSError):
        s.write("g/d", np.zeros(5))
    monkeypatch.undo()
    assert s.read("g/d").tolist() == [0, 1, 2] and s.available() == ["g/d"]
    s.close()
