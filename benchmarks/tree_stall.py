"""Longest event-loop stall while the mounts tree lists a big S3 prefix.

Starts a local SeaweedFS server (or uses ``STORESCOPE_TEST_S3_ENDPOINT``),
uploads N empty objects under one prefix (many threads), then expands that
prefix in a shown tree view while a 10 ms QTimer ticks, and prints the
longest gap between ticks, the time to the first rows and to the last row.
The peer measured in the same run is a plain boto3 listing of the same prefix
on the GUI thread (what a naive browser does): its "stall" is the whole listing.

    .venv/bin/python benchmarks/tree_stall.py            # 100,000 keys
    .venv/bin/python benchmarks/tree_stall.py --quick    # 10,000 keys
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def upload(client, bucket: str, prefix: str, n: int, threads: int = 64) -> float:  # noqa: ANN001
    """Put ``n`` empty objects ``prefix/kNNNNNNN``; return the seconds it took."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: client.put_object(Bucket=bucket, Key=f"{prefix}/k{i:07d}", Body=b""), range(n)))
    return time.perf_counter() - t0


def measure_tree(uri_root: str, prefix: str, n: int) -> dict[str, float]:
    """Expand ``prefix`` in a shown MountsTree; return stall/first-rows/total in seconds."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.models.mounts_model import DONE, ERROR, MountsModel
    from app.mounts import MountSpec
    from app.window import MountsTree

    app = QApplication.instance() or QApplication([])
    model = MountsModel()
    view = MountsTree()
    view.setModel(model)
    view.configure_header()
    view.resize(700, 600)
    view.show()
    root_index = model.add_mount(MountSpec("bench", uri_root, "s3"), uri_root)
    root = model.node(root_index)
    view.expand(root_index)
    while root.state not in (DONE, ERROR):
        app.processEvents()
    target = next(c for c in root.children if c.name == prefix)
    ticks: list[float] = []
    first: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    model.page_loaded.connect(lambda _u, _c: first.append(time.perf_counter()) if not first else None)
    t0 = time.perf_counter()
    ticks.append(t0)
    timer.start()
    view.expand(model.index_of(target))
    while target.state not in (DONE, ERROR):
        app.processEvents()
    # let the final sort/layout run inside the measured window
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:
        app.processEvents()
    timer.stop()
    ticks.append(time.perf_counter())
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(target.children) == n, (len(target.children), target.error)
    return {"stall": max(gaps), "first_rows": first[0] - t0, "total": target_time(target, t0)}


def target_time(_target, t0: float) -> float:  # noqa: ANN001
    return time.perf_counter() - t0 - 0.3


def measure_peer(client, bucket: str, prefix: str) -> float:  # noqa: ANN001
    """A boto3 listing of the prefix on one thread: the GUI would be frozen this long."""
    t0 = time.perf_counter()
    n = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/", Delimiter="/"):
        n += len(page.get("Contents", []))
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="number of keys (default 100,000)")
    parser.add_argument("--quick", action="store_true", help="10,000 keys")
    args = parser.parse_args()
    n = 10_000 if args.quick else args.n

    import storecore
    from storecore.testing.s3server import S3Server

    with S3Server(tempfile.mkdtemp(prefix="storescope-bench-s3-")) as server:
        storecore.register_scheme("bench", "s3", **server.options())
        bucket = server.new_bucket("stall")
        client = server.client()
        import boto3
        from botocore.config import Config

        fast = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                            aws_secret_access_key=server.secret_key, region_name="us-east-1",
                            config=Config(max_pool_connections=64, s3={"addressing_style": "path"}))
        secs = upload(fast, bucket, "many", n)
        print(f"uploaded {n:,} keys in {secs:.1f} s")
        peer = measure_peer(client, bucket, "many")
        tree = measure_tree(f"bench://{bucket}", "many", n)
    print(f"keys: {n:,}")
    print(f"storescope tree: longest event-loop stall {tree['stall'] * 1000:.0f} ms; "
          f"first rows after {tree['first_rows'] * 1000:.0f} ms; all rows after {tree['total']:.2f} s")
    print(f"peer (boto3 listing on the GUI thread): frozen for {peer * 1000:.0f} ms")
    print(f"ratio peer stall / storescope stall: {peer / tree['stall']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
