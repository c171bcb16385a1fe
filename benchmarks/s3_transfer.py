"""Upload and download MB/s of one large object: storecore's S3 backend vs plain boto3.

Starts its own S3-compatible server on 127.0.0.1 and measures, in one run,
``S3Backend.write_from`` / ``read_to`` next to boto3's ``upload_file`` /
``download_file`` with default settings, printing MB/s and the ratio.

    .venv/bin/python benchmarks/s3_transfer.py [--size-mib 256] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from storecore.backends.s3 import S3Backend
from storecore.testing.s3server import S3Server


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def one_round(i, src, dst, size, client, bucket, ours, results) -> None:
    """One upload + download by each side; the order alternates so neither always goes first."""

    def boto3_up() -> None:
        client.upload_file(src, bucket, f"boto3-{i}.bin")

    def ours_up() -> None:
        with open(src, "rb") as f:
            ours.write_from(f"sc-{i}.bin", f, size=size)

    def boto3_down() -> None:
        client.download_file(bucket, f"boto3-{i}.bin", dst)

    def ours_down() -> None:
        with open(dst, "wb") as f:
            ours.read_to(f"sc-{i}.bin", f)

    steps = [("boto3 up", boto3_up), ("storecore up", ours_up)]
    downs = [("boto3 down", boto3_down), ("storecore down", ours_down)]
    if i % 2:
        steps.reverse()
        downs.reverse()
    for name, fn in steps + downs:
        results[name].append(timed(fn))
        if "down" in name:
            assert os.path.getsize(dst) == size
            os.unlink(dst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="64 MiB, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.size_mib, args.repeat = 64, 1
    size = args.size_mib << 20
    with tempfile.TemporaryDirectory() as tmp, S3Server(os.path.join(tmp, "s3")) as server:
        bucket = server.new_bucket("bench")
        src = os.path.join(tmp, "src.bin")
        with open(src, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        client = server.client()
        ours = S3Backend(bucket, **server.options())
        dst = os.path.join(tmp, "dst.bin")
        results: dict[str, list[float]] = {k: [] for k in ("boto3 up", "storecore up", "boto3 down", "storecore down")}
        for i in range(args.repeat):
            one_round(i, src, dst, size, client, bucket, ours, results)
    mbps = {k: (size / 1e6) / statistics.median(v) for k, v in results.items()}
    print(f"S3 transfer of a {args.size_mib} MiB object (median of {args.repeat}), local SeaweedFS:")
    for k, v in mbps.items():
        print(f"  {k:<15} {v:8.1f} MB/s")
    print(f"  upload   storecore/boto3 = {mbps['storecore up'] / mbps['boto3 up']:.2f}x")
    print(f"  download storecore/boto3 = {mbps['storecore down'] / mbps['boto3 down']:.2f}x")


if __name__ == "__main__":
    main()
