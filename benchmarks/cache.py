"""Cold vs warm open of one S3 object through storecore's RemoteCache, next to a plain boto3 GET.

Starts its own S3-compatible server on 127.0.0.1, uploads one object, then
measures in one run:

* cold: ``RemoteCache.local_path`` with an empty cache (downloads the object);
* warm: ``local_path`` of the unchanged object (one conditional GET answered 304);
* boto3: ``get_object(...)["Body"].read()`` (into memory), what every open costs
  without a cache, and ``download_file`` (to disk, the fair peer of a cold fill).

It prints the medians and the ratios cold/warm and boto3/warm.

    .venv/bin/python benchmarks/cache.py [--size-mib 64] [--repeat 3] [--warm 20] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import storecore
from storecore.cache import RemoteCache
from storecore.testing.s3server import S3Server


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=4, help="cold opens and boto3 GETs")
    parser.add_argument("--warm", type=int, default=20, help="warm opens")
    parser.add_argument("--quick", action="store_true", help="16 MiB, 2 cold opens, 10 warm opens")
    args = parser.parse_args()
    if args.quick:
        args.size_mib, args.repeat, args.warm = 16, 2, 10
    size = args.size_mib << 20
    with tempfile.TemporaryDirectory() as tmp, S3Server(os.path.join(tmp, "s3")) as server:
        storecore.register_scheme("benchs3", "s3", **server.options())
        bucket = server.new_bucket("bench")
        client = server.client()
        client.put_object(Bucket=bucket, Key="big.bin", Body=os.urandom(size))
        uri = f"benchs3://{bucket}/big.bin"
        cold, warm, plain, to_disk = [], [], [], []
        dst = os.path.join(tmp, "download.bin")

        def download() -> None:
            client.download_file(bucket, "big.bin", dst)
            os.unlink(dst)

        for i in range(args.repeat):
            steps = [
                (cold, lambda c=RemoteCache(os.path.join(tmp, f"cache-{i}")): c.local_path(uri)),
                (plain, lambda: client.get_object(Bucket=bucket, Key="big.bin")["Body"].read()),
                (to_disk, download),
            ]
            if i % 2:  # alternate the order so that no contender always runs first
                steps.reverse()
            for results, fn in steps:
                results.append(timed(fn))
        cache = RemoteCache(os.path.join(tmp, "cache-0"))
        path = cache.local_path(uri)
        assert os.path.getsize(path) == size
        for _ in range(args.warm):
            warm.append(timed(lambda: cache.local_path(uri)))
        assert cache.misses == 0 and cache.hits == args.warm + 1, (cache.misses, cache.hits)
    c, w, p, d = (statistics.median(x) for x in (cold, warm, plain, to_disk))
    print(f"Open of a {args.size_mib} MiB S3 object through RemoteCache (local SeaweedFS):")
    print(f"  cold (download into the cache)   {c * 1000:9.1f} ms   (median of {args.repeat})")
    print(f"  warm (unchanged, 304 revalidate) {w * 1000:9.1f} ms   (median of {args.warm})")
    print(f"  boto3 get_object().read()        {p * 1000:9.1f} ms   (median of {args.repeat})")
    print(f"  boto3 download_file (to disk)    {d * 1000:9.1f} ms   (median of {args.repeat})")
    print(f"  ratio cold/warm:  {c / w:8.1f}x")
    print(f"  ratio cold/boto3 download_file: {c / d:5.2f}x   (cost of filling the cache vs a plain download)")
    print(f"  ratio boto3/warm: {p / w:8.1f}x   (what a cached reopen saves against fetching again)")


if __name__ == "__main__":
    main()
