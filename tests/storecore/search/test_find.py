"""storecore.find over a 300-item tree (240 plain files, 40 HDF5 files, 20 Zarr stores) on disk, S3 and memory."""

from __future__ import annotations

import concurrent.futures as cf
import os
import time

import numpy as np
import pytest

import storecore
from storecore.errors import InvalidArgument, NotFound
from storecore.search import FindStats, clear_listing_cache, find, listing_cache, parse_shape

EXTS = ("txt", "csv", "bin", "json")
OLD = 946684800.0  # 2000-01-01: the mtime given to some local files


def plain_files() -> dict[str, bytes]:
    """240 plain files in set*/raw and set*/proc folders; file i holds 10+i bytes."""
    return {f"set{i % 6}/{'raw' if i % 2 else 'proc'}/file_{i:03d}.{EXTS[i % 4]}": b"x" * (10 + i) for i in range(240)}


def h5_spec(j: int) -> dict:
    return {
        "path": f"set{j % 6}/h5/run_{j:02d}.h5",
        "attrs": {"sample": f"LK-{j}", "operator": "alice" if j % 2 else "bob", "exposure": 0.5 * (j % 4)},
        "shape": (j % 3 + 1, 16, 16),
        "dtype": np.dtype("float32") if j % 2 else np.dtype("uint16"),
    }


def zarr_spec(k: int) -> dict:
    return {"path": f"set{k % 6}/zarr/store_{k:02d}.zarr", "attrs": {"sample": f"ZK-{k}", "operator": "carol"}, "shape": (k % 2 + 1, 8, 32), "level": k}


def build_tree(root: str) -> None:
    """Write the tree under the local folder ``root``."""
    import h5py
    import zarr

    for rel, data in plain_files().items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
    for j in range(40):
        s = h5_spec(j)
        full = os.path.join(root, s["path"])
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with h5py.File(full, "w") as f:
            f.attrs.update(s["attrs"])
            ds = f.create_group("entry").create_dataset("data", data=np.full(s["shape"], j, s["dtype"]))
            ds.attrs["units"] = "counts"
            f.create_dataset("mask", data=np.ones((16, 16), bool))
    for k in range(20):
        s = zarr_spec(k)
        g = zarr.open_group(os.path.join(root, s["path"]), mode="w")
        g.attrs.update(s["attrs"])
        a = g.create_array("img", shape=s["shape"], chunks=(1, 8, 32), dtype="int16")
        a[:] = k
        g.create_group("meta").attrs["level"] = k


def upload(local: str, dest: str) -> None:
    """Copy the local tree to ``dest`` (S3/memory): ``dest`` becomes the copy, as ``cp -r``."""
    import storecore.transfer

    storecore.transfer.copy(local, dest)


@pytest.fixture(scope="module")
def local_tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("findtree") / "tree")
    build_tree(root)
    for i in range(0, 240, 3):  # every third plain file is old
        rel = f"set{i % 6}/{'raw' if i % 2 else 'proc'}/file_{i:03d}.{EXTS[i % 4]}"
        os.utime(os.path.join(root, rel), (OLD, OLD))
    return root


@pytest.fixture(scope="module")
def s3_tree(local_tree, s3_server, s3_scheme):
    root = f"{s3_scheme}://{s3_server.new_bucket()}/data"
    upload(local_tree, root)
    return root


@pytest.fixture(scope="module")
def memory_tree(local_tree):
    from storecore.backends.memory import InMemoryBackend

    upload(local_tree, "memory://findtree/data")
    yield "memory://findtree/data"
    InMemoryBackend.drop("findtree")


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3), "memory"])
def tree(request):
    return request.getfixturevalue(f"{request.param}_tree")


def paths(root: str, **kw) -> set[str]:
    """Relative paths of the matches (inner parts joined by '/'), checked against the URIs."""
    out = set()
    for m in find(root, **kw):
        assert m.uri.startswith(root.rstrip("/") + "/")
        out.add(m.path)
    return out


