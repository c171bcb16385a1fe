"""The atomea Store document (atomea-store.txt), section by section, for every concrete store.

Test names: atomea_store_<section>_<what>.  Array stores run on local disk
(and NumPy / Polars stores also on memory and S3 where the section applies).
"""

from __future__ import annotations

import os

import h5py
import numpy as np
import polars as pl
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import storecore
from storecore import DiskFormat, HDF5ArrayStore, NumpyArrayStore, PolarsTableStore, Store, ZarrArrayStore
from storecore.apis.store import RemoteNpyArray, StoreKind
from storecore.errors import ShapeMismatch

ARRAY_STORES = {
    "numpy": (NumpyArrayStore, DiskFormat.NPY, "arrays"),
    "zarr": (ZarrArrayStore, DiskFormat.ZARR, "arrays.zarr"),
    "hdf5": (HDF5ArrayStore, DiskFormat.HDF5, "arrays.h5"),
}


@pytest.fixture(params=sorted(ARRAY_STORES))
def array_store(request, tmp_path):
    cls, fmt, name = ARRAY_STORES[request.param]
    path = str(tmp_path / name)

    def make(mode="a"):
        return cls(path, mode=mode, disk_format=fmt)

    make.kind = request.param
    make.path = path
    return make


def test_atomea_store_core_signature_and_attributes(tmp_path):
    s = NumpyArrayStore(tmp_path / "a", mode="a", disk_format=DiskFormat.NPY)
    assert isinstance(s, Store)
    assert s.mode == "a" and s.disk_format is DiskFormat.NPY and s.path == tmp_path / "a"
    assert s.kind is StoreKind.ARRAY and PolarsTableStore(tmp_path / "t", mode="a").kind is StoreKind.TABLE
    with pytest.raises(TypeError):
        Store()  # abstract


def test_atomea_store_disk_format_none_is_in_memory_and_path_unchecked(tmp_path):
    for cls in (NumpyArrayStore, ZarrArrayStore, HDF5ArrayStore):
        s = cls(str(tmp_path / "never-created"), mode="r+", disk_format=DiskFormat.NONE)
        s.write("x", np.arange(3))
        s.append("x", [3, 4])
        assert s.read("x").tolist() == [0, 1, 2, 3, 4] and s.available() == ["x"]
        with pytest.raises(ShapeMismatch):
            s.append("x", np.zeros((1, 2)))
    t = PolarsTableStore(str(tmp_path / "never"), mode="a", disk_format=DiskFormat.NONE)
    t.write("t", {"a": [1]})
    t.append("t", {"a": [2]})
    assert t.read("t")["a"].to_list() == [1, 2]
    assert not (tmp_path / "never-created").exists() and not (tmp_path / "never").exists()


def test_atomea_store_write_whole_and_partial_view(array_store):
    s = array_store()
    s.write("grp/coords", np.zeros((4, 3)))
    s.write("grp/coords", np.ones((2, 3)), view=slice(1, 3))
    s.write("grp/coords", 7.0, view=(3, 2))
    out = s.read("grp/coords")
    assert out[1:3].sum() == 6 and out[0].sum() == 0 and out[3, 2] == 7
    s.write("grp/coords", np.arange(5))  # a whole write replaces (new shape)
    assert s.read("grp/coords").tolist() == [0, 1, 2, 3, 4]
    s.close()


def test_atomea_store_read_is_in_memory_and_view_sliced(array_store):
    s = array_store()
    data = np.arange(60).reshape(10, 6)
    s.write("d", data)
    out = s.read("d", view=(slice(2, 5), slice(None, None, 2)))
    assert isinstance(out, np.ndarray) and type(out) is np.ndarray
    np.testing.assert_array_equal(out, data[2:5, ::2])
    assert s.read("missing") is None
    s.close()


def test_atomea_store_get_is_a_lazy_reference(array_store):
    s = array_store()
    s.write("d", np.arange(10))
    ref = s.get("d")
    expected = {"numpy": np.memmap, "zarr": zarr.Array, "hdf5": h5py.Dataset}[array_store.kind]
    assert isinstance(ref, expected)
    assert ref.shape == (10,) and ref[3] == 3
    assert s.get("missing") is None
    s.close()


