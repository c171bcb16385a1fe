"""Past one machine: find over an S3 Inventory vs a LIST-based find, and node.to_dask() vs dask.array.from_zarr.

1. An inventory of 10 M objects (Parquet, the layout AWS writes) in a SeaweedFS
   S3 server started here: ``storecore.find(..., inventory=...)`` by name
   (``*.h5``, 10,000 matches) and by size (``min_size="5M"``), timed to the last
   match.  Against it: the same finds listing a bucket of 100,000 real keys
   (1,000 keys a LIST request), extrapolated linearly to 10 M keys.
3. 2,000 objects (64 KiB) copied local → S3 and verified by the local queue and by
   ``TransferQueue(cluster=...)`` on a LocalCluster of 1, 2 and 4 worker processes.
2. A float32 Zarr volume (512 MiB; chunks of 4 MiB) on local disk and on the S3
   server: ``node.to_dask().mean().compute()`` vs ``dask.array.from_zarr`` on the
   same store (local path; on S3 through s3fs when the benchmark environment has it),
   both on dask's threaded scheduler.

    .venv-bench/bin/python benchmarks/scale.py [--quick]      # --quick: 1 M rows, 10,000 keys, 64 MiB
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import io
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import storecore  # noqa: E402
from storecore.testing.s3server import S3Server, find_weed  # noqa: E402


def ensure_weed() -> None:
    if find_weed() is None:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        os.environ["PATH"] = os.path.join(repo, ".venv", "bin") + os.pathsep + os.environ.get("PATH", "")


def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# -- 1. inventory vs listing ------------------------------------------------------------------------
def inventory_frame(source: str, start: int, n: int) -> Any:
    """Rows ``start .. start+n``: data/dNN/fI.{h5|bin}; every 1000th an .h5 of 10 MB, else i % 5000 bytes."""
    import polars as pl

    i = pl.int_range(start, start + n)
    return pl.select(
        bucket=pl.lit(source),
        key=pl.format(
            "data/d{}/f{}.{}", i % 100, i, pl.when(i % 1000 == 0).then(pl.lit("h5")).otherwise(pl.lit("bin"))
        ),
        size=pl.when(i % 1000 == 0).then(10_000_000).otherwise(i % 5000).cast(pl.Int64),
        last_modified_date=pl.lit(0).cast(pl.Datetime("ms", "UTC")),
        e_tag=i.cast(pl.String).str.zfill(32),
        storage_class=pl.lit("STANDARD"),
    )


def write_inventory(scheme: str, inv_bucket: str, source: str, rows: int, per_file: int = 1_000_000) -> str:
    backend, _ = storecore.backend_for(f"{scheme}://{inv_bucket}/")
    config = f"inv/{source}/daily"
    files = []
    for start in range(0, rows, per_file):
        buf = io.BytesIO()
        inventory_frame(source, start, min(per_file, rows - start)).write_parquet(buf, row_group_size=100_000)
        key = f"{config}/data/part-{start // per_file:04d}.parquet"
        backend.write_bytes(key, buf.getvalue())
        files.append({"key": key, "size": buf.tell(), "MD5checksum": "0" * 32})
    manifest = {"sourceBucket": source, "destinationBucket": f"arn:aws:s3:::{inv_bucket}", "fileFormat": "Parquet",
                "fileSchema": "message s3.inventory { required binary key (STRING); }",
                "creationTimestamp": str(int(time.time() * 1000)), "files": files}  # fmt: skip
    backend.write_bytes(f"{config}/2026-12-02T01-00Z/manifest.json", json.dumps(manifest).encode())
    return f"{scheme}://{inv_bucket}/inv/"


def fill_bucket(scheme: str, bucket: str, keys: int) -> None:
    backend, _ = storecore.backend_for(f"{scheme}://{bucket}/")

    def put(i: int) -> None:
        name = f"data/d{i % 100}/f{i}.{'h5' if i % 1000 == 0 else 'bin'}"
        backend.write_bytes(name, b"x" * (10_000 if i % 1000 == 0 else i % 50))

    with cf.ThreadPoolExecutor(32) as pool:
        list(pool.map(put, range(keys)))


def bench_find(scheme: str, server: S3Server, rows: int, keys: int) -> None:
    from storecore.search import clear_listing_cache

    inv_bucket = server.new_bucket("inv")
    source = "not-listed-bucket"
    t, inv = timed(lambda: write_inventory(scheme, inv_bucket, source, rows))
    print(f"\ninventory: {rows:,} rows in {max(1, rows // 1_000_000)} Parquet file(s), written in {t:.1f}s")
    root = f"{scheme}://{source}/"
    t_name, hits = timed(lambda: list(storecore.find(root, name="*.h5", inventory=inv)))
    t_size, big = timed(lambda: list(storecore.find(root, min_size="5M", inventory=inv)))
    print(f"  find name='*.h5' : {t_name * 1000:8.0f} ms, {len(hits):,} matches (no request to the bucket)")
    print(f"  find min_size=5M : {t_size * 1000:8.0f} ms, {len(big):,} matches")

    bucket = server.new_bucket("list")
    t, _ = timed(lambda: fill_bucket(scheme, bucket, keys))
    print(f"bucket: {keys:,} keys uploaded in {t:.1f}s")
    root = f"{scheme}://{bucket}/"
    clear_listing_cache()
    t_lname, lhits = timed(lambda: list(storecore.find(root, name="*.h5", use_cache=False, into_containers=False)))
    clear_listing_cache()
    t_lsize, _ = timed(lambda: list(storecore.find(root, min_size="5k", use_cache=False, into_containers=False)))
    scale = rows / keys
    print(
        f"  LIST find name='*.h5' : {t_lname * 1000:8.0f} ms, {len(lhits):,} matches "
        f"-> {rows:,} keys ≈ {t_lname * scale:7.1f} s (extrapolated)"
    )
    print(f"  LIST find min_size=5k : {t_lsize * 1000:8.0f} ms -> {rows:,} keys ≈ {t_lsize * scale:7.1f} s")
    print(
        f"  inventory vs LIST (same {rows:,} keys): by name {t_lname * scale / t_name:.0f}×, "
        f"by size {t_lsize * scale / t_size:.0f}× faster"
    )


# -- 2. to_dask vs from_zarr ----------------------------------------------------------------------
def bench_dask(scheme: str, server: S3Server, tmp: str, mib: int) -> None:
    import dask
    import dask.array as da
    import zarr

    from storecore.containers import open_container

    side = 512
    depth = mib * 1024 * 1024 // (side * side * 4)
    shape, chunks = (depth, side, side), (4, side, side)
    path = os.path.join(tmp, "vol.zarr")
    z = zarr.create_array(path, shape=shape, chunks=chunks, dtype="f4")
    rng = np.random.default_rng(0)
    for i in range(0, depth, 4):
        z[i : i + 4] = rng.random((min(4, depth - i), side, side), dtype="f4")
    bucket = server.new_bucket("dask")
    storecore.transfer.copy(path, f"{scheme}://{bucket}/vol.zarr")
    print(f"\nvolume {shape} float32 = {mib} MiB, chunks {chunks} (4 MiB)")

    def ours(uri: str) -> float:
        with open_container(uri) as node:  # a fresh container each round: no slice cache from the last one
            return float(node.to_dask().mean().compute())

    def median(fn: Any, repeat: int = 3) -> tuple[float, float]:
        runs = [timed(fn) for _ in range(repeat)]
        return sorted(t for t, _ in runs)[repeat // 2], runs[0][1]

    with dask.config.set(scheduler="threads"):
        da.ones((4, 4), chunks=2).mean().compute()  # warm-up: dask's own imports are not the store's cost
        t_ours, m1 = median(lambda: ours(path))
        t_peer, m2 = median(lambda: float(da.from_zarr(path).mean().compute()))
        assert abs(m1 - m2) < 1e-4
        print(
            f"  local: node.to_dask().mean() {t_ours * 1000:6.0f} ms   da.from_zarr(path).mean() {t_peer * 1000:6.0f} ms"
            f"   ratio {t_peer / t_ours:.2f}×   (medians of 3)"
        )
        t_s3, m3 = median(lambda: ours(f"{scheme}://{bucket}/vol.zarr"))
        assert abs(m3 - m1) < 1e-4
        line = f"  S3:    node.to_dask().mean() {t_s3 * 1000:6.0f} ms"
        try:
            import s3fs  # noqa: F401

            opts = server.options()
            so = {"key": opts["aws_access_key_id"], "secret": opts["aws_secret_access_key"],
                  "client_kwargs": {"endpoint_url": opts["endpoint_url"], "region_name": "us-east-1"}}  # fmt: skip
            url = f"s3://{bucket}/vol.zarr"
            t_s3p, m4 = median(lambda: float(da.from_zarr(url, storage_options=so).mean().compute()))
            assert abs(m4 - m1) < 1e-4
            line += f"   da.from_zarr(s3fs).mean() {t_s3p * 1000:6.0f} ms   ratio {t_s3p / t_s3:.2f}×"
        except ImportError:
            line += "   (s3fs not installed: no from_zarr peer on S3)"
        print(line)


# -- 3. a copy of many objects on a dask LocalCluster vs the local queue --------------------------------------------
def bench_cluster_copy(scheme: str, server: S3Server, tmp: str, files: int) -> None:
    """``files`` × 64 KiB local → S3, verified: the local queue, then TransferQueue(cluster=...) with 1, 2, 4 workers."""
    import distributed

    from storecore.transfer import TransferQueue

    src = os.path.join(tmp, "objects")
    for i in range(files):
        d = os.path.join(src, f"d{i % 20:02d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
            f.write(os.urandom(64 * 1024))
    total = files * 64 * 1024
    print(f"\ncopy {files:,} × 64 KiB local → S3, every file verified ({os.cpu_count()} cores here)")

    def run(cluster: Any, name: str) -> float:
        bucket = server.new_bucket("cp")
        with TransferQueue(cluster=cluster, history=None) as queue:
            queue.cluster_batch_files = max(50, files // 16)
            t, job = timed(lambda: queue.submit(src, f"{scheme}://{bucket}/o").wait() and queue.jobs[-1])
        assert job.state == "done" and job.summary()["verified"] == files, job.error
        print(f"  {name:<28} {t:6.2f} s  {total / t / 1e6:7.1f} MB/s")
        return t

    local = run(None, "local queue")
    for n in (1, 2, 4):
        with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                      worker_dashboard_address=None) as cluster:  # fmt: skip
            t = run(cluster.scheduler_address, f"LocalCluster, {n} worker(s)")
        print(f"  {'':<28} {local / t:.2f}× the local queue's rate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 M inventory rows, 10,000 keys, a 64 MiB volume")
    args = parser.parse_args()
    rows, keys, mib = (1_000_000, 10_000, 64) if args.quick else (10_000_000, 100_000, 512)
    ensure_weed()
    tmp = tempfile.mkdtemp(prefix="storescope-bench-")
    server = S3Server(os.path.join(tmp, "s3")).start()
    try:
        storecore.register_scheme("bench", "s3", **server.options())
        bench_find("bench", server, rows, keys)
        try:
            import dask.array  # noqa: F401
        except ImportError:
            print("\n(dask is not installed here: pip install 'storescope[cluster]' for the to_dask figures)")
        else:
            bench_dask("bench", server, tmp, mib)
            bench_cluster_copy("bench", server, tmp, 300 if args.quick else 2000)
    finally:
        server.stop()  # stop(), not close(): close() deletes every /tmp/seaweedfs-*.sock
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