# -- the expected sets, computed from the specification of the tree ------------------------
def dirs() -> set[str]:
    out = set()
    for rel in [*plain_files(), *(h5_spec(j)["path"] for j in range(40)), *(zarr_spec(k)["path"] for k in range(20))]:
        parts = rel.split("/")
        out.update("/".join(parts[: i + 1]) for i in range(len(parts) - 1))
    return out | {zarr_spec(k)["path"] for k in range(20)}


H5 = {h5_spec(j)["path"] for j in range(40)}
ZARR = {zarr_spec(k)["path"] for k in range(20)}


def test_tree_has_300_items(local_tree):
    assert len(plain_files()) + len(H5) + len(ZARR) == 300
    assert paths(local_tree, kind="file") == set(plain_files()) | H5


def test_name_glob(tree):
    assert paths(tree, name="*.h5") == H5
    assert paths(tree, name="file_00?.txt") == {f"set{i % 6}/{'raw' if i % 2 else 'proc'}/file_{i:03d}.txt" for i in (0, 4, 8)}
    assert paths(tree, name=["*.zarr", "run_07.h5"]) == ZARR | {h5_spec(7)["path"]}
    # root groups are named "/" (path "x.h5/"), so container globs give the files and stores only
    assert {m.kind for m in find(tree, name=["*.h5", "*.zarr"])} == {"file", "dir"}
    assert {m.kind for m in find(tree, path="*/run_07.h5/")} == {"group"}


def test_path_glob(tree):
    assert paths(tree, path="set1/raw/*") == {p for p in plain_files() if p.startswith("set1/raw/")}
    assert paths(tree, path="*/entry/data") == {f"{p}/entry/data" for p in H5}


def test_kind(tree):
    assert paths(tree, kind="dir") == dirs()
    groups = {f"{p}" for p in H5 | ZARR} | {f"{p}/entry" for p in H5} | {f"{p}/meta" for p in ZARR}
    assert paths(tree, kind="group") == groups
    arrays = {f"{p}/entry/data" for p in H5} | {f"{p}/mask" for p in H5} | {f"{p}/img" for p in ZARR}
    assert paths(tree, kind="array") == arrays


def test_sizes(tree):
    files = plain_files()
    assert paths(tree, kind="file", min_size=200, max_size=220) == {p for p, d in files.items() if 200 <= len(d) <= 220}
    # arrays are sized by their uncompressed bytes: (3, 16, 16) float32 = 3072
    assert paths(tree, kind="array", min_size="3k") == {h5_spec(j)["path"] + "/entry/data" for j in range(40) if j % 6 == 5}


def test_shape_and_dtype(tree):
    data = {j: h5_spec(j)["path"] + "/entry/data" for j in range(40)}
    assert paths(tree, shape=(None, 16, 16)) == set(data.values())
    masks = {h5_spec(j)["path"] + "/mask" for j in range(40)}
    assert paths(tree, shape=(..., 16, 16)) == set(data.values()) | masks
    assert paths(tree, shape="(2, *, *)") == {data[j] for j in range(40) if j % 3 == 1} | {
        zarr_spec(k)["path"] + "/img" for k in range(20) if k % 2
    }
    assert paths(tree, dtype="float32") == {data[j] for j in range(40) if j % 2}
    assert paths(tree, dtype="int*") == {zarr_spec(k)["path"] + "/img" for k in range(20)}
    assert paths(tree, dtype=bool) == masks


def test_attrs(tree):
    assert paths(tree, attrs={"sample": "LK-17"}) == {h5_spec(17)["path"]}
    assert paths(tree, attrs={"sample": "LK-1?"}) == {h5_spec(j)["path"] for j in range(10, 20)}
    assert paths(tree, attrs={"exposure": 1.5}) == {h5_spec(j)["path"] for j in range(40) if j % 4 == 3}
    assert paths(tree, attrs={"level": lambda v: v >= 15}) == {zarr_spec(k)["path"] + "/meta" for k in range(15, 20)}
    assert paths(tree, attrs={"units": ...}) == {h5_spec(j)["path"] + "/entry/data" for j in range(40)}
    matches = list(find(tree, attrs={"sample": "ZK-3", "operator": "carol"}))
    assert [m.attrs for m in matches] == [{"sample": "ZK-3", "operator": "carol"}]
    assert matches[0].kind == "group" and matches[0].uri.endswith("store_03.zarr::/")


