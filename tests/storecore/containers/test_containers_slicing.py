"""Slicing: selections against numpy, display-sized overviews, colour statistics, bytes read per slice."""

from __future__ import annotations

import io
import itertools
import os
import shutil
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import storecore
from storecore.containers import display_selection, normalize_selection, open_container, read_slice, slice_stats
from storecore.errors import InvalidArgument

# -- a 512×512×512 float32 volume, chunked 64³, compressible -------------------------------------
N, C = 512, 64


def chunk_variants() -> list[np.ndarray]:
    """Eight distinct sparse 64³ chunks (5 % ones times 1..8): ~30-40 KB each compressed."""
    rng = np.random.default_rng(0)
    base = (rng.random((C, C, C)) < 0.05).astype("f4")
    return [base * (v + 1) for v in range(8)]


def variant_of(i: int, j: int, k: int) -> int:
    """Which variant fills chunk (i, j, k)."""
    return (i + j + k) % 8


def expected_plane(x: int) -> np.ndarray:
    """The exact ``volume[x]`` plane."""
    variants = chunk_variants()
    out = np.empty((N, N), "f4")
    n = N // C
    for j, k in itertools.product(range(n), repeat=2):
        out[j * C : (j + 1) * C, k * C : (k + 1) * C] = variants[variant_of(x // C, j, k)][x % C]
    return out


def build_big_zarr(path: str) -> None:
    """Zarr v3, 512³ float32 in 64³ zstd chunks: eight chunks encoded by zarr, the rest copies of them."""
    import zarr

    z = zarr.create_array(path, shape=(N,) * 3, chunks=(C,) * 3, dtype="f4")
    variants = chunk_variants()
    for v in range(8):
        z[v * C : (v + 1) * C, :C, :C] = variants[v]
    n = N // C
    for i, j, k in itertools.product(range(n), repeat=3):
        v = variant_of(i, j, k)
        if (i, j, k) == (v, 0, 0):
            continue
        dst = os.path.join(path, "c", str(i), str(j), str(k))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(path, "c", str(v), "0", "0"), dst)


def build_big_h5(path: str) -> None:
    """HDF5, 512³ float32 in 64³ gzip chunks written pre-compressed (fast)."""
    import h5py

    packed = [zlib.compress(v.tobytes(), 1) for v in chunk_variants()]
    n = N // C
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data", shape=(N,) * 3, chunks=(C,) * 3, dtype="f4", compression="gzip")
        for i, j, k in itertools.product(range(n), repeat=3):
            ds.id.write_direct_chunk((i * C, j * C, k * C), packed[variant_of(i, j, k)])


def zarr_chunk_bytes(node, x: int) -> int:
    """Stored bytes of the chunks that plane ``x`` touches."""
    backend, root = node.container.backend, node.container.location.path
    n = N // C
    return sum(backend.stat(f"{root}/c/{x // C}/{j}/{k}").size for j, k in itertools.product(range(n), repeat=2))


def h5_chunk_bytes(dataset, x: int) -> int:
    """Stored bytes of the chunks that plane ``x`` touches."""
    n = N // C
    return sum(dataset.id.get_chunk_info_by_coord(((x // C) * C, j * C, k * C)).size
               for j, k in itertools.product(range(n), repeat=2))


class CountingFile(io.RawIOBase):
    """A local file that counts the bytes read through it."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._f = open(path, "rb")  # noqa: SIM115 - closed in close()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def readinto(self, buffer) -> int:
        n = self._f.readinto(buffer)
        self.bytes_read += n
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory) -> str:
    folder = str(tmp_path_factory.mktemp("big"))
    build_big_zarr(os.path.join(folder, "big.zarr"))
    build_big_h5(os.path.join(folder, "big.h5"))
    return folder


def test_zarr_plane_reads_only_touched_chunks(big_dir):
    with open_container(os.path.join(big_dir, "big.zarr")) as node:
        assert node.shape == (N, N, N) and node.chunks == (C, C, C)
        for sel, x in (((256,), 256), ((-1,), N - 1)):
            before = node.container.bytes_read
            plane = node[sel]
            read = node.container.bytes_read - before
            touched = zarr_chunk_bytes(node, x)
            np.testing.assert_array_equal(plane, expected_plane(x))
            assert touched <= read <= 2 * touched, (read, touched)
            assert read < node.stored_nbytes / 4  # far from the whole array
            # Back to the same frame: no reading, and the caller's copy is its own.
            plane[:] = -1
            before = node.container.bytes_read
            np.testing.assert_array_equal(node[sel], expected_plane(x))
            assert node.container.bytes_read == before


def test_hdf5_plane_reads_only_touched_chunks(big_dir):
    from storecore.backends.registry import backend_for
    from storecore.containers.hdf5_nodes import HDF5Container

    path = os.path.join(big_dir, "big.h5")
    counting = CountingFile(path)
    backend, loc = backend_for(path)
    container = HDF5Container(loc, backend, fileobj=counting)
    try:
        node = container.node("/data")
        before = counting.bytes_read
        plane = node[256]
        read = counting.bytes_read - before
        touched = h5_chunk_bytes(node.lazy(), 256)
        np.testing.assert_array_equal(plane, expected_plane(256))
        assert touched <= read <= 2 * touched, (read, touched)
        # Back to the same frame: served by the chunk cache, nothing read.
        before = counting.bytes_read
        np.testing.assert_array_equal(node[256], plane)
        assert counting.bytes_read == before
    finally:
        container.close()
        counting.close()


def test_overview_of_a_plane_is_bounded(big_dir):
    with open_container(os.path.join(big_dir, "big.zarr")) as node:
        # 16 MiB allows 16 raw 1 MiB chunks of the 64 in the plane: every other chunk row and column.
        sel = display_selection(node.shape, axes=(1, 2), target=(256, 256), max_bytes=16 << 20,
                                itemsize=4, chunks=node.chunks)
        assert node.display_selection(axes=(1, 2), target=(256, 256), max_bytes=16 << 20) == sel
        assert sel == (N // 2, slice(None, None, 2 * C), slice(None, None, 2 * C))
        before = node.container.bytes_read
        img = node[sel]
        np.testing.assert_array_equal(img, expected_plane(N // 2)[sel[1:]])
        backend, root = node.container.backend, node.container.location.path
        touched = sum(backend.stat(f"{root}/c/4/{j}/{k}").size for j in range(0, 8, 2) for k in range(0, 8, 2))
        assert node.container.bytes_read - before == touched


# -- selections --------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    data=st.data(),
)
def test_normalized_selection_matches_numpy(shape, data):
    arr = np.arange(int(np.prod(shape))).reshape(shape)
    items = []
    for n in shape[: data.draw(st.integers(0, len(shape)))]:
        if data.draw(st.booleans()):
            items.append(data.draw(st.integers(-n, n - 1)))
        else:
            bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
            step = data.draw(st.one_of(st.none(), st.integers(-4, 4).filter(bool)))
            items.append(slice(data.draw(bound), data.draw(bound), step))
    sel = tuple(items)
    np.testing.assert_array_equal(read_slice(arr, sel), arr[sel])
    norm, flips, out_shape = normalize_selection(sel, tuple(shape))
    assert out_shape == arr[sel].shape
    assert all(isinstance(s, int) and s >= 0 or s.step > 0 for s in norm)


def test_selection_errors():
    arr = np.zeros((3, 4))
    for bad in ((3,), (0, -5), (0, 0, 0), ([0, 1],), (None,), (True,), (..., ..., 0), ("a",)):
        with pytest.raises(InvalidArgument):
            read_slice(arr, bad)
    assert read_slice(arr, (slice(2, 1),)).shape == (0, 4)
    assert read_slice(arr, (..., 1)).shape == (3,)


# -- display selection ---------------------------------------------------------------------------
def test_display_selection_strides_to_target():
    sel = display_selection((100, 20000, 30000), target=(1000, 1000), max_bytes=1 << 40)
    assert sel[0] == 50
    assert sel[1] == slice(None, None, 20) and sel[2] == slice(None, None, 30)
    assert display_selection((10, 500, 600)) == (5, slice(None), slice(None))
    assert display_selection((4, 5, 6), axes=(0, 2), index=(None, 3, None)) == (slice(None), 3, slice(None))
    assert display_selection((4, 5, 6), axes=(0, 1), index={2: -1}) == (slice(None), slice(None), 5)
    assert display_selection((700,)) == (slice(None),)
    with pytest.raises(InvalidArgument):
        display_selection((4, 5), axes=(5, 6))
    with pytest.raises(InvalidArgument):
        display_selection((4, 5, 6), index=(9, 0, 0))


@pytest.mark.parametrize("shape,chunks", [((100_000, 100_000), None), ((100_000, 100_000), (1000, 1000)),
                                          ((3, 50_000, 80_000), (1, 512, 512))])
def test_display_selection_bounds_bytes(shape, chunks):
    max_bytes = 16 << 20
    sel = display_selection(shape, target=(4096, 4096), max_bytes=max_bytes, itemsize=8, chunks=chunks)
    plane = [(n, s) for n, s in zip(shape, sel, strict=True) if isinstance(s, slice)]
    out = [len(range(*s.indices(n))) for n, s in plane]
    assert np.prod(out) * 8 <= max_bytes and all(o <= 4096 for o in out)
    if chunks is not None:
        touched = 1
        for (n, s), c in zip(plane, chunks[-2:], strict=True):
            touched *= len({i // c for i in range(*s.indices(n))})
        assert touched * np.prod(chunks) * 8 <= max_bytes


# -- statistics ----------------------------------------------------------------------------------
def test_slice_stats_ignores_nan_and_fill():
    a = np.array([[np.nan, 1.0, 2.0], [3.0, -9999.0, np.nan], [4.0, 5.0, 100.0]])
    s = slice_stats(a, fill_value=-9999.0)
    assert s["min"] == 1.0 and s["max"] == 100.0 and s["count_nan"] == 2 and s["count"] == 6
    assert s["mean"] == pytest.approx(115 / 6)
    assert 1.0 <= s["p1"] < 2.0 and 5.0 < s["p99"] <= 100.0
    assert isinstance(s["min"], float)
    assert slice_stats(a)["min"] == -9999.0
    empty = slice_stats(np.full((2, 2), np.nan))
    assert empty["min"] is None and empty["count_nan"] == 4 and empty["count"] == 0
    assert slice_stats(np.array([0, 0, 7]), fill_value=0)["max"] == 7.0
    assert slice_stats(np.array([True, False, True]))["mean"] == pytest.approx(2 / 3)
    assert slice_stats(np.array([3 + 4j, 0]))["max"] == 5.0
    inf = slice_stats(np.array([1.0, np.inf, 2.0]))
    assert inf["max"] == np.inf and inf["p99"] <= 2.0
    with pytest.raises(InvalidArgument):
        slice_stats(np.array(["a", "b"]))


def test_public_names():
    assert storecore.read_slice is read_slice and storecore.slice_stats is slice_stats
    assert storecore.display_selection is display_selection and storecore.open_container is open_container
    from storecore.containers import Node, create_group, is_container, set_attrs, write_array

    assert storecore.Node is Node and all(callable(f) for f in (create_group, is_container, set_attrs, write_array))
