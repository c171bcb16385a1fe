"""Parallel HDF5 chunk reads (storecore.containers.h5chunks) against h5py's own read of the same selection."""

from __future__ import annotations

import threading
import zlib

import h5py
import hdf5plugin
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import storecore
from storecore.containers import h5chunks, open_container
from storecore.containers.slicing import normalize_selection
from storecore.errors import CorruptData
from storecore.transfer import copy

FILTERS = {
    "none": {},
    "gzip": {"compression": "gzip", "compression_opts": 1},
    "shuffle+gzip": {"compression": "gzip", "shuffle": True},
    "blosc": dict(hdf5plugin.Blosc(cname="lz4", shuffle=hdf5plugin.Blosc.SHUFFLE)),
    "blosc-zstd": dict(hdf5plugin.Blosc(cname="zstd", clevel=3, shuffle=hdf5plugin.Blosc.BITSHUFFLE)),
    "zstd": dict(hdf5plugin.Zstd()),
    "lz4": dict(hdf5plugin.LZ4()),
    "lz4-small-blocks": dict(hdf5plugin.LZ4(nbytes=100)),  # several blocks per chunk, some stored raw
    "shuffle+zstd": {"shuffle": True, **dict(hdf5plugin.Zstd())},
}

SELECTIONS = [
    (slice(None),) * 3,
    (7,),  # a plane of the volume
    (slice(None), 13),  # a side plane
    (slice(None), slice(None), 40),
    (slice(2, 19, 3), slice(1, None, 5), slice(None, None, 7)),  # steps smaller than the chunks
    (slice(None, None, 9), slice(None, None, 17), slice(None, None, 25)),  # steps larger than the chunks
    (20, 30, 40),  # one value
    (slice(-3, None), slice(-5, None), slice(-7, None)),  # only edge chunks
    (slice(None, None, -2), 3),  # a negative step (flipped after the read)
]


def volume(dtype: str = "f4", shape: tuple[int, ...] = (21, 33, 45)) -> np.ndarray:
    """Smooth, quantised values (they compress) with some noise (they are not constant)."""
    rng = np.random.default_rng(7)
    grid = np.indices(shape).sum(axis=0)
    data = np.sin(grid / 7.0) * 50 + rng.integers(0, 4, shape)
    return data.astype(dtype)


def make_h5(path, name: str = "data", data=None, chunks=(5, 8, 10), **kwargs) -> np.ndarray:
    data = volume() if data is None else data
    with h5py.File(path, "a") as f:
        f.create_dataset(name, data=data, chunks=chunks, **kwargs)
    return data


def assert_same(a, b) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


def planned(dset, selection):
    norm, _, _ = normalize_selection(selection, dset.shape)
    return norm, h5chunks.plan(dset, norm)


@pytest.mark.parametrize("filt", FILTERS)
def test_parallel_read_equals_h5py(tmp_path, filt):
    path = tmp_path / "v.h5"
    make_h5(path, **FILTERS[filt])  # (21, 33, 45) in (5, 8, 10) chunks: edge chunks on every axis
    with h5py.File(path, "r") as f:
        dset = f["data"]
        for sel in SELECTIONS:
            norm, plan = planned(dset, sel)
            assert plan.parallel, (filt, sel, plan.reason)
            assert_same(plan.read(), dset[norm])


@pytest.mark.parametrize("filt", ["shuffle+gzip", "blosc", "zstd", "lz4"])
def test_node_reads_go_through_the_parallel_path(tmp_path, filt, monkeypatch):
    path = tmp_path / "v.h5"
    data = make_h5(path, **FILTERS[filt])
    calls = []
    original = h5chunks.Plan.read
    monkeypatch.setattr(h5chunks.Plan, "read", lambda self: calls.append(len(self.reads)) or original(self))
    with open_container(f"{path}::/data") as node:
        for sel in SELECTIONS:
            assert_same(node[sel], data[sel])
    assert len(calls) == len(SELECTIONS)