def test_atomea_store_append_arrays_along_first_axis(array_store):
    s = array_store()
    s.append("frames", np.zeros((2, 3)))  # creates
    s.append("frames", np.ones((3, 3)))
    assert s.read("frames").shape == (5, 3) and s.read("frames")[2:].min() == 1
    with pytest.raises(ShapeMismatch) as info:
        s.append("frames", np.ones((1, 4)))
    assert "(1, 4)" in str(info.value) and "(5, 3)" in str(info.value)
    assert s.read("frames").shape == (5, 3)
    s.close()


def test_atomea_store_available_lists_paths(array_store):
    s = array_store()
    for name in ("b", "a/x", "a/y/z"):
        s.write(name, [1])
    assert s.available() == ["a/x", "a/y/z", "b"]
    assert "a/x" in s and "nope" not in s
    s.close()


def test_atomea_store_flush_persists_for_a_new_reader(array_store):
    s = array_store()
    s.write("d", np.arange(4))
    s.append("d", [4])
    s.flush()
    s.close()
    r = array_store("r")
    assert r.read("d").tolist() == [0, 1, 2, 3, 4]
    r.close()


def test_atomea_store_context_manager(array_store):
    with array_store("w") as s:
        s.write("d", [1, 2])
    with array_store("r") as r:
        assert r.read("d").tolist() == [1, 2]


def test_atomea_store_zarr_store_object_as_path():
    mem = zarr.storage.MemoryStore()
    s = ZarrArrayStore(mem, mode="w", disk_format=DiskFormat.ZARR)
    s.write("a/b", np.arange(6))
    assert zarr.open_array(mem, path="a/b")[...].tolist() == list(range(6))
    assert s.available() == ["a/b"]


def test_atomea_store_zarr_output_is_plain_zarr(tmp_path):
    s = ZarrArrayStore(str(tmp_path / "x.zarr"), mode="w-")
    s.write("g/a", np.arange(4), chunks=(2,))
    z = zarr.open_array(zarr.storage.LocalStore(str(tmp_path / "x.zarr")), path="g/a")
    assert z.chunks == (2,) and z[...].tolist() == [0, 1, 2, 3]


# -- tables ------------------------------------------------------------------------
@pytest.fixture
def table_root(any_root):
    return any_root + "/tables" if "://" in any_root else os.path.join(any_root, "tables")


def test_atomea_store_tables_write_read_views(table_root):
    t = PolarsTableStore(table_root, mode="a")
    df = pl.DataFrame({"ensemble_id": ["a", "a", "b"], "microstate_id": [0, 1, 0], "energy": [1.5, 2.5, 3.5]})
    t.write("energies", df)
    assert t.read("energies").equals(df)
    assert t.read("energies", view=slice(1, 3)).equals(df.slice(1, 2))
    series = t.read("energies", column_name="energy")
    assert isinstance(series, pl.Series) and series.to_list() == [1.5, 2.5, 3.5]
    assert t.read("energies", view="energy").to_list() == [1.5, 2.5, 3.5]
    assert t.read("energies", view=(slice(0, 1), ["energy"])).to_dicts() == [{"energy": 1.5}]
    assert t.read("energies", filters=pl.col("ensemble_id") == "b")["energy"].to_list() == [3.5]
    assert t.read("missing") is None


def test_atomea_store_tables_get_is_lazyframe(table_root):
    t = PolarsTableStore(table_root, mode="a")
    t.write("t", pl.DataFrame({"x": [1, 2, 3]}))
    lf = t.get("t")
    assert isinstance(lf, pl.LazyFrame)
    assert lf.filter(pl.col("x") > 1).collect()["x"].to_list() == [2, 3]
    assert t.get("missing") is None


def test_atomea_store_tables_append_rows_and_schema_mismatch(table_root):
    t = PolarsTableStore(table_root, mode="a")
    t.append("t", {"x": [1], "y": ["a"]})
    t.append("t", pl.DataFrame({"x": [2], "y": ["b"]}))
    assert t.read("t").to_dicts() == [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}]
    with pytest.raises(ShapeMismatch) as info:
        t.append("t", pl.DataFrame({"x": [3.0]}))
    assert "'y'" in str(info.value) and "Float64" in str(info.value) and "Int64" in str(info.value)
    assert t.read("t").height == 2
    assert t.available() == ["t"]


