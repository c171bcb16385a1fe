"""Zarr v3 and v2 stores as node trees, on local disk and in memory (S3 is in test_containers_s3.py)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import zarr

import storecore
from storecore.containers import detect_format, is_container, open_container
from storecore.errors import CorruptData, FormatError, InvalidArgument, NotFound, StorecoreError
from storecore.transfer import copy

ATTRS = {
    "int": 7,
    "float": 2.5,
    "str": "héllo",
    "true": True,
    "false": False,
    "null": None,
    "list": [1, "a", None, 2.5],
    "nested": {"a": {"b": [1.5, {"c": "d"}]}},
    "empty_list": [],
    "empty_dict": {},
}
SHAPES = {1: (7,), 2: (6, 5), 3: (4, 5, 3), 4: (3, 4, 2, 3), 5: (2, 3, 2, 2, 3)}
KINDS = ("int", "float", "bool", "complex", "string")


def sample(kind: str, ndim: int) -> np.ndarray:
    """Deterministic test data of one dtype family and dimensionality."""
    shape = SHAPES[ndim]
    n = int(np.prod(shape))
    rng = np.random.default_rng(ndim * 10 + KINDS.index(kind))
    if kind == "int":
        return (np.arange(n, dtype="i4") * 7 - 50).reshape(shape)
    if kind == "float":
        return rng.standard_normal(n).reshape(shape)
    if kind == "bool":
        return (rng.random(n) > 0.5).reshape(shape)
    if kind == "complex":
        return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype("c8").reshape(shape)
    return np.array([f"s{i}" * (i % 3 + 1) for i in range(n)]).reshape(shape)


def selections(ndim: int) -> list[tuple]:
    """Partial selections with ints, strides and negative indices/steps."""
    return [
        (),
        (-1,),
        (slice(None, None, 2),),
        (Ellipsis, slice(None, None, -1)),
        (slice(1, -1),),
        tuple(slice(-2, None) for _ in range(ndim)),
        tuple(slice(None, None, -2) for _ in range(ndim)),
        tuple(-1 if i % 2 else slice(0, None, 3) for i in range(ndim)),
        (0,) * ndim,
    ]


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    """Equal shapes and values (string arrays compared as Python lists)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    if want.dtype.kind in "UO" or got.dtype.kind in "UOT":
        assert got.dtype.kind in "UO"
        assert got.tolist() == want.tolist()
    else:
        np.testing.assert_array_equal(got, want)