@pytest.mark.parametrize("dtype", ["u1", "i2", "<u4", "i8", "f2", "f8", ">f4", ">i2", "c8", "c16"])
def test_numeric_dtypes_and_byte_orders(tmp_path, dtype):
    path = tmp_path / "d.h5"
    data = volume(dtype if dtype[0] != "c" else "f4").astype(dtype)
    if dtype[0] == "c":
        data = data + 1j * data[::-1]
    make_h5(path, data=data, compression="gzip", shuffle=True)
    with h5py.File(path, "r") as f:
        dset = f["data"]
        for sel in SELECTIONS:
            norm, plan = planned(dset, sel)
            assert plan.parallel, (dtype, plan.reason)
            assert_same(plan.read(), dset[norm])


def test_unallocated_chunks_read_as_the_fill_value(tmp_path):
    path = tmp_path / "sparse.h5"
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", shape=(20, 30), chunks=(4, 7), dtype="i4", fillvalue=-9, compression="gzip")
        d[5:9, 3:12] = 1
        f.create_dataset("empty", shape=(20, 30), chunks=(4, 7), dtype="f4", compression="gzip")
    with h5py.File(path, "r") as f:
        for name in ("data", "empty"):
            dset = f[name]
            for sel in [(slice(None),) * 2, (6,), (slice(None, None, 3), 4)]:
                norm, plan = planned(dset, sel)
                assert plan.parallel and any(r.offset is None for r in plan.reads)
                assert_same(plan.read(), dset[norm])


def test_many_chunks_use_one_walk_over_the_chunk_index(tmp_path):
    path = tmp_path / "many.h5"
    data = np.arange(60 * 70, dtype="i4").reshape(60, 70)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", shape=data.shape, chunks=(3, 4), dtype="i4", fillvalue=-1, compression="gzip")
        d[:40] = data[:40]  # the chunks below row 40 are never allocated
    with h5py.File(path, "r") as f:
        dset = f["data"]
        for sel in [(slice(None),) * 2, (slice(None, None, 2), slice(1, None))]:
            norm, plan = planned(dset, sel)
            assert plan.parallel and len(plan.reads) >= h5chunks.INDEX_WALK_MIN
            assert any(r.offset is None for r in plan.reads)
            assert_same(plan.read(), dset[norm])


def test_userblock_offsets(tmp_path):
    path = tmp_path / "ub.h5"
    with h5py.File(path, "w", userblock_size=1024) as f:
        f.create_dataset("data", data=volume(), chunks=(5, 8, 10), compression="gzip")
    with h5py.File(path, "r") as f:
        norm, plan = planned(f["data"], (slice(None),))
        assert plan.parallel
        assert_same(plan.read(), f["data"][norm])


FALLBACKS = {
    "fletcher32": ({"compression": "gzip", "fletcher32": True}, volume()),
    "scaleoffset": ({"scaleoffset": 2}, volume()),
    "scaleoffset-int": ({"compression": "gzip", "shuffle": True, "scaleoffset": 0}, volume("i4")),
    "lzf": ({"compression": "lzf"}, volume()),
    "bitshuffle": (dict(hdf5plugin.Bitshuffle()), volume()),
    "bool": ({"compression": "gzip"}, volume() > 10),
    "strings": ({"compression": "gzip"}, volume("i4").astype("S4")),
    "compound": ({"compression": "gzip"}, np.zeros((21, 33, 45), dtype=[("a", "i4"), ("b", "f8")])),
}


@pytest.mark.parametrize("impl", ["zlib", "isal"])
def test_inflate_with_zlib_and_isal(tmp_path, impl, monkeypatch):
    module = zlib if impl == "zlib" else pytest.importorskip("isal.isal_zlib")
    monkeypatch.setattr(h5chunks, "_inflate_module", lambda: module)
    path = tmp_path / "z.h5"
    data = make_h5(path, compression="gzip", shuffle=True)
    with h5py.File(path, "r") as f:
        norm, plan = planned(f["data"], (slice(None), 3))
        assert plan.parallel
        assert_same(plan.read(), data[norm])


