"""Regenerate the README's screenshots: ``.venv/bin/python docs/make_screenshots.py``.

Runs the real app offscreen (``storescope --screenshot``) on the demo data in a
temporary data folder, and on a 3-D Zarr array in a local S3 test server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "screenshots"


def shoot(name: str, select: str, env: dict[str, str], mounts: list[str]) -> None:
    """Save ``screenshots/NAME.png`` with ``select`` selected and previewed."""
    cmd = [sys.executable, "-m", "app", "--screenshot", str(OUT / f"{name}.png"), "--select", select, *mounts]
    subprocess.run(cmd, env=env, check=True, timeout=180)
    print("wrote", OUT / f"{name}.png")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STORESCOPE_DATA_DIR=tmp,
                   STORESCOPE_SETTINGS=os.path.join(tmp, "settings.ini"))
        from resources.demo_data import ensure_demo_data

        demo = ensure_demo_data(os.path.join(tmp, "demo"))
        shoot("window", f"{demo}/arrays/volume.zarr::/volume", env, [demo])
        shoot("table", f"{demo}/tables/events.parquet", env, [demo])
        shoot("image", f"{demo}/images/frame.png", env, [demo])
        shoot("hdf5", f"{demo}/arrays/scan.h5", env, [demo])
        # A real NeXus file (APS areaDetector, from the shared corpus beside the checkout): its default plot.
        corpus = HERE.parents[1] / "shared" / "corpus" / "hdf5" / "APS_areaDetector_AgBehenate_228.hdf5"
        if corpus.exists():
            shoot("nexus", str(corpus), env, [str(corpus)])

        import numpy as np

        from storecore.containers import write_array
        from storecore.testing.s3server import S3Server

        with S3Server(os.path.join(tmp, "s3")) as server:
            bucket = server.new_bucket("demo")
            import storecore

            storecore.register_scheme("shots3", "s3", **server.options())
            z, y, x = np.mgrid[0:24, 0:192, 0:256].astype("f4")
            volume = np.sin(x / 17 + z / 5) * np.cos(y / 23) + 0.2 * np.sin((x + y) / 7)
            write_array(f"shots3://{bucket}/scan.zarr::/raw/volume", volume.astype("f4"), chunks=(1, 96, 128))
            s3env = dict(env, AWS_ENDPOINT_URL=server.endpoint, AWS_ACCESS_KEY_ID=server.access_key,
                         AWS_SECRET_ACCESS_KEY=server.secret_key, AWS_DEFAULT_REGION="us-east-1")
            shoot("s3-zarr", f"s3://{bucket}/scan.zarr::/raw/volume", s3env, [f"s3://{bucket}"])


if __name__ == "__main__":
    main()