def build_zarr(path: str, zarr_format: int = 3) -> None:
    """Nested groups, attributes of every JSON type and 1-D..5-D arrays of every dtype family."""
    import zarr

    root = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    root.attrs.update(ATTRS)
    deep = root.create_group("a").create_group("b").create_group("c")
    deep.attrs["depth"] = 3
    arrays = root.create_group("arrays")
    for kind in KINDS:
        for ndim in SHAPES:
            data = sample(kind, ndim)
            chunks = tuple(max(1, s // 2) for s in data.shape)
            kw = {} if ndim % 2 else {"compressors": None}  # odd: default (compressed), even: raw
            dtype = str if kind == "string" else data.dtype
            z = arrays.create_array(f"{kind}_{ndim}d", shape=data.shape, chunks=chunks, dtype=dtype, **kw)
            z[...] = data
    arrays[f"float_{3}d"].attrs.update({"units": "m", "scale": [1.0, 2.0]})


@pytest.fixture(scope="module")
def zarr_v3(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("zv3") / "tree.zarr")
    build_zarr(path, 3)
    return path


@pytest.fixture(scope="module")
def zarr_v2(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("zv2") / "tree.zarr")
    build_zarr(path, 2)
    return path


@pytest.fixture(params=["local", "memory"])
def where(request, memory_root):
    """Place a local store where the test runs: in place, or copied to a memory store."""

    def place(path: str) -> str:
        if request.param == "local":
            return path
        dst = f"{memory_root}/{os.path.basename(path)}"
        copy(path, dst)
        return dst

    return place


@pytest.mark.parametrize("version", [3, 2])
def test_tree_is_listed_level_by_level(where, zarr_v3, zarr_v2, version):
    uri = where(zarr_v3 if version == 3 else zarr_v2)
    root = open_container(uri)
    try:
        assert root.kind == "group" and root.path == "/" and root.name == "tree.zarr"
        assert root.uri == f"{uri}::/"
        assert [c.name for c in root.children()] == ["a", "arrays"]
        a = root.child("a")
        assert [c.path for c in a.children()] == ["/a/b"]
        c = root.get("/a/b/c")
        assert c.kind == "group" and c.attrs == {"depth": 3}
        assert list(c.children()) == []
        assert c.parent().path == "/a/b"
        assert root.get("a/b").get("c") == c  # relative paths
        assert root["a"]["b/c"].path == "/a/b/c"
        names = [n.name for n in root["arrays"].children()]
        assert len(names) == len(KINDS) * len(SHAPES) and "string_5d" in names
        assert root.lazy().metadata.zarr_format == version
    finally:
        root.close()


@pytest.mark.parametrize("version", [3, 2])
def test_attributes_of_every_json_type(where, zarr_v3, zarr_v2, version):
    with open_container(where(zarr_v3 if version == 3 else zarr_v2)) as root:
        assert root.attrs == ATTRS
        assert json.loads(json.dumps(root.attrs)) == ATTRS
        assert root.get("/arrays/float_3d").attrs == {"units": "m", "scale": [1.0, 2.0]}


@pytest.mark.parametrize("kind", KINDS)
def test_arrays_read_like_numpy(where, zarr_v3, kind):
    with open_container(where(zarr_v3)) as root:
        for ndim in SHAPES:
            want = sample(kind, ndim)
            node = root.get(f"/arrays/{kind}_{ndim}d")
            assert node.kind == "array"
            assert node.shape == want.shape and node.ndim == ndim
            assert node.chunks == tuple(max(1, s // 2) for s in want.shape)
            if kind != "string":
                assert node.dtype == want.dtype
                assert node.nbytes == want.nbytes
            for sel in selections(ndim):
                assert_same(node[sel], want[sel])
                assert_same(storecore.read_slice(node, sel), want[sel])


def test_v2_arrays_and_codecs(where, zarr_v2):
    with open_container(where(zarr_v2)) as root:
        for kind in ("int", "float", "complex", "string"):
            node = root[f"arrays/{kind}_3d"]
            for sel in selections(3):
                assert_same(node[sel], sample(kind, 3)[sel])
        assert root["arrays/float_3d"].compressor.startswith(("blosc", "zstd"))
        assert root["arrays/float_2d"].compressor is None


def test_compressed_and_raw_metadata(where, zarr_v3):
    with open_container(where(zarr_v3)) as root:
        packed, raw = root["arrays/int_3d"], root["arrays/int_2d"]
        assert packed.compressor == "zstd(0)" and raw.compressor is None
        assert packed.filters == [] and raw.filters == []
        assert packed.fill_value == 0 and isinstance(packed.fill_value, int)
        assert raw.stored_nbytes == raw.nbytes + 0 or raw.stored_nbytes >= raw.nbytes
        assert 0 < packed.stored_nbytes
        info = packed.info()
        assert info["shape"] == [4, 5, 3] and info["dtype"] == "int32" and json.dumps(info)
        import zarr

        assert isinstance(packed.lazy(), zarr.Array)


def test_missing_paths_raise_notfound(where, zarr_v3, tmp_path):
    with open_container(where(zarr_v3)) as root:
        with pytest.raises(NotFound) as e:
            root.get("/arrays/nope")
        assert "nope" in str(e.value)
        with pytest.raises(NotFound):
            root.child("zzz")
        with pytest.raises(NotFound):
            root.get("/arrays/int_1d/below")
        with pytest.raises(InvalidArgument):
            root.read_slice((0,))  # a group has no data
        arr = root["arrays/int_2d"]
        with pytest.raises(InvalidArgument):
            arr[99]
        with pytest.raises(InvalidArgument):
            arr[0, 0, 0]
    uri = where(zarr_v3)
    with pytest.raises(NotFound):
        open_container(f"{uri}::/no/such/node")
    with pytest.raises(NotFound):
        open_container(str(tmp_path / "missing.zarr"))
    (tmp_path / "plain.zarr").mkdir()
    with pytest.raises(FormatError):
        open_container(str(tmp_path / "plain.zarr"))


def test_inner_path_in_uri(where, zarr_v3):
    uri = where(zarr_v3)
    node = open_container(f"{uri}::/arrays/float_2d")
    try:
        assert node.path == "/arrays/float_2d" and node.uri == f"{uri}::/arrays/float_2d"
        assert_same(node[::-1, 1], sample("float", 2)[::-1, 1])
    finally:
        node.close()


def test_corrupt_metadata_and_chunks(tmp_path):
    import zarr

    path = tmp_path / "bad.zarr"
    g = zarr.open_group(str(path), mode="w")
    z = g.create_array("x", shape=(8,), chunks=(4,), dtype="f4")
    z[:] = np.arange(8)
    g.create_array("y", shape=(2,), dtype="i1")
    # A truncated chunk: the codec pipeline fails; storecore names the node.
    chunk = path / "x" / "c" / "0"
    chunk.write_bytes(chunk.read_bytes()[:5])
    with open_container(str(path)) as root:
        with pytest.raises(CorruptData) as e:
            root["x"][:]
        assert "bad.zarr::/x" in str(e.value)
        assert isinstance(e.value, StorecoreError)
        assert root["x"][4:].tolist() == [4, 5, 6, 7]  # intact chunks still read
    # Broken member metadata: shown as broken, siblings still listed.
    (path / "y" / "zarr.json").write_text("{not json")
    with open_container(str(path)) as root:
        kids = {c.name: c for c in root.children()}
        assert kids["x"].kind == "array"
        assert kids["y"].broken and kids["y"].kind == "link"
        with pytest.raises(CorruptData):
            root.get("/y")
    (path / "zarr.json").write_text("{truncated")
    with pytest.raises(CorruptData) as e:
        open_container(str(path))
    assert "bad.zarr" in str(e.value)


def test_detection_by_name_and_markers(tmp_path, zarr_v2):
    assert is_container("/x/scan.zarr") and is_container("s3://bkt/run.H5") and is_container("a.nc")
    assert is_container("f.he5") and is_container("g.hdf5") and is_container("/d/s.zarr::/a/b")
    assert not is_container("/x/data.npy") and not is_container("folder")
    plain = tmp_path / "store"
    copy(zarr_v2, str(plain))
    assert not is_container(str(plain))
    assert is_container(str(plain), probe=True)
    assert detect_format(str(plain)) == "zarr"
    with open_container(str(plain)) as root:
        assert root["arrays/int_1d"][-1] == sample("int", 1)[-1]
    assert detect_format(str(tmp_path)) is None


def test_multiscales(tmp_path, memory_root):
    import zarr

    path = str(tmp_path / "ome.zarr")
    g = zarr.open_group(path, mode="w")
    for i, n in enumerate((64, 32, 16)):
        g.create_array(str(i), shape=(n, n), dtype="u2")[:] = i
    g.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}, {"path": "1"}, {"path": "2"}]}]
    dst = f"{memory_root}/ome.zarr"
    copy(path, dst)
    for uri in (path, dst):
        with open_container(uri) as root:
            levels = root.multiscales()
            assert [lv.shape for lv in levels] == [(64, 64), (32, 32), (16, 16)]
            assert levels[2][0, 0] == 2
            assert root["0"].multiscales() == []