@pytest.mark.parametrize("case", FALLBACKS)
def test_unsupported_filters_and_dtypes_fall_back_to_h5py(tmp_path, case):
    kwargs, data = FALLBACKS[case]
    path = tmp_path / "f.h5"
    make_h5(path, data=data, **kwargs)
    with h5py.File(path, "r") as f:
        _, plan = planned(f["data"], (3,))
        assert not plan.parallel and plan.reason
        want = f["data"][3, ::2]
    with open_container(f"{path}::/data") as node:
        got = node[3, ::2]
        if data.dtype.kind == "S":
            assert got.tolist() == [[v.decode() for v in row] for row in data[3, ::2]]
        else:
            assert_same(got, want)


def test_other_layouts_modes_and_types_fall_back(tmp_path):
    path = tmp_path / "o.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("contiguous", data=volume())
        f.create_dataset("enum", data=np.arange(12, dtype="i1").reshape(3, 4) % 3, chunks=(2, 2),
                         dtype=h5py.enum_dtype({"a": 0, "b": 1, "c": 2}, basetype="i1"))  # fmt: skip
        f.create_dataset("vlen", shape=(4,), chunks=(2,), dtype=h5py.vlen_dtype("i4"))
        f.create_dataset("chunked", data=volume(), chunks=(5, 8, 10), compression="gzip")
        # A chunk whose filter mask says deflate was skipped: stored raw.
        d = f.create_dataset("masked", shape=(4, 4), chunks=(2, 4), dtype="i4", compression="gzip")
        d.id.write_direct_chunk((0, 0), np.arange(8, dtype="i4").tobytes(), filter_mask=1)
        d.id.write_direct_chunk((2, 0), zlib.compress(np.arange(8, 16, dtype="i4").tobytes()))
    with h5py.File(path, "r") as f:
        for name in ("contiguous", "enum", "vlen"):
            dset = f[name]
            norm, plan = planned(dset, ())
            assert not plan.parallel, name
        norm, plan = planned(f["masked"], ())  # decoded without the skipped filter
        assert plan.parallel and [r.mask for r in plan.reads] == [1, 0]
        assert_same(plan.read(), np.arange(16, dtype="i4").reshape(4, 4))
    with h5py.File(path, "r+") as f:  # open for writing: h5py may hold unwritten data
        _, plan = planned(f["chunked"], ())
        assert not plan.parallel
    with open_container(f"{path}::/masked") as node:
        assert_same(node[:], np.arange(16, dtype="i4").reshape(4, 4))
    with open_container(f"{path}::/chunked", mode="a") as node:
        node.lazy()[0, 0, 0] = 1234.0  # not flushed: only h5py knows it
        assert node[0, 0, 0] == 1234.0


