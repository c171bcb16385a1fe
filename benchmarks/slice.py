"""Opening a ≥ 2 GiB chunked 3-D float32 volume and reading 2-D planes: storecore vs plain zarr/h5py.

Builds the volume as Zarr v3 (zstd) and HDF5 (shuffle+gzip) in a temporary
folder, uploads both to an S3 server started on 127.0.0.1, then times, in one
run and alternating who goes first:

* open      — open the store/file and get the array,
* plane     — read the middle plane ``vol[n0 // 2]`` (cold),
* again     — read the same plane again (going back to a frame),
* overview  — a display-sized overview of the side plane ``vol[:, n1 // 2, :]``
              (selection from ``display_selection``; the peer reads the same selection).

Peers: local — ``zarr.open_array(path)`` and ``h5py.File(path)`` with default
settings; S3 — zarr's ``FsspecStore`` on s3fs, and h5py over an s3fs file (the
``.venv-bench`` environment has s3fs).  Bytes read: local — the process's
``rchar`` (bytes returned by read system calls); S3 — bytes fetched from the
server (storecore's counters; an s3fs fetcher wrapper / zarr store wrapper for
the peers).

To keep building and uploading fast, the volume repeats 16 distinct smooth,
quantised chunks (every chunk is still stored, fetched and decoded on its own);
it compresses about 12×, and the stored sizes are printed.

    .venv-bench/bin/python benchmarks/slice.py [--quick] [--repeat 3] [--serial]

``--serial`` turns off storecore's parallel HDF5 chunk decoding (h5py decodes, as before it).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

import storecore
from storecore.containers import display_selection, open_container
from storecore.containers.zarr_store import CountingStore
from storecore.testing.s3server import S3Server, find_weed
from storecore.transfer import copy

VARIANTS = 16


# -- building the volume ------------------------------------------------------------------------
def chunk_variant(v: int, chunks: tuple[int, int, int]) -> np.ndarray:
    """A smooth field quantised to 1/32: compresses ~12× with zstd or shuffle+gzip."""
    z, y, x = np.ogrid[0 : chunks[0], 0 : chunks[1], 0 : chunks[2]]
    f = np.sin((x + 17 * v) / 23.0) * np.cos((y - 5 * v) / 31.0) + 0.1 * np.sin(z / 3.0 + v)
    return (np.round(f * 32) / 32).astype("f4")


def variant_of(idx: tuple[int, ...]) -> int:
    i, j, k = idx
    return (7 * i + 3 * j + k) % VARIANTS


def grid(shape: tuple[int, ...], chunks: tuple[int, ...]) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(s // c) for s, c in zip(shape, chunks, strict=True))))


def build_zarr(path: str, shape: tuple[int, ...], chunks: tuple[int, int, int]) -> None:
    """zarr encodes one chunk per variant; the other chunk files are copies of those."""
    import zarr

    z = zarr.create_array(path, shape=shape, chunks=chunks, dtype="f4")
    written: dict[int, str] = {}
    for idx in grid(shape, chunks):
        v = variant_of(idx)
        dst = os.path.join(path, "c", *map(str, idx))
        if v not in written:
            z[tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, chunks, strict=True))] = chunk_variant(v, chunks)
            written[v] = dst
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(written[v], dst)


def build_hdf5(path: str, shape: tuple[int, ...], chunks: tuple[int, int, int]) -> None:
    """Chunks written pre-filtered (shuffle, then deflate level 1) with write_direct_chunk."""
    import h5py

    packed = []
    for v in range(VARIANTS):
        raw = chunk_variant(v, chunks)
        shuffled = raw.view(np.uint8).reshape(-1, 4).T.tobytes()
        packed.append(zlib.compress(shuffled, 1))
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data", shape=shape, chunks=chunks, dtype="f4", compression="gzip", shuffle=True)
        for idx in grid(shape, chunks):
            ds.id.write_direct_chunk(tuple(i * c for i, c in zip(idx, chunks, strict=True)), packed[variant_of(idx)])


def tree_size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


# -- measuring ----------------------------------------------------------------------------------
def rchar() -> int:
    """Bytes this process has received from read system calls so far."""
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


class Side:
    """One contender for one case: ``open()`` → array-like, ``read(sel)``, ``bytes()``, ``close()``."""

    def __init__(self, name: str, opener: Callable[[], tuple[Any, Callable[[], int], Callable[[], None]]]) -> None:
        self.name = name
        self.opener = opener

    def run(self, mid: tuple, overview: tuple) -> dict[str, tuple[float, int, np.ndarray | None]]:
        out: dict[str, tuple[float, int, np.ndarray | None]] = {}
        base = rchar()
        t0 = time.perf_counter()
        arr, counter, closer = self.opener()
        out["open"] = (time.perf_counter() - t0, counter() if counter is not rchar else rchar() - base, None)
        try:
            for op, sel in (("plane", mid), ("again", mid), ("overview", overview)):
                b0 = counter()
                t0 = time.perf_counter()
                data = np.asarray(arr[sel])
                out[op] = (time.perf_counter() - t0, counter() - b0, data)
        finally:
            closer()
        return out


def local_sides(fmt: str, path: str) -> list[Side]:
    def ours() -> tuple[Any, Callable[[], int], Callable[[], None]]:
        node = open_container(path + ("::/data" if fmt == "hdf5" else ""))
        return node, rchar, node.close

    def peer() -> tuple[Any, Callable[[], int], Callable[[], None]]:
        if fmt == "zarr":
            import zarr

            return zarr.open_array(path, mode="r"), rchar, lambda: None
        import h5py

        f = h5py.File(path, "r")
        return f["data"], rchar, f.close

    return [Side("storecore", ours), Side("zarr" if fmt == "zarr" else "h5py", peer)]


def s3_sides(fmt: str, uri: str, server: S3Server, bucket: str, key: str) -> list[Side]:
    def ours() -> tuple[Any, Callable[[], int], Callable[[], None]]:
        node = open_container(uri + ("::/data" if fmt == "hdf5" else ""))
        c = node.container
        counter = (lambda: c.counter.bytes_read) if fmt == "zarr" else (lambda: c.reader.bytes_read)
        return node, counter, node.close

    try:
        import s3fs
    except ImportError:
        print(f"  (s3fs is not installed: no S3 peer for {fmt}; run with .venv-bench/bin/python)")
        return [Side("storecore", ours)]
    options = {
        "key": server.access_key,
        "secret": server.secret_key,
        "client_kwargs": {"endpoint_url": server.endpoint, "region_name": "us-east-1"},
    }

    def peer() -> tuple[Any, Callable[[], int], Callable[[], None]]:
        if fmt == "zarr":
            import zarr
            from zarr.storage import FsspecStore

            store = CountingStore(FsspecStore.from_url(f"s3://{bucket}/{key}", storage_options=options, read_only=True))
            return zarr.open_array(store=store, mode="r"), lambda: store.counter.bytes_read, lambda: None
        import h5py

        fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
        fh = fs.open(f"{bucket}/{key}", "rb")
        fetched = [0]
        fetch = fh.cache.fetcher

        def counting(start: int, end: int) -> bytes:
            data = fetch(start, end)
            fetched[0] += len(data)
            return data

        fh.cache.fetcher = counting
        f = h5py.File(fh, "r")

        def close() -> None:
            f.close()
            fh.close()

        return f["data"], lambda: fetched[0], close

    return [Side("storecore", ours), Side("zarr+s3fs" if fmt == "zarr" else "h5py+s3fs", peer)]


def compare(case: str, sides: list[Side], mid: tuple, overview: tuple, repeat: int) -> None:
    results: dict[str, dict[str, list[tuple[float, int]]]] = {s.name: {} for s in sides}
    for r in range(repeat):
        order = sides if r % 2 == 0 else list(reversed(sides))
        arrays: dict[str, dict[str, np.ndarray | None]] = {}
        for side in order:
            res = side.run(mid, overview)
            arrays[side.name] = {op: v[2] for op, v in res.items()}
            for op, (t, b, _) in res.items():
                results[side.name].setdefault(op, []).append((t, b))
        if len(sides) == 2:  # both must have read the same values
            a, b = (arrays[s.name] for s in sides)
            for op in ("plane", "overview"):
                np.testing.assert_array_equal(a[op], b[op])
    ours = results["storecore"]
    peer_name = sides[1].name if len(sides) == 2 else None
    print(f"\n{case}")
    head = f"  {'step':<9} {'storecore':>11} {'MB read':>8}"
    if peer_name:
        head += f"   {peer_name:>11} {'MB read':>8}   {'peer/storecore time':>19}"
    print(head)
    for op in ("open", "plane", "again", "overview"):
        t_ours = statistics.median(t for t, _ in ours[op])
        b_ours = statistics.median(b for _, b in ours[op])
        line = f"  {op:<9} {t_ours * 1000:>9.1f}ms {b_ours / 1e6:>8.2f}"
        if peer_name:
            peer = results[peer_name][op]
            t_peer = statistics.median(t for t, _ in peer)
            b_peer = statistics.median(b for _, b in peer)
            line += f"   {t_peer * 1000:>9.1f}ms {b_peer / 1e6:>8.2f}   {t_peer / t_ours:>18.2f}×"
        print(line)


def ensure_weed() -> None:
    """The benchmark venv may lack the server binary: fall back to the project's test venv."""
    if find_weed() is None:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        os.environ["PATH"] = os.path.join(repo, ".venv", "bin") + os.pathsep + os.environ.get("PATH", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 128 MiB volume instead of 2 GiB")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per case (median reported)")
    parser.add_argument(
        "--serial",
        action="store_true",
        help="storecore reads HDF5 chunks through h5py only (no parallel decode): the 'before' figures",
    )
    args = parser.parse_args()
    if args.serial:
        from storecore.containers import h5chunks

        h5chunks.plan = lambda *a, **k: h5chunks.Plan(False, "disabled by --serial")
    shape = (128, 512, 512) if args.quick else (512, 1024, 1024)
    chunks = (16, 256, 256)
    mid = (shape[0] // 2,)
    overview = display_selection(shape, axes=(0, 2), index={1: shape[1] // 2}, target=(256, 256),
                                 max_bytes=64 << 20, itemsize=4, chunks=chunks)
    logical = int(np.prod(shape)) * 4
    with tempfile.TemporaryDirectory(prefix="storescope-bench-") as tmp:
        t0 = time.perf_counter()
        zpath, hpath = os.path.join(tmp, "vol.zarr"), os.path.join(tmp, "vol.h5")
        build_zarr(zpath, shape, chunks)
        build_hdf5(hpath, shape, chunks)
        print(f"volume {shape} float32 = {logical / 2**30:.2f} GiB logical, chunks {chunks} "
              f"({int(np.prod(chunks)) * 4 >> 20} MiB raw); built in {time.perf_counter() - t0:.1f}s")
        print(f"stored: zarr {tree_size(zpath) / 1e6:.1f} MB, hdf5 {tree_size(hpath) / 1e6:.1f} MB "
              f"(ratio {logical / tree_size(zpath):.1f}× / {logical / tree_size(hpath):.1f}×)")
        print(f"plane = vol[{mid[0]}]; overview = vol{overview} (display_selection, 256 px target)")
        ensure_weed()
        server = S3Server(os.path.join(tmp, "s3")).start()
        try:
            bucket = server.new_bucket("bench")
            storecore.register_scheme("bench", "s3", **server.options())
            t0 = time.perf_counter()
            copy(zpath, f"bench://{bucket}/vol.zarr")
            copy(hpath, f"bench://{bucket}/vol.h5")
            print(f"uploaded both to the local S3 server in {time.perf_counter() - t0:.1f}s")
            cases = [
                ("Zarr, local disk", local_sides("zarr", zpath)),
                ("HDF5, local disk", local_sides("hdf5", hpath)),
                ("Zarr, S3 (SeaweedFS on 127.0.0.1)", s3_sides("zarr", f"bench://{bucket}/vol.zarr", server, bucket, "vol.zarr")),
                ("HDF5, S3 (SeaweedFS on 127.0.0.1)", s3_sides("hdf5", f"bench://{bucket}/vol.h5", server, bucket, "vol.h5")),
            ]
            for case, sides in cases:
                compare(case, sides, mid, overview, args.repeat)
        finally:
            # stop() rather than close(): close() also deletes every /tmp/seaweedfs-*.sock,
            # including those of servers other processes are running.
            server.stop()
    print("\n(times are medians; 'peer/storecore time' > 1 means storecore was faster; "
          "local files sit in the OS page cache after the build)")


if __name__ == "__main__":
    main()