def test_bytes_read_are_counted_per_chunk(where, tmp_path):
    import zarr

    path = str(tmp_path / "count.zarr")
    z = zarr.create_array(path, shape=(40, 40), chunks=(10, 10), dtype="f8", compressors=None)
    z[:] = np.arange(1600.0).reshape(40, 40)
    with open_container(where(path)) as node:
        before = node.container.bytes_read
        assert node[5, 3:17].tolist() == list(np.arange(1600.0).reshape(40, 40)[5, 3:17])
        # Two raw 800-byte chunks, nothing else.
        assert node.container.bytes_read - before == 2 * 800


# -- writing (both formats; S3 in test_containers_s3.py) ----------------------------------------
@pytest.fixture(params=["zarr-local", "h5-local", "zarr-memory", "h5-memory"])
def new_container(request, local_root, memory_root):
    """URI of a not-yet-existing container (.zarr or .h5) on local disk or in memory."""
    ext, where = request.param.split("-")
    return f"{local_root if where == 'local' else memory_root}/sub/new.{ext}"


def test_write_arrays_of_every_kind(new_container):
    from storecore.containers import write_array

    for kind in KINDS:
        for ndim in (1, 3, 5):
            data = sample(kind, ndim)
            uri = f"{new_container}::/g/{kind}/{ndim}d"
            compressor = None if ndim == 3 else "default"
            assert write_array(uri, data, compressor=compressor) == uri
    with open_container(new_container) as root:
        assert [c.name for c in root["g"].children()] == sorted(KINDS)
        for kind in KINDS:
            for ndim in (1, 3, 5):
                node = root[f"g/{kind}/{ndim}d"]
                if not (kind == "string" and new_container.endswith(".h5")):  # HDF5 vlen strings: never compressed
                    assert (node.compressor is None) == (ndim == 3)
                assert_same(node[...], sample(kind, ndim))
                assert_same(node[::-1], sample(kind, ndim)[::-1])