def test_combined(tree):
    got = paths(tree, name="data", shape=(..., 16, 16), attrs={"units": "counts"}, dtype="uint16", path="set2/*")
    assert got == {h5_spec(j)["path"] + "/entry/data" for j in range(40) if j % 2 == 0 and j % 6 == 2}
    assert paths(tree, kind="file", name="*.txt", min_size=100, path="set0/*") == {
        p for p, d in plain_files().items() if p.endswith(".txt") and len(d) >= 100 and p.startswith("set0/")
    }


def test_match_fields(tree):
    (m,) = find(tree, path="set5/h5/run_17.h5/entry/data")
    assert m.kind == "array" and m.shape == (3, 16, 16) and m.dtype == np.float32 and m.size == 3072
    assert storecore.Location.parse(m.uri).inner == "/entry/data"
    assert m.to_dict()["dtype"] == "float32" and m.to_dict()["shape"] == [3, 16, 16]


def test_no_containers_and_depth(tree):
    assert not {m.kind for m in find(tree, into_containers=False)} & {"group", "array"}
    assert paths(tree, max_depth=1) == {f"set{i}" for i in range(6)}
    assert paths(tree, max_depth=2, kind="dir") == {d for d in dirs() if d.count("/") <= 1}
    # the root group of a container is at the container's depth, its children one below
    assert paths(tree, max_depth=3, kind="group") == H5 | ZARR


def test_modified_after_local(local_tree):
    recent = {p for i, p in enumerate(plain_files()) if i % 3}
    assert paths(local_tree, kind="file", name="file_*", modified_after="2001-01-01") == recent
    assert paths(local_tree, kind="file", modified_after=time.time() + 3600) == set()


@pytest.mark.s3
def test_modified_after_s3(s3_tree):
    assert len(paths(s3_tree, kind="file", modified_after=OLD)) == 280
    assert paths(s3_tree, kind="file", modified_after=time.time() + 3600) == set()


def test_search_inside_one_container(tree):
    h5 = f"{tree}/{h5_spec(4)['path']}"
    assert {m.uri for m in find(h5 + "::/entry")} == {h5 + "::/entry", h5 + "::/entry/data"}
    z = f"{tree}/{zarr_spec(2)['path']}"
    assert {m.uri for m in find(z, kind="array")} == {z + "::/img"}
    assert [m.kind for m in find(h5, kind="file")] == ["file"]


def _data_ranges(h5_uri: str) -> list[tuple[int, int]]:
    """Byte ranges of every dataset's storage (chunks or contiguous data) in a local HDF5 file."""
    import h5py

    out = []
    with h5py.File(h5_uri, "r") as f:

        def visit(_name, obj):
            if isinstance(obj, h5py.Dataset):
                if obj.chunks:
                    for i in range(obj.id.get_num_chunks()):
                        info = obj.id.get_chunk_info(i)
                        out.append((info.byte_offset, info.byte_offset + info.size))
                elif obj.id.get_offset() is not None:
                    out.append((obj.id.get_offset(), obj.id.get_offset() + obj.id.get_storage_size()))

        f.visititems(visit)
    return out


def test_no_chunk_is_read(tree, local_tree):
    stats = FindStats(record=True)
    assert len(list(find(tree, attrs={"sample": "*"}, stats=stats))) == 60
    assert stats.containers == 60 and not stats.errors
    read_names = {uri.rsplit("/", 1)[-1] for uri, _, _ in stats.reads if ".zarr/" in uri}
    assert read_names == {"zarr.json"}  # never c/0/0 chunk keys
    h5_reads: dict[str, list[tuple[int, int]]] = {}
    for uri, offset, length in stats.reads:
        if uri.endswith(".h5"):
            h5_reads.setdefault(uri, []).append((offset, offset + length))
    assert len(h5_reads) == 40
    for uri, reads in h5_reads.items():
        rel = uri[len(tree) + 1 :]
        for lo, hi in _data_ranges(os.path.join(local_tree, rel)):
            touched = [r for r in reads if r[0] < hi and r[1] > lo]
            assert not touched, f"{uri}: read {touched} overlaps data [{lo}, {hi})"
    assert stats.bytes_read < 60 * 16 * 1024


