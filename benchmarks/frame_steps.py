"""Stepping through the frames of one chunk row of the 2 GiB volume: storecore's part-way decoding vs h5py/zarr.

The viewers benchmark's volume (512, 1024, 1024) float32 in (64, 256, 256)
chunks, as HDF5 (gzip-1) and Zarr v3 (zstd).  Each frame of the chunk row
64-127 is read as the plot reads it (16 tiles, ``Node.read_slice(...,
cache=False)``: deflate and zstd chunks decoded only up to the frame, resumed
by the next), and by plain ``h5py``/``zarr`` (``dset[z]``: every touched chunk
decoded whole, through h5py's chunk cache / zarr).  Prints the total and the
slowest step of each, and their ratio, in one run.

    .venv-bench/bin/python benchmarks/frame_steps.py [--frames 64] [--dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)


def steps(read, frames: range) -> tuple[float, float]:
    """(total seconds, slowest step seconds) of ``read(z)`` over ``frames``."""
    t0, worst = time.perf_counter(), 0.0
    for z in frames:
        t = time.perf_counter()
        read(z)
        worst = max(worst, time.perf_counter() - t)
    return time.perf_counter() - t0, worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "storescope-bench-viewers"))
    parser.add_argument("--json", action="store_true", help="end with one JSON object on its own line")
    args = parser.parse_args(argv)
    import h5py
    import zarr
    from viewers import CHUNKS, make_files

    import storecore

    os.makedirs(args.dir, exist_ok=True)
    h5_path, zarr_path = make_files(args.dir, (512, 1024, 1024))
    frames = range(CHUNKS[0], CHUNKS[0] + args.frames)
    side, tile = 1024, CHUNKS[1]
    results = {}
    for fmt, uri in (("hdf5", f"{h5_path}::/data"), ("zarr", f"{zarr_path}::/data")):
        node = storecore.open_container(uri)

        def ours(z: int, node=node) -> None:
            for y in range(0, side, tile):
                for x in range(0, side, tile):
                    node.read_slice((slice(z, z + 1), slice(y, y + tile), slice(x, x + tile)), cache=False)

        ours_total, ours_worst = steps(ours, frames)
        node.close()
        if fmt == "hdf5":
            with h5py.File(h5_path, "r") as f:
                dset = f["data"]
                peer_total, peer_worst = steps(lambda z, d=dset: d[z], frames)
        else:
            arr = zarr.open_array(os.path.join(zarr_path, "data"), mode="r")
            peer_total, peer_worst = steps(lambda z, a=arr: a[z], frames)
        peer = "h5py" if fmt == "hdf5" else "zarr"
        print(f"{fmt}: {len(frames)} frames, storecore {ours_total:.2f} s (slowest step {ours_worst * 1000:.0f} ms), "
              f"{peer} {peer_total:.2f} s (slowest {peer_worst * 1000:.0f} ms): ratio {ours_total / peer_total:.3f}")  # fmt: skip
        results[f"{fmt}_ratio"] = round(ours_total / peer_total, 3)
        results[f"{fmt}_slowest_step_ms"] = round(ours_worst * 1000, 1)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