def test_write_overwrite_region_and_errors(new_container):
    from storecore.containers import create_group, write_array
    from storecore.errors import AlreadyExists, ShapeMismatch

    uri = f"{new_container}::/data"
    write_array(uri, np.arange(20.0).reshape(4, 5), chunks=(2, 5), attrs={"units": "m"})
    with open_container(new_container) as root:
        assert root["data"].chunks == (2, 5) and root["data"].attrs == {"units": "m"}
    with pytest.raises(AlreadyExists):
        write_array(uri, np.zeros(3))
    with pytest.raises(ShapeMismatch):
        write_array(uri, np.zeros((2, 2)), region=(slice(0, 2),))
    with pytest.raises(NotFound):
        write_array(f"{new_container}::/nothing", np.zeros(2), region=(slice(0, 2),))
    with pytest.raises(InvalidArgument):
        write_array(new_container, np.zeros(2))  # no inner path
    with pytest.raises(InvalidArgument):
        write_array(f"{new_container}::/objs", np.array([object(), 1], dtype=object))
    with pytest.raises(InvalidArgument):
        write_array(f"{new_container}::/x", np.zeros(3), attrs={"bad": object()})
    with pytest.raises(AlreadyExists):
        create_group(uri)
    with open_container(new_container) as root:  # the failures changed nothing
        assert [c.name for c in root.children()] == ["data"]
        assert root["data"][:].tolist() == np.arange(20.0).reshape(4, 5).tolist()
    write_array(uri, np.full(5, 7.0), region=(-1,))
    write_array(uri, 0.5, region=(0, slice(None, None, 2)))  # broadcast
    with open_container(new_container) as root:
        got = root["data"][:]
        assert got[-1].tolist() == [7.0] * 5 and got[0].tolist() == [0.5, 1.0, 0.5, 3.0, 0.5]
    write_array(uri, np.ones(2, dtype="i2"), overwrite=True)
    with open_container(new_container) as root:
        assert root["data"].shape == (2,) and root["data"].dtype == np.dtype("i2")


def test_write_groups_tables_and_attrs(new_container, tmp_path):
    import polars as pl

    from storecore.containers import create_group, set_attrs, write_array

    assert create_group(f"{new_container}::/a/b") == f"{new_container}::/a/b"
    create_group(f"{new_container}::/a/b", attrs={"kept": 1})  # existing group: fine
    table = pl.DataFrame({"id": [1, 2, 3], "score": [0.5, None, 2.0], "name": ["x", None, "z"], "ok": [True, False, True]})
    write_array(f"{new_container}::/a/table", table)
    # Dropping an .npy onto a group writes it as an array there.
    np.save(tmp_path / "dropped.npy", np.eye(3))
    write_array(f"{new_container}::/a/b/dropped", np.load(tmp_path / "dropped.npy"))
    json_attrs = {"int": 1, "float": 0.25, "str": "s", "bool": False, "list": [1, 2], "strs": ["p", "q"]}
    set_attrs(f"{new_container}::/a", json_attrs)
    set_attrs(f"{new_container}::/", {"root": "yes"})
    with pytest.raises(NotFound):
        set_attrs(f"{new_container}::/missing", {"a": 1})
    with pytest.raises(InvalidArgument):
        set_attrs(f"{new_container}::/a", {"bad": {1, 2}.__iter__()})
    with open_container(new_container) as root:
        assert root.attrs == {"root": "yes"}
        assert root["a"].attrs == json_attrs
        assert root["a/b"].attrs == {"kept": 1}
        t = root["a/table"]
        assert t.attrs["columns"] == ["id", "score", "name", "ok"]
        assert t["id"][:].tolist() == [1, 2, 3]
        assert np.isnan(t["score"][1]) and t["score"][2] == 2.0
        assert t["name"][:].tolist() == ["x", "", "z"] and t["ok"][:].tolist() == [True, False, True]
        assert root["a/b/dropped"][:].tolist() == np.eye(3).tolist()
    set_attrs(f"{new_container}::/a", {"only": "this"}, replace=True)
    with open_container(new_container) as root:
        assert root["a"].attrs == {"only": "this"}


