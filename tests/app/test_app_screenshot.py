"""The ``storescope`` command as a user runs it: screenshots, quick start, demo data."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_storescope(args: list[str], tmp_path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m app.main ARGS`` offscreen with isolated settings and data dirs."""
    # PYTHONFAULTHANDLER: a crash of the app's process leaves every thread's stack in the stderr the tests show.
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STORESCOPE_SETTINGS=str(tmp_path / "settings.ini"),
               STORESCOPE_DATA_DIR=str(tmp_path / "data"), PYTHONFAULTHANDLER="1")
    return subprocess.run([sys.executable, "-m", "app.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def image_stats(path: str) -> tuple[int, int, int]:
    """(width, height, number of distinct colours in a sample) of a PNG."""
    from PIL import Image

    with Image.open(path) as img:
        rgb = img.convert("RGB")
        small = rgb.resize((200, 120))
        return rgb.width, rgb.height, len({small.getpixel((x, y)) for x in range(small.width) for y in range(small.height)})


def test_screenshot_of_a_selected_array_writes_a_real_png(tmp_path):
    import h5py
    import numpy as np

    data = tmp_path / "mount"
    data.mkdir()
    (data / "notes.txt").write_text("hello")
    with h5py.File(data / "run.h5", "w") as f:
        f.create_dataset("entry/data", data=np.random.default_rng(0).random((3, 64, 64), dtype="float32"))
    shot = tmp_path / "shot.png"
    result = run_storescope(["--screenshot", str(shot), str(data), "--select", f"{data}/run.h5::/entry/data"],
                            tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "still loading" not in result.stderr
    width, height, colours = image_stats(str(shot))
    assert (width, height) == (1500, 920)
    assert colours > 50  # text, icons and the plotted array: not a blank window
    # screenshot mode does not save the mounts it was given
    assert not os.path.exists(tmp_path / "settings.ini") or str(data) not in open(tmp_path / "settings.ini").read()


def test_quit_after_show_exits_zero_quickly(tmp_path):
    t0 = time.perf_counter()
    result = run_storescope(["--quit-after-show"], tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.perf_counter() - t0 < 30


def test_bad_select_still_finishes(tmp_path):
    shot = tmp_path / "shot.png"
    result = run_storescope(["--screenshot", str(shot), str(tmp_path), "--select", str(tmp_path / "missing.txt")],
                            tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.path.getsize(shot) > 1000


@pytest.mark.slow
def test_demo_data_generator_builds_the_whole_set(tmp_path):
    import h5py
    import polars as pl
    import zarr

    from resources.demo_data import ensure_demo_data

    root = ensure_demo_data(tmp_path / "demo")
    assert ensure_demo_data(tmp_path / "demo") == root  # second call: already complete, nothing rebuilt
    assert pl.scan_parquet(os.path.join(root, "tables", "events.parquet")).select(pl.len()).collect().item() == 1_000_000
    vol = zarr.open_group(os.path.join(root, "arrays", "volume.zarr"), mode="r")["volume"]
    assert vol.shape == (32, 256, 256) and vol.ndim == 3
    with h5py.File(os.path.join(root, "arrays", "scan.h5"), "r") as f:
        assert f["entry"].attrs["NX_class"] == "NXentry"
        assert isinstance(f.get("latest", getlink=True), h5py.SoftLink)
        assert isinstance(f.get("calibration", getlink=True), h5py.ExternalLink)
        assert f["calibration"].shape == (256, 256)
    for rel in ("tables/events_head.csv", "tables/runs.json", "images/frame.png", "images/colours.jpg",
                "notes/README.txt", "notes/notes.md"):
        assert os.path.getsize(os.path.join(root, rel)) > 0
    assert not any(name.startswith(".") for name in os.listdir(root))