def test_a_corrupt_chunk_raises_corrupt_data(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", shape=(4, 4), chunks=(2, 4), dtype="i4", compression="gzip")
        d.id.write_direct_chunk((0, 0), b"not deflate at all")
        d.id.write_direct_chunk((2, 0), zlib.compress(np.arange(8, dtype="i4").tobytes()))
    with open_container(f"{path}::/data") as node:
        assert_same(node[2:], np.arange(8, dtype="i4").reshape(2, 4))
        with pytest.raises(CorruptData):
            node[:]
        with pytest.raises(CorruptData):
            node[0]


def test_threads_reading_at_once(tmp_path):
    path = tmp_path / "v.h5"
    data = make_h5(path, compression="gzip", shuffle=True)
    h5chunks.CACHE.clear()
    with open_container(f"{path}::/data") as node:

        def work(k: int) -> None:
            for i in range(k, data.shape[0], 4):
                assert_same(node[i], data[i])
                assert_same(node[:, i], data[:, i])

        in_threads(work, 4)


def in_threads(work, n: int) -> None:
    """Run ``work(k)`` for k in range(n) on n threads started together; raise what any of them raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(k: int) -> None:
        try:
            start.wait()
            work(k)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_going_back_to_a_frame_is_served_from_the_cache(tmp_path, monkeypatch):
    path = tmp_path / "v.h5"
    data = make_h5(path, compression="gzip")
    h5chunks.CACHE.clear()
    reads = []
    original = h5chunks._pread
    monkeypatch.setattr(h5chunks, "_pread", lambda *a: reads.append(a) or original(*a))
    with open_container(f"{path}::/data") as node:
        assert_same(node[7], data[7])
        first = len(reads)
        assert first == 5 * 5  # the chunks plane 7 touches
        assert_same(node[8], data[8])  # same chunks
        assert len(reads) == first


def test_coalesce_groups_neighbours_and_keeps_requests_for_every_worker():
    R = h5chunks.ChunkRead
    reads = [R((i,), (), (), offset=1000 + i * 100_000, size=100_000) for i in range(40)]  # 4 MB, back to back
    reads += [R((99,), (), (), offset=50_000_000, size=10)]  # far away
    groups = h5chunks.coalesce(list(reversed(reads)))
    assert sorted(r.offset for g in groups for r in g) == sorted(r.offset for r in reads)
    assert [r.offset for r in groups[-1]] == [50_000_000]
    for g in groups:
        assert [r.offset for r in g] == sorted(r.offset for r in g)
        assert g[-1].offset + g[-1].size - g[0].offset <= max(h5chunks.COALESCE_MIN, 4_000_000 // 16)
    assert 1 < len(groups) < len(reads)


# -- fuzzing against h5py ---------------------------------------------------------------------------
@st.composite
def cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 14)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, n)) for n in shape)
    filt = draw(st.sampled_from(sorted(FILTERS)))
    dtype = draw(st.sampled_from(["f4", "i2", "u1", "f8", ">i4", "<i8"]))
    sel = []
    for n in shape:
        if draw(st.booleans()):
            sel.append(draw(st.integers(-n, n - 1)))
        else:
            start = draw(st.none() | st.integers(-n - 2, n + 2))
            stop = draw(st.none() | st.integers(-n - 2, n + 2))
            step = draw(st.none() | st.integers(1, n + 2) | st.integers(-n - 2, -1))
            sel.append(slice(start, stop, step))
    sparse = draw(st.booleans())
    return shape, chunks, filt, dtype, tuple(sel), sparse


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_fuzz_against_h5py(tmp_path, case):
    shape, chunks, filt, dtype, sel, sparse = case
    path = tmp_path / "fuzz.h5"
    path.unlink(missing_ok=True)
    data = (np.arange(int(np.prod(shape))).reshape(shape) % 97 - 30).astype(dtype)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", shape=shape, dtype=dtype, chunks=chunks, fillvalue=5, **FILTERS[filt])
        if sparse:  # only the first half of axis 0 is written: other chunks are never allocated
            d[: max(1, shape[0] // 2)] = data[: max(1, shape[0] // 2)]
        else:
            d[...] = data
    with h5py.File(path, "r") as f:
        dset = f["data"]
        norm, flips, out_shape = normalize_selection(sel, shape)
        want = dset[norm]
        plan = h5chunks.plan(dset, norm)
        if 0 in out_shape:
            assert not plan.parallel
            return
        assert plan.parallel, plan.reason
        assert_same(plan.read(), want)
    h5chunks.CACHE.clear()
    with open_container(f"{path}::/data") as node:
        expect = np.asarray(want)
        if flips:
            expect = np.flip(expect, axis=flips)
        assert_same(node[sel], expect)


# -- remote ----------------------------------------------------------------------------------------
@pytest.mark.s3
def test_remote_plane_over_s3(s3_root, tmp_path, monkeypatch):
    path = tmp_path / "r.h5"
    data = volume("f4", (24, 64, 80))
    make_h5(path, "gz", data, chunks=(6, 16, 16), compression="gzip", shuffle=True)
    make_h5(path, "lz4", data, chunks=(6, 16, 16), **FILTERS["lz4"])
    make_h5(path, "plain", data, chunks=(6, 16, 16))
    make_h5(path, "fletcher", data, chunks=(6, 16, 16), compression="gzip", fletcher32=True)
    copy(str(path), f"{s3_root}/r.h5")
    h5chunks.CACHE.clear()
    fetched = []
    monkeypatch.setattr(h5chunks, "COALESCE_MIN", 8 * 1024)  # several requests, each of several chunks
    with open_container(f"{s3_root}/r.h5") as root, h5py.File(path, "r") as local:
        reader = root.container.reader
        original = reader._fetch
        monkeypatch.setattr(reader, "_fetch", lambda s, e: fetched.append((s, e)) or original(s, e))
        for name in ("gz", "lz4", "plain", "fletcher"):
            node = root[name]
            for sel in SELECTIONS:
                norm, _, _ = normalize_selection(sel, data.shape)
                assert_same(node[sel], data[sel])
                plan = h5chunks.plan(node.lazy(), norm, reader=reader)
                assert plan.parallel == (name != "fletcher"), plan.reason
        # a plane reads only the chunks it touches (coalesced neighbours and small gaps at most)
        node = root["gz"]
        dset = local["gz"]
        h5chunks.CACHE.clear()
        fetched.clear()
        before = reader.bytes_read
        assert_same(node[13], data[13])
        touched = sum(
            dset.id.get_chunk_info_by_coord((12, j, k)).size for j in range(0, 64, 16) for k in range(0, 80, 16)
        )
        assert touched <= reader.bytes_read - before <= touched + 2 * h5chunks.COALESCE_GAP
        assert 1 < len(fetched) < 20
        requests = reader.requests
        assert_same(node[14], data[14])  # same chunks: from the decoded-chunk cache
        assert reader.requests == requests


@pytest.mark.s3
def test_remote_read_errors_surface(s3_root, tmp_path, monkeypatch):
    from storecore.errors import StorecoreError

    path = tmp_path / "e.h5"
    data = make_h5(path, compression="gzip")
    copy(str(path), f"{s3_root}/e.h5")
    h5chunks.CACHE.clear()
    with open_container(f"{s3_root}/e.h5::/data") as node:
        reader = node.container.reader
        assert_same(node[0], data[0])

        def broken(start, end):
            raise storecore.errors.NotFound("gone", path="e.h5")

        monkeypatch.setattr(reader, "_fetch", broken)
        with pytest.raises(StorecoreError, match="gone"):
            node[slice(5, None)]


# -- deflate chunks decoded part-way ------------------------------------------------------------------
@pytest.fixture(params=["zlib", "isal"])
def small_prefix_chunks(request, monkeypatch):
    """Part-way decoding for chunks of any size, in small steps (so the small test files exercise it)."""
    module = zlib if request.param == "zlib" else pytest.importorskip("isal.isal_zlib")
    monkeypatch.setattr(h5chunks, "_inflate_module", lambda: module)
    monkeypatch.setattr(h5chunks, "PREFIX_MIN_CHUNK", 0)
    monkeypatch.setattr(h5chunks, "PREFIX_STEP", 64)
    h5chunks.CACHE.clear()
    yield
    h5chunks.CACHE.clear()


def _cached_parts() -> list:
    return [v for v, _ in h5chunks.CACHE._items.values() if isinstance(v, h5chunks.PrefixChunk)]


def test_a_frame_decodes_only_the_start_of_its_chunks(tmp_path, small_prefix_chunks):
    path = tmp_path / "v.h5"
    data = make_h5(path, data=volume("f4", (40, 33, 45)), chunks=(20, 16, 16), compression="gzip")
    with open_container(f"{path}::/data") as node:
        assert node.reads_chunk_prefixes
        assert_same(node[0], data[0])
        parts = _cached_parts()
        assert len(parts) == 3 * 3  # the plane's chunks, each decoded part-way
        chunk_bytes = 20 * 16 * 16 * 4
        assert all(0 < p.done < chunk_bytes // 2 for p in parts)  # edge chunks need less than a plane
        done = {id(p): p.done for p in parts}
        for z in range(1, 20):  # stepping through the block resumes each chunk where it stopped
            assert_same(node[z], data[z])
        assert all(p.done >= 20 * 16 * 16 * 4 * 0.9 or p.complete for p in parts)
        assert all(p.done >= done[id(p)] for p in parts)
        for z in (3, 0, 19, 7):  # going back: already decoded
            assert_same(node[z], data[z])
        assert_same(node[:, 5], data[:, 5])  # whole chunks: the others decode in full
        assert_same(node[...], data)


def test_resumed_frames_read_no_stored_bytes_again_locally(tmp_path, small_prefix_chunks, monkeypatch):
    path = tmp_path / "v.h5"
    data = make_h5(path, data=volume("f4", (40, 16, 16)), chunks=(40, 16, 16), compression="gzip")
    reads = []
    original = h5chunks._pread
    monkeypatch.setattr(h5chunks, "_pread", lambda fd, offset, size: reads.append((offset, size)) or original(fd, offset, size))
    with h5py.File(path, "r") as f:
        info = f["data"].id.get_chunk_info(0)
    with open_container(f"{path}::/data") as node:
        for z in range(40):
            assert_same(node[z], data[z])
    # each stored byte read once, in steps, from the chunk's start to its end
    assert sum(size for _, size in reads) == info.size
    assert [offset for offset, _ in reads] == sorted(offset for offset, _ in reads)
    assert reads[0][0] == info.byte_offset


def test_shuffled_and_small_chunks_are_decoded_whole(tmp_path, monkeypatch):
    path = tmp_path / "v.h5"
    make_h5(path, "shuffled", data=volume("f4", (64, 64, 64)), chunks=(64, 64, 64), compression="gzip", shuffle=True)
    make_h5(path, "small", data=volume("f4", (64, 64, 64)), chunks=(8, 8, 8), compression="gzip")
    make_h5(path, "big", data=volume("f4", (64, 64, 64)), chunks=(64, 64, 64), compression="gzip")
    make_h5(path, "plain", data=volume("f4", (64, 64, 64)), chunks=(64, 64, 64))
    with open_container(str(path)) as root:
        assert not root["shuffled"].reads_chunk_prefixes  # shuffle needs every byte of a chunk
        assert not root["small"].reads_chunk_prefixes  # an inflater's state would outweigh the chunk
        assert not root["plain"].reads_chunk_prefixes
        assert root["big"].reads_chunk_prefixes  # 1 MiB chunks of deflate alone
        assert not root.reads_chunk_prefixes  # a group


def test_threads_reading_frames_of_one_chunk_at_once(tmp_path, small_prefix_chunks):
    path = tmp_path / "v.h5"
    data = make_h5(path, data=volume("f4", (64, 20, 20)), chunks=(64, 20, 20), compression="gzip")
    with open_container(f"{path}::/data") as node:

        def work(k: int) -> None:
            for z in range(k, 64, 4):
                assert_same(node[z], data[z])

        in_threads(work, 4)


def test_a_truncated_deflate_chunk_names_the_dataset_and_the_chunk(tmp_path, small_prefix_chunks):
    path = tmp_path / "bad.h5"
    values = np.arange(4 * 64, dtype="i4").reshape(4, 64)
    packed = zlib.compress(values.tobytes(), 1)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", shape=(8, 64), chunks=(4, 64), dtype="i4", compression="gzip")
        d.id.write_direct_chunk((0, 0), packed[: len(packed) // 3])  # cut: the start still decodes
        d.id.write_direct_chunk((4, 0), b"\x00garbage, not deflate")
    with open_container(f"{path}::/data") as node:
        assert_same(node[0, :8], values[0, :8])
        with pytest.raises(CorruptData, match=r"bad\.h5.*/data.*chunk \(0, 0\).*deflate data ends"):
            node[3]
        with pytest.raises(CorruptData, match=r"bad\.h5.*/data.*chunk \(4, 0\).*not a valid deflate stream"):
            node[4]
        assert_same(node[0, :8], values[0, :8])  # what decoded before is still served


def test_part_decoded_chunks_are_counted_as_they_grow(tmp_path, small_prefix_chunks):
    path = tmp_path / "v.h5"
    make_h5(path, data=volume("f4", (64, 32, 32)), chunks=(64, 32, 32), compression="gzip")
    with open_container(f"{path}::/data") as node:
        node[0]
        (part,) = _cached_parts()
        counted = h5chunks.CACHE.nbytes
        assert counted == part.nbytes
        node[40]
        assert h5chunks.CACHE.nbytes == part.nbytes > counted
        node[63]  # complete: kept as a plain array, its stored bytes and inflater dropped
        assert not _cached_parts()
        assert h5chunks.CACHE.nbytes == 64 * 32 * 32 * 4


def test_the_local_descriptor_closes_with_the_last_part_decoded_chunk(tmp_path, small_prefix_chunks):
    import gc
    import os

    path = tmp_path / "v.h5"
    data = make_h5(path, data=volume("f4", (64, 32, 32)), chunks=(64, 32, 32), compression="gzip")

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_fds()
    with open_container(f"{path}::/data") as node:
        for z in (0, 1, 2):
            assert_same(node[z], data[z])
        during = open_fds()
    assert during <= before + 2  # h5py's descriptor and one shared duplicate, however many reads
    h5chunks.CACHE.clear()
    gc.collect()
    assert open_fds() == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.tuples(st.integers(1, 30), st.integers(1, 9), st.integers(1, 9)),
    frames=st.lists(st.tuples(st.integers(0, 29), st.booleans()), min_size=1, max_size=12),
    depth=st.integers(1, 30),
)
def test_fuzz_frames_in_any_order_against_h5py(tmp_path, monkeypatch, shape, frames, depth):
    monkeypatch.setattr(h5chunks, "PREFIX_MIN_CHUNK", 0)
    monkeypatch.setattr(h5chunks, "PREFIX_STEP", 32)
    h5chunks.CACHE.clear()
    path = tmp_path / "f.h5"
    path.unlink(missing_ok=True)
    chunks = (min(depth, shape[0]), shape[1], shape[2])
    data = (np.arange(int(np.prod(shape))).reshape(shape) % 251).astype("f4")
    make_h5(path, data=data, chunks=chunks, compression="gzip", compression_opts=9)
    with open_container(f"{path}::/data") as node:
        for z, sub in frames:
            z %= shape[0]
            sel = (z, slice(0, max(1, shape[1] // 2))) if sub else (z,)
            assert_same(node[sel], data[sel])
    h5chunks.CACHE.clear()


@pytest.mark.s3
def test_remote_frames_fetch_about_what_they_decode(s3_root, tmp_path, monkeypatch):
    monkeypatch.setattr(h5chunks, "PREFIX_MIN_CHUNK", 0)
    monkeypatch.setattr(h5chunks, "PREFIX_STEP", 256)
    path = tmp_path / "p.h5"
    data = make_h5(path, data=volume("f4", (32, 40, 40)), chunks=(32, 20, 20), compression="gzip")
    with h5py.File(path, "r") as f:
        stored = sum(f["data"].id.get_chunk_info(i).size for i in range(f["data"].id.get_num_chunks()))
    copy(str(path), f"{s3_root}/p.h5")
    h5chunks.CACHE.clear()
    with open_container(f"{s3_root}/p.h5::/data") as node:
        assert node.reads_chunk_prefixes
        reader = node.container.reader
        before = reader.bytes_read
        assert_same(node[0], data[0])
        first = reader.bytes_read - before
        assert 0 < first < stored / 4  # the start of each of the 4 chunks, not all of them
        for z in range(1, 32):  # frames resume: the rest of each chunk's stored bytes, each byte once
            assert_same(node[z], data[z])
        assert reader.bytes_read - before == stored
        requests = reader.requests
        assert_same(node[5], data[5])  # decoded already: no request
        assert reader.requests == requests
        assert_same(node[:, 3], data[:, 3])
    h5chunks.CACHE.clear()