def _stale_store(path, fmt: int) -> None:
    """A store consolidated, then changed: ``gone`` deleted, ``late`` added, a plain folder ``notes`` beside."""
    import shutil

    g = zarr.open_group(str(path), mode="w", zarr_format=fmt)
    g.create_array("a", shape=(4,), dtype="i4")[:] = np.arange(4)
    g.create_array("gone", shape=(4,), dtype="i4")[:] = 7
    sub = g.create_group("sub")
    sub.create_array("inner", shape=(2,), dtype="f8")[:] = [1.5, 2.5]
    zarr.consolidate_metadata(str(path))
    shutil.rmtree(path / "gone")
    zarr.create_array(store=str(path / "late"), shape=(2,), dtype="i4", zarr_format=fmt)[:] = [9, 9]
    (path / "notes").mkdir()
    (path / "notes" / "readme.txt").write_text("not zarr")


@pytest.mark.filterwarnings("ignore:Object at notes is not recognized:UserWarning")  # zarr's, on the plain folder
@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("where", ["local", "s3"])
def test_stale_consolidated_metadata_lists_and_reads_what_is_stored(request, tmp_path, fmt, where):
    """Consolidated metadata that no longer matches the store (a member deleted, one added since): the listing is
    zarr's own without it, the added array reads, the deleted one is not found (never read as fill values)."""
    import warnings

    store = tmp_path / f"stale{fmt}.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr warns that consolidated metadata is not in the v3 spec
        _stale_store(store, fmt)
        oracle = zarr.open_group(str(store), mode="r", use_consolidated=False)
        expected = sorted(oracle.keys())
    uri = str(store)
    if where == "s3":
        uri = f"{request.getfixturevalue('s3_root')}/stale{fmt}.zarr"
        copy(str(store), uri)
    assert expected == ["a", "late", "sub"]
    with open_container(uri) as root:
        assert [c.name for c in root.children()] == expected
        assert [c.name for c in root.container.node("/sub").children()] == ["inner"]
    with open_container(f"{uri}::/late") as late:
        np.testing.assert_array_equal(late.read_slice(()), [9, 9])
    with pytest.raises(NotFound, match=r"::/gone: listed in the store's consolidated metadata, but its own metadata "
                                       r"is gone"):
        open_container(f"{uri}::/gone")


@pytest.mark.parametrize("fmt", [2, 3])
def test_fresh_consolidated_metadata_is_kept(tmp_path, fmt):
    """A store whose consolidated metadata matches its folders (a plain folder beside them does not count) keeps
    reading members from it."""
    import warnings

    store = tmp_path / f"fresh{fmt}.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = zarr.open_group(str(store), mode="w", zarr_format=fmt)
        g.create_array("a", shape=(3,), dtype="i2")[:] = [1, 2, 3]
        g.create_group("g").create_array("b", shape=(1,), dtype="u1")[:] = [5]
        zarr.consolidate_metadata(str(store))
    (store / "notes").mkdir()
    with open_container(str(store)) as root:
        assert root.container.consolidated
        assert [c.name for c in root.children()] == ["a", "g"]
        assert [c.name for c in root.container.node("/g").children()] == ["b"]
        assert root.container.consolidated  # nothing stale: still one document for the whole store
        np.testing.assert_array_equal(root.container.node("/a").read_slice(()), [1, 2, 3])
