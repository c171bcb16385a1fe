"""Zarr chunks compressed by Zstandard alone, decoded part-way (storecore.containers.zarr_chunks), against zarr."""

from __future__ import annotations

import os

import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storecore.containers import h5chunks, open_container, zarr_chunks
from storecore.errors import CorruptData
from storecore.transfer import copy


@pytest.fixture
def small_chunks(monkeypatch):
    """Part-way decoding for chunks of any size, in small steps (so small arrays exercise it)."""
    monkeypatch.setattr(h5chunks, "PREFIX_MIN_CHUNK", 0)
    monkeypatch.setattr(h5chunks, "PREFIX_STEP", 64)
    monkeypatch.setattr(h5chunks, "PREFIX_AHEAD", 16)
    h5chunks.CACHE.clear()
    yield
    h5chunks.CACHE.clear()


def values(shape, dtype="f4"):
    rng = np.random.default_rng(11)
    return (np.indices(shape).sum(axis=0) % 37 + rng.integers(0, 3, shape)).astype(dtype)


def make(path, data, chunks, **kwargs):
    z = zarr.create_array(str(path), shape=data.shape, chunks=chunks, dtype=data.dtype, **kwargs)
    z[...] = data
    return z


def placed(request, store, where: str) -> str:
    """The URI of the local ``store``, or of a copy of it on the test S3 server (``where="s3"``)."""
    if where != "s3":
        return str(store)
    uri = f"{request.getfixturevalue('s3_root')}/{store.name}"
    copy(str(store), uri)
    return uri


def _parts():
    return [v for v, _ in h5chunks.CACHE._items.values() if isinstance(v, zarr_chunks.ZstdPrefixChunk)]