@pytest.mark.s3
def test_bytes_per_container_stay_small(s3_root, tmp_path):
    """A 4 MiB HDF5 dataset and a 4 MiB Zarr array cost a few KiB of metadata each."""
    import h5py
    import zarr

    local = tmp_path / "big"
    local.mkdir()
    with h5py.File(local / "big.h5", "w") as f:
        f.attrs["sample"] = "big"
        f.create_dataset("data", data=np.arange(1 << 20, dtype="f4").reshape(1024, 1024), chunks=(256, 1024))
    g = zarr.open_group(str(local / "big.zarr"), mode="w")
    g.attrs["sample"] = "big"
    g.create_array("data", shape=(1024, 1024), chunks=(256, 1024), dtype="f4", compressors=None)[:] = 1
    upload(str(local), s3_root)
    for name in ("big.h5", "big.zarr"):
        stats = FindStats(record=True)
        assert [m.path for m in find(f"{s3_root}/{name}", attrs={"sample": "big"}, stats=stats)] == [name]
        assert 0 < stats.bytes_read < 64 * 1024, (name, stats.bytes_read)


def test_streams_before_listing_ends():
    """On a 100,000-key store the first match comes after the first listing page, not after all 100."""
    from storecore.backends.memory import InMemoryBackend

    backend = InMemoryBackend.named("find100k")
    now = time.time()
    for i in range(100_000):
        backend.data[f"d{i // 1000:03d}/k{i:06d}.dat"] = (b"", now)
    try:
        stats = FindStats()
        it = find("memory://find100k", name="k00000[0-9].dat", stats=stats, use_cache=False)
        first = next(it)
        assert first.path == "d000/k000000.dat"
        assert stats.entries <= 1000 and stats.pages == 1
        assert len(list(it)) == 9
        assert stats.entries == 100_000
    finally:
        InMemoryBackend.drop("find100k")


@pytest.mark.s3
def test_streams_on_s3(s3_root):
    backend, _ = storecore.backend_for(s3_root)
    with cf.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: backend.write_bytes(f"many/k{i:05d}", b"."), range(1100)))
    stats = FindStats()
    it = find(s3_root, name="k0000*", stats=stats)
    assert next(it).path == "many/k00000"
    assert stats.pages == 1 and stats.entries <= 1000
    it.close()


def test_cancel_stops_the_walk(tree):
    stats = FindStats()
    seen = []

    def cancel() -> bool:
        return len(seen) >= 5

    for m in find(tree, stats=stats, cancel=cancel, use_cache=False):
        seen.append(m)
    assert len(seen) == 5 and stats.cancelled
    assert stats.entries < 50 and stats.containers < 60
    # closing the generator ends it too
    stats2 = FindStats()
    it = find(tree, kind="array", stats=stats2, use_cache=False)
    next(it)
    it.close()
    with pytest.raises(StopIteration):
        next(it)
    assert stats2.entries < 600


@pytest.mark.s3
def test_listing_is_reused_when_fresh(s3_tree):
    backend, loc = storecore.backend_for(s3_tree)
    clear_listing_cache()
    assert len(paths(s3_tree, name="*.h5")) == 40
    hits = listing_cache.hits
    backend.write_bytes(f"{loc.path}/late.h5", b"not really hdf5")
    assert len(paths(s3_tree, name="*.h5")) == 40  # the fresh cached listing was replayed
    assert listing_cache.hits == hits + 1
    assert len({m.path for m in find(s3_tree, name="*.h5", use_cache=False)}) == 41
    backend.delete(f"{loc.path}/late.h5")
    clear_listing_cache()


