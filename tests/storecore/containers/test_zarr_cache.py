"""Zarr slices are served across opens, and never after a chunk object changed (zarr itself is the oracle)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

import storecore
from storecore.containers import open_container, zarr_cache
from storecore.transfer import copy

SHAPE, CHUNKS = (12, 10), (4, 3)


def build(path: str, version: int = 3) -> np.ndarray:
    data = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    arr = zarr.create_array(store=path, name="a", shape=SHAPE, chunks=CHUNKS, dtype="f4", zarr_format=version)
    arr[:] = data
    return data


def read(uri: str, sel: tuple) -> tuple[np.ndarray, int]:
    """The selection from a fresh open, and the chunk bytes that open fetched."""
    with open_container(uri) as root:
        node = root.get("/a")
        before = root.container.bytes_read
        got = node[sel]
        return got, root.container.bytes_read - before


@pytest.fixture(autouse=True)
def _empty_shared_cache():
    zarr_cache.SHARED.clear()
    yield
    zarr_cache.SHARED.clear()


@pytest.mark.parametrize("version", [2, 3])
def test_reopen_serves_the_slice_without_reading_chunks(tmp_path, version):
    path = str(tmp_path / "s.zarr")
    data = build(path, version)
    first, fetched = read(path, (5, slice(None)))
    assert fetched > 0 and np.array_equal(first, data[5])
    again, fetched = read(path, (5, slice(None)))
    assert fetched == 0 and np.array_equal(again, data[5])


def test_a_caller_that_keeps_its_reads_can_leave_the_slice_caches_alone(tmp_path):
    """``read_slice(..., cache=False)``: the same values, and no copy kept (a viewer caches its tiles itself)."""
    path = str(tmp_path / "n.zarr")
    data = build(path)
    with open_container(path) as root:
        node = root.get("/a")
        got = node.read_slice((slice(2, 9), slice(None)), cache=False)
        assert np.array_equal(got, data[2:9]) and len(zarr_cache.SHARED) == 0
        before = root.container.bytes_read
        assert np.array_equal(node.read_slice((slice(2, 9), slice(None)), cache=False), data[2:9])
        assert root.container.bytes_read > before  # read again: nothing was kept for this open either
        node.read_slice((slice(2, 9), slice(None)))
        assert len(zarr_cache.SHARED) == 1


@pytest.mark.parametrize("version", [2, 3])
def test_a_chunk_rewritten_in_place_is_read_again(tmp_path, version):
    path = str(tmp_path / "w.zarr")
    data = build(path, version)
    read(path, (slice(None), 4))
    writer = zarr.open_array(store=path, path="a", mode="r+")
    writer[9, 4] = -1.0  # one chunk object changes; the array's metadata does not
    data[9, 4] = -1.0
    got, fetched = read(path, (slice(None), 4))
    assert fetched > 0 and np.array_equal(got, data[:, 4])


def test_object_store_reopen_and_rewrite(tmp_path, s3_root):
    local = str(tmp_path / "o.zarr")
    data = build(local)
    uri = f"{s3_root}/o.zarr"
    copy(local, uri)
    read(uri, (slice(None), slice(0, 5)))
    got, fetched = read(uri, (slice(None), slice(0, 5)))
    assert fetched == 0 and np.array_equal(got, data[:, :5])
    backend, loc = storecore.backend_for(uri)
    chunk = f"{loc.path}/a/c/1/0"
    raw = backend.read_bytes(chunk)
    local_writer = zarr.open_array(store=local, path="a", mode="r+")
    local_writer[5, 1] = 123.0
    with open(os.path.join(local, "a", "c", "1", "0"), "rb") as f:
        backend.write_bytes(chunk, f.read())
    assert backend.read_bytes(chunk) != raw
    data[5, 1] = 123.0
    got, fetched = read(uri, (slice(None), slice(0, 5)))
    assert fetched > 0 and np.array_equal(got, data[:, :5])


index = st.one_of(
    st.integers(-SHAPE[0], SHAPE[0] - 1),
    st.builds(slice, st.none() | st.integers(-14, 14), st.none() | st.integers(-14, 14),
              st.none() | st.sampled_from([1, 2, 3, -1, -2])),
)


@settings(max_examples=60, deadline=None)
@given(sel=st.tuples(index, st.builds(slice, st.none() | st.integers(0, 10), st.none() | st.integers(0, 10))),
       row=st.integers(0, SHAPE[0] - 1), col=st.integers(0, SHAPE[1] - 1))
def test_never_stale_whatever_the_selection(tmp_path_factory, sel, row, col):
    """Read, rewrite any one element (so any one chunk), read again from a new open: zarr's answer."""
    zarr_cache.SHARED.clear()
    path = str(tmp_path_factory.mktemp("fz") / "f.zarr")
    data = build(path)
    if isinstance(sel[0], int) and not -SHAPE[0] <= sel[0] < SHAPE[0]:
        return
    first, _ = read(path, sel)
    assert np.array_equal(first, data[sel])
    zarr.open_array(store=path, path="a", mode="r+")[row, col] = -7.0
    data[row, col] = -7.0
    again, _ = read(path, sel)
    assert np.array_equal(again, data[sel])


def test_keys_of_a_selection_cover_exactly_its_chunks(tmp_path):
    path = str(tmp_path / "k.zarr")
    build(path)
    arr = zarr.open_array(store=path, path="a", mode="r")
    assert zarr_cache.touched_keys(arr, (5, slice(None))) == ["c/1/0", "c/1/1", "c/1/2", "c/1/3"]
    assert zarr_cache.touched_keys(arr, (slice(None, None, -1), 0)) == ["c/0/0", "c/1/0", "c/2/0"]
    assert zarr_cache.touched_keys(arr, (slice(3, 3), 0)) == []
    assert zarr_cache.touched_keys(arr, ([1, 2], 0)) is None  # fancy indexing: not validated, not shared


@settings(max_examples=40, deadline=None)
@given(sels=st.lists(st.tuples(index, st.builds(slice, st.none() | st.integers(0, 10), st.none() | st.integers(0, 10)),
                               st.booleans()), min_size=1, max_size=6))
def test_cached_and_uncached_reads_agree_in_any_order(tmp_path_factory, sels):
    """Reads that skip the slice caches and reads through them, interleaved on one open: zarr's answer each time."""
    zarr_cache.SHARED.clear()
    path = str(tmp_path_factory.mktemp("fc") / "c.zarr")
    data = build(path)
    with open_container(path) as root:
        node = root.get("/a")
        for row, cols, cache in sels:
            if isinstance(row, int) and not -SHAPE[0] <= row < SHAPE[0]:
                continue
            got = node.read_slice((row, cols), cache=cache)
            assert np.array_equal(got, data[row, cols])
            got[...] = -1  # what a caller does with its copy never reaches a cache