def test_frames_decode_only_the_start_of_their_chunks(tmp_path, small_chunks):
    data = values((40, 33, 45))
    make(tmp_path / "v.zarr", data, (20, 16, 16))  # zarr's default codecs: bytes + zstd
    with open_container(f"{tmp_path}/v.zarr") as node:
        assert node.reads_chunk_prefixes
        np.testing.assert_array_equal(node.read_slice((0,), cache=False), data[0])
        parts = _parts()
        assert len(parts) == 9 and all(0 < p.done < 20 * 16 * 16 * 4 // 2 for p in parts)
        for z in list(range(1, 40)) + [3, 0, 39]:
            np.testing.assert_array_equal(node.read_slice((z,), cache=False), data[z])
        np.testing.assert_array_equal(node.read_slice((slice(None), 5), cache=False), data[:, 5])
        np.testing.assert_array_equal(node[...], data)  # cached reads: zarr's own path


def test_big_endian_v2_and_unwritten_chunks(tmp_path, small_chunks):
    from numcodecs import Zstd

    data = values((12, 20, 20), ">i4")
    big = make(tmp_path / "big.zarr", data, (6, 10, 10), serializer=zarr.codecs.BytesCodec(endian="big"))
    assert big.metadata.codecs[0].endian.value == "big"
    v2 = zarr.create_array(str(tmp_path / "v2.zarr"), shape=(12, 20, 20), chunks=(6, 10, 10), dtype="<f8",
                           zarr_format=2, compressors=Zstd(level=1), fill_value=-3.0)  # fmt: skip
    v2[:6] = data[:6]  # the other chunks are never written
    with open_container(f"{tmp_path}/big.zarr") as a, open_container(f"{tmp_path}/v2.zarr") as b:
        assert a.reads_chunk_prefixes and b.reads_chunk_prefixes
        for z in (0, 5, 7, 11):
            np.testing.assert_array_equal(a.read_slice((z,), cache=False), zarr.open_array(str(tmp_path / "big.zarr"))[z])
            np.testing.assert_array_equal(b.read_slice((z,), cache=False), v2[z])
        assert (b.read_slice((9,), cache=False) == -3.0).all()


def test_other_codecs_and_small_chunks_are_read_by_zarr(tmp_path):
    data = values((64, 64, 64))
    make(tmp_path / "blosc.zarr", data, (64, 64, 64), compressors=zarr.codecs.BloscCodec())
    make(tmp_path / "shuffled.zarr", data, (64, 64, 64), filters=[zarr.codecs.TransposeCodec(order=(2, 1, 0))])
    make(tmp_path / "small.zarr", data, (8, 8, 8))
    make(tmp_path / "big.zarr", data, (64, 64, 64))
    for name, expected in (("blosc", False), ("shuffled", False), ("small", False), ("big", True)):
        with open_container(f"{tmp_path}/{name}.zarr") as node:
            assert node.reads_chunk_prefixes is expected, name
            np.testing.assert_array_equal(node.read_slice((3,), cache=False), data[3])


def test_a_corrupt_chunk_names_the_array_and_the_chunk(tmp_path, small_chunks):
    data = values((8, 16, 16))
    make(tmp_path / "bad.zarr", data, (4, 16, 16))
    with open(os.path.join(tmp_path, "bad.zarr", "c", "1", "0", "0"), "wb") as f:
        f.write(b"\x28\xb5\x2f\xfd not zstd after the magic")
    with open_container(f"{tmp_path}/bad.zarr") as node:
        np.testing.assert_array_equal(node.read_slice((0,), cache=False), data[0])
        with pytest.raises(CorruptData, match=r"bad\.zarr.*chunk c/1/0/0"):
            node.read_slice((4,), cache=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.tuples(st.integers(1, 24), st.integers(1, 9), st.integers(1, 9)),
    depth=st.integers(1, 24),
    frames=st.lists(st.tuples(st.integers(0, 23), st.booleans()), min_size=1, max_size=10),
)
def test_fuzz_frames_in_any_order_against_zarr(tmp_path, monkeypatch, shape, depth, frames):
    monkeypatch.setattr(h5chunks, "PREFIX_MIN_CHUNK", 0)
    monkeypatch.setattr(h5chunks, "PREFIX_STEP", 32)
    h5chunks.CACHE.clear()
    path = tmp_path / f"f-{shape}-{depth}.zarr"
    data = values(shape)
    if not path.exists():
        make(path, data, (min(depth, shape[0]), shape[1], shape[2]))
    with open_container(str(path)) as node:
        for z, sub in frames:
            sel = (z % shape[0], slice(0, max(1, shape[1] // 2))) if sub else (z % shape[0],)
            np.testing.assert_array_equal(node.read_slice(sel, cache=False), data[sel])
    h5chunks.CACHE.clear()


@pytest.mark.s3
def test_remote_frames_are_decoded_part_way(s3_root, tmp_path, small_chunks):
    data = values((16, 20, 20))
    make(tmp_path / "r.zarr", data, (16, 10, 10))
    copy(str(tmp_path / "r.zarr"), f"{s3_root}/r.zarr")
    with open_container(f"{s3_root}/r.zarr") as node:
        assert node.reads_chunk_prefixes
        counter = node.container.counter
        np.testing.assert_array_equal(node.read_slice((0,), cache=False), data[0])
        assert len(_parts()) == 4 and all(not p.complete for p in _parts())  # the plane's 4 chunks, part-way
        fetched = counter.bytes_read
        assert fetched > 0  # counted like zarr's own reads
        for z in (1, 15, 2):
            np.testing.assert_array_equal(node.read_slice((z,), cache=False), data[z])
        assert counter.bytes_read == fetched  # a remote chunk is fetched once, then decoded further


@pytest.mark.parametrize("where", ["local", "s3"])
def test_stored_bytes_come_from_one_listing_and_equal_zarrs_count(request, tmp_path, where):
    data = values((20, 30, 30))
    make(tmp_path / "s.zarr", data, (5, 10, 10))
    uri = placed(request, tmp_path / "s.zarr", where)
    with open_container(uri) as node:
        listed = node.stored_nbytes
        assert listed == node.lazy().nbytes_stored()
        assert listed < data.nbytes  # compressed


def test_a_late_frame_resumes_chunks_decoded_here_rather_than_decoding_them_again(tmp_path, small_chunks):
    data = values((20, 16, 16))
    make(tmp_path / "late.zarr", data, (20, 16, 16))
    with open_container(f"{tmp_path}/late.zarr") as node:
        np.testing.assert_array_equal(node.read_slice((0,), cache=False), data[0])
        (part,) = _parts()
        # the last frame needs the whole chunk: it is decoded on from where frame 0 stopped (zarr would leave
        # the part-decoded chunk as it was)
        np.testing.assert_array_equal(node.read_slice((19,), cache=False), data[19])
        assert part.complete and not _parts()


@pytest.mark.parametrize("damage", ["half", "header", "one short", "junk after", "second frame cut"])
@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_damaged_chunk_is_refused_before_its_first_values_are_shown(request, tmp_path, small_chunks, damage, where):
    """A chunk cut short or followed by junk (zarr refuses it whole) is refused on the first plane read, not
    shown part-way and refused further in; the chunk is named, and its sibling chunks still read."""
    data = values((8, 16, 16))
    make(tmp_path / "d.zarr", data, (4, 16, 16))
    chunk = os.path.join(tmp_path, "d.zarr", "c", "1", "0", "0")
    stored = open(chunk, "rb").read()
    damaged = {"half": stored[: len(stored) // 2], "header": stored[:5], "one short": stored[:-1],
               "junk after": stored + b"\x00junk", "second frame cut": stored + stored[:-3]}[damage]
    with open(chunk, "wb") as f:
        f.write(damaged)
    with pytest.raises(Exception):  # noqa: B017 - the oracle: zarr refuses the chunk whole
        zarr.open_array(str(tmp_path / "d.zarr"))[4]
    uri = placed(request, tmp_path / "d.zarr", where)
    with open_container(uri) as node:
        assert node.reads_chunk_prefixes
        with pytest.raises(CorruptData, match=r"d\.zarr.*chunk c/1/0/0: Zstandard data (is cut short|has \d+ bytes after)"):
            node.read_slice((4,), cache=False)
        np.testing.assert_array_equal(node.read_slice((0,), cache=False), data[0])


@pytest.mark.parametrize("dtype", ["<f4", "<i4", "<u2", "<c8"])
def test_a_v2_null_fill_value_reads_unwritten_chunks_as_zeros(tmp_path, small_chunks, dtype):
    """Zarr v2 ``"fill_value": null`` (as zarr 2 wrote by default): zarr reads never-written chunks as zeros,
    and so does the part-way decoder."""
    from numcodecs import Zstd

    v2 = zarr.create_array(str(tmp_path / "n.zarr"), shape=(8, 10, 10), chunks=(4, 10, 10), dtype=dtype,
                           zarr_format=2, compressors=Zstd(level=1), fill_value=None)  # fmt: skip
    v2[:4] = values((4, 10, 10), dtype)
    with open_container(f"{tmp_path}/n.zarr") as node:
        assert node.reads_chunk_prefixes
        got = node.read_slice((6,), cache=False)
        np.testing.assert_array_equal(got, v2[6])
        assert got.dtype == np.dtype(dtype) and not np.isnan(got).any() and (got == 0).all()