def test_corrupt_container_is_skipped(local_root):
    with open(os.path.join(local_root, "bad.h5"), "wb") as f:
        f.write(b"this is not hdf5" * 10)
    os.makedirs(os.path.join(local_root, "bad.zarr"))
    with open(os.path.join(local_root, "bad.zarr", "zarr.json"), "w") as f:
        f.write("{not json")
    with open(os.path.join(local_root, "ok.txt"), "w") as f:
        f.write("ok")
    stats = FindStats()
    assert {m.path for m in find(local_root, stats=stats)} == {"bad.h5", "bad.zarr", "ok.txt"}
    assert len(stats.errors) == 2
    assert any("bad.h5" in e for e in stats.errors) and any("bad.zarr" in e for e in stats.errors)


def test_symlink_loops_are_not_followed(local_root):
    os.makedirs(os.path.join(local_root, "a", "b"))
    os.symlink(os.path.join(local_root, "a"), os.path.join(local_root, "a", "b", "loop"))
    with open(os.path.join(local_root, "a", "b", "x.txt"), "w") as f:
        f.write("x")
    assert paths(local_root) == {"a", "a/b", "a/b/loop", "a/b/x.txt"}


def test_bad_input(local_root, memory_root):
    with pytest.raises(InvalidArgument):
        find(local_root, kind="blob")
    with pytest.raises(InvalidArgument):
        find(local_root, shape="(2, x)")
    with pytest.raises(InvalidArgument):
        find(local_root, min_size="lots")
    with pytest.raises(InvalidArgument):
        find(local_root, max_depth=-1)
    with pytest.raises(InvalidArgument):
        find(local_root, dtype="notadtype")
    with pytest.raises(NotFound):
        next(find(os.path.join(local_root, "missing")))
    with pytest.raises(NotFound):
        next(find(memory_root + "/missing"))
    with open(os.path.join(local_root, "a.txt"), "w") as f:
        f.write("x")
    with pytest.raises(InvalidArgument):
        next(find(os.path.join(local_root, "a.txt") + "::/g"))


def test_parse_shape():
    assert parse_shape("(…, 2048, 2048)") == (..., 2048, 2048)
    assert parse_shape("*,3") == (None, 3)
    assert parse_shape("(3,)") == (3,)
    with pytest.raises(InvalidArgument):
        parse_shape("...,2,...")


def test_a_walk_closed_by_a_consumer_that_saw_the_cancel_counts_as_cancelled(tmp_path):
    """The window's stream stops on the same cancel as the walk: whichever notices first, the stats say cancelled."""
    for i in range(50):
        (tmp_path / f"f{i:02d}.txt").write_text("x")
    cancel = [False]
    stats = FindStats()
    walk = find(str(tmp_path), cancel=lambda: cancel[0], stats=stats)
    next(walk)
    cancel[0] = True
    walk.close()  # the consumer stops without asking the walk for more
    assert stats.cancelled


@pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")  # zarr's, writing a v3 fixed string
def test_dtypes_with_units_extension_types_and_big_endian_are_found(tmp_path):
    """v3 extension data types (``numpy.datetime64`` with its unit, fixed-length UTF-32) had no dtype in the
    metadata reader; ``datetime64[s]`` was taken for a glob; ``float*`` and ``float64`` missed ``>f8``."""
    import zarr

    g3 = zarr.open_group(tmp_path / "v3.zarr", mode="w", zarr_format=3)
    g3.create_array("when", data=np.array(["2020-01-01", "NaT"], dtype="M8[s]"))
    g3.create_array("names", data=np.array(["ab", "c"], dtype="<U3"))
    g2 = zarr.open_group(tmp_path / "v2.zarr", mode="w", zarr_format=2)
    g2.create_array("big", data=np.arange(3, dtype=">f8"))
    g2.create_array("little", data=np.arange(3, dtype="<f8"))
    found = lambda uri, dt: {m.uri.rsplit("::", 1)[1] for m in find(str(tmp_path / uri), dtype=dt, kind="array")}  # noqa: E731
    assert found("v3.zarr", "datetime64[s]") == {"/when"} and found("v3.zarr", "<U3") == {"/names"}
    assert found("v2.zarr", "float*") == found("v2.zarr", "float64") == {"/big", "/little"}
    assert found("v2.zarr", "<f8") == {"/little"}  # a byte order spelled out is kept
    with pytest.raises(InvalidArgument, match="invalid dtype criterion 'nonsense'"):
        found("v2.zarr", "nonsense")
