"""Start-up time: ``storescope --quit-after-show`` against a bare ``import PySide6.QtWidgets``.

Both run as fresh processes (median of 5, offscreen, isolated settings so the
user's mounts do not matter).  The peer is the floor any PySide6 app pays; the
ratio says how much the window adds on top.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall-clock seconds of one run of ``cmd`` (must exit 0)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 runs")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    tmp = tempfile.mkdtemp(prefix="storescope-startup-")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STORESCOPE_SETTINGS=os.path.join(tmp, "s.ini"),
               STORESCOPE_DATA_DIR=os.path.join(tmp, "data"))
    app_cmd = [sys.executable, "-m", "app.main", "--quit-after-show"]
    peer_cmd = [sys.executable, "-c", "import PySide6.QtWidgets"]
    timed(app_cmd, env)  # warm the OS file cache once for both
    timed(peer_cmd, env)
    app_times = [timed(app_cmd, env) for _ in range(runs)]
    peer_times = [timed(peer_cmd, env) for _ in range(runs)]
    app_s, peer_s = statistics.median(app_times), statistics.median(peer_times)
    print(f"storescope --quit-after-show: median {app_s * 1000:.0f} ms over {runs} runs "
          f"({', '.join(f'{t * 1000:.0f}' for t in app_times)})")
    print(f"python -c 'import PySide6.QtWidgets': median {peer_s * 1000:.0f} ms "
          f"({', '.join(f'{t * 1000:.0f}' for t in peer_times)})")
    print(f"ratio storescope / bare PySide6 import: {app_s / peer_s:.2f}x; window cost on top: "
          f"{(app_s - peer_s) * 1000:.0f} ms (target: window on screen < 500 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