def test_atomea_store_tables_write_view_updates_rows_and_columns(table_root):
    t = PolarsTableStore(table_root, mode="a")
    t.write("t", pl.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]}))
    t.write("t", pl.DataFrame({"x": [20], "y": ["B"]}), view=slice(1, 2))
    t.write("t", pl.Series([0.5, 0.6, 0.7]), view="z")
    assert t.read("t").to_dicts() == [
        {"x": 1, "y": "a", "z": 0.5},
        {"x": 20, "y": "B", "z": 0.6},
        {"x": 3, "y": "c", "z": 0.7},
    ]


@pytest.mark.parametrize("fmt", [DiskFormat.CSV, DiskFormat.IPC, DiskFormat.JSON, DiskFormat.PARQUET])
def test_atomea_store_tables_disk_formats(table_root, fmt):
    t = PolarsTableStore(table_root, mode="w", disk_format=fmt)
    t.write("a", pl.DataFrame({"x": [1, 2]}))
    t.append("a", pl.DataFrame({"x": [3]}))
    assert t.read("a")["x"].to_list() == [1, 2, 3]
    assert isinstance(t.get("a"), pl.LazyFrame) and t.available() == ["a"]
    assert t.read("a", view=slice(1, 3))["x"].to_list() == [2, 3]


# -- remote arrays -------------------------------------------------------------------
def test_atomea_store_numpy_on_remote_backends(any_root):
    s = NumpyArrayStore(any_root + "/arr" if "://" in any_root else os.path.join(any_root, "arr"), mode="a")
    data = np.arange(1000, dtype="float64").reshape(100, 10)
    s.write("a/d", data)
    s.append("a/d", np.ones((5, 10)))
    s.write("a/d", np.zeros((1, 10)), view=slice(0, 1))
    assert s.available() == ["a/d"]
    ref = s.get("a/d")
    assert ref.shape == (105, 10)
    np.testing.assert_array_equal(s.read("a/d", view=(slice(10, 12), 3)), data[10:12, 3])
    assert s.read("a/d")[0].sum() == 0 and s.read("a/d")[100:].sum() == 50


def test_atomea_store_numpy_remote_read_fetches_only_the_slice(memory_root):
    s = NumpyArrayStore(memory_root + "/arr", mode="a")
    s.write("big", np.zeros((10_000, 100)))  # 8 MB
    ref = s.get("big")
    assert isinstance(ref, RemoteNpyArray)
    fetched = []
    original = ref.backend.read_bytes
    ref.backend = type("Counting", (), {"read_bytes": lambda self, k, a=None, b=None: fetched.append(b - a) or original(k, a, b)})()
    assert ref[5:7].shape == (2, 100)
    assert sum(fetched) == 2 * 100 * 8


def test_atomea_store_hdf5_remote_read_only(any_root, tmp_path):
    local = tmp_path / "f.h5"
    with h5py.File(local, "w") as f:
        f["g/d"] = np.arange(20).reshape(4, 5)
    uri = (any_root + "/f.h5") if "://" in any_root else os.path.join(any_root, "f.h5")
    storecore.transfer.copy(str(local), uri)
    with HDF5ArrayStore(uri, mode="r") as s:
        assert s.available() == ["g/d"]
        assert s.read("g/d", view=(1, slice(0, 2))).tolist() == [5, 6]


@settings(max_examples=10, deadline=None)
@given(arr=hnp.arrays(dtype=st.sampled_from(["int8", "uint16", "float32", "float64", "bool"]), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)))
def test_atomea_store_round_trip_property(tmp_path_factory, arr):
    d = tmp_path_factory.mktemp("rt")
    for cls, fmt, name in ARRAY_STORES.values():
        with cls(str(d / name), mode="a", disk_format=fmt) as s:
            s.write("x", arr)
            out = s.read("x")
            assert out.dtype == arr.dtype and out.shape == arr.shape, cls.__name__
            np.testing.assert_array_equal(out, arr)


@settings(max_examples=10, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(-(2**40), 2**40), st.text(max_size=5), st.floats(allow_nan=False)), max_size=6))
def test_atomea_store_table_round_trip_property(tmp_path_factory, rows):
    d = tmp_path_factory.mktemp("tt")
    df = pl.DataFrame(rows, schema={"i": pl.Int64, "s": pl.String, "f": pl.Float64}, orient="row")
    for fmt in (DiskFormat.PARQUET, DiskFormat.IPC):
        t = PolarsTableStore(str(d / fmt.name), mode="a", disk_format=fmt)
        t.write("t", df)
        assert t.read("t").equals(df)
