"""The PyInstaller bundle builds and starts (run only with STORESCOPE_TEST_BUILD=1: it takes ~1 min)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.build,
    pytest.mark.skipif(os.environ.get("STORESCOPE_TEST_BUILD") != "1", reason="set STORESCOPE_TEST_BUILD=1 to build the bundle"),
]


def test_bundle_builds_and_writes_a_screenshot(tmp_path):
    build = subprocess.run([str(ROOT / "scripts" / "build")], capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stderr[-3000:]
    exe = ROOT / "dist" / "storescope" / "storescope"
    assert exe.exists()
    import h5py
    import numpy as np

    with h5py.File(tmp_path / "scan.h5", "w") as f:  # the preview must import h5py, numpy, pyqtgraph frozen
        f.create_dataset("entry/data", data=np.random.default_rng(0).random((4, 64, 64), dtype="f4"), chunks=(1, 64, 64))
    shot = tmp_path / "shot.png"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    run = subprocess.run([str(exe), "--screenshot", str(shot), "--select", f"{tmp_path}/scan.h5::/entry/data", str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert sys.executable not in run.stderr
