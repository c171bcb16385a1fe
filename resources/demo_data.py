"""Builds the demo data set that Storescope opens on when nothing is mounted.

``ensure_demo_data()`` creates, once, in the user data directory: a 3-D Zarr
array (with a 2-level multiscale pyramid), an HDF5 file with groups,
attributes, a soft link and an external link, a 1,000,000-row parquet table,
a CSV, JSON, PNG images and text.  It is written to a temporary folder first
and renamed into place, so an interrupted run never leaves a half-built set.
Run it directly (``python -m resources.demo_data [DIR]``) to build it elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

#: written next to the demo folder (not inside, so it does not show in the tree) once it is complete
MARKER_SUFFIX = ".complete-v1"


def demo_dir() -> Path:
    """Where the demo set lives: ``$STORESCOPE_DATA_DIR/demo`` or the platform's user data dir."""
    base = os.environ.get("STORESCOPE_DATA_DIR")
    if not base:
        import platformdirs

        base = platformdirs.user_data_dir("storescope", appauthor=False)
    return Path(base) / "demo"


def ensure_demo_data(directory: str | os.PathLike[str] | None = None) -> str:
    """Return the demo folder, building it first if it is missing or incomplete."""
    target = Path(directory) if directory is not None else demo_dir()
    marker = target.with_name(target.name + MARKER_SUFFIX)
    if marker.exists() and target.is_dir():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=target.parent))
    try:
        build(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        marker.write_text("complete\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(target)


def build(root: Path) -> None:
    """Write every demo file into the (empty) folder ``root``."""
    import numpy as np

    rng = np.random.default_rng(17)
    (root / "arrays").mkdir()
    (root / "tables").mkdir()
    (root / "images").mkdir()
    (root / "notes").mkdir()
    volume = _volume(np)
    _zarr(root / "arrays" / "volume.zarr", volume)
    _hdf5(root / "arrays" / "scan.h5", root / "arrays" / "calibration.h5", volume, rng, np)
    np.save(root / "arrays" / "spectrum.npy", np.sin(np.linspace(0, 20, 4096)).astype("float32"))
    _tables(root / "tables", rng, np)
    _images(root / "images", volume, np)
    _text(root / "notes")


def _volume(np):  # noqa: ANN001, ANN202 - numpy module passed in to keep imports lazy
    """A 32×256×256 float32 volume: blobs that drift through the stack."""
    z, y, x = np.meshgrid(np.arange(32), np.linspace(-1, 1, 256), np.linspace(-1, 1, 256), indexing="ij")
    t = z / 31.0
    vol = np.exp(-((x - 0.5 * np.cos(6 * t)) ** 2 + (y - 0.5 * np.sin(6 * t)) ** 2) * 12)
    vol += 0.6 * np.exp(-((x + 0.3) ** 2 + (y + 0.2) ** 2) * 5) * (1 + np.sin(10 * t))
    vol += 0.15 * np.sin(12 * x) * np.cos(9 * y)
    return vol.astype("float32")


def _zarr(path: Path, volume) -> None:  # noqa: ANN001
    import zarr

    root = zarr.open_group(str(path), mode="w")
    root.attrs.update({"description": "Demo volume: drifting blobs", "units": "counts", "sample": "LK-17"})
    a = root.create_array("volume", shape=volume.shape, chunks=(8, 128, 128), dtype="float32")
    a[...] = volume
    a.attrs["_ARRAY_DIMENSIONS"] = ["z", "y", "x"]
    half = root.create_array("volume_half", shape=(32, 128, 128), chunks=(8, 128, 128), dtype="float32")
    half[...] = volume[:, ::2, ::2]
    labels = root.create_group("labels")
    mask = labels.create_array("mask", shape=(256, 256), chunks=(128, 128), dtype="uint8")
    mask[...] = (volume[16] > 0.5).astype("uint8")


def _hdf5(path: Path, external: Path, volume, rng, np) -> None:  # noqa: ANN001
    import h5py

    with h5py.File(external, "w") as f:
        f.create_dataset("dark", data=rng.normal(100, 3, size=(256, 256)).astype("float32"))
        f.attrs["detector"] = "demo-cam"
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "Demo scan"
        f.attrs["sample"] = "LK-17"
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.attrs["start_time"] = "2024-05-01T12:00:00"
        data = entry.create_dataset("data", data=volume, chunks=(4, 128, 128), compression="gzip", compression_opts=4)
        data.attrs["units"] = "counts"
        entry.create_dataset("energy", data=np.linspace(7.0, 8.0, volume.shape[0]))
        inst = entry.create_group("instrument")
        inst.attrs["name"] = "demo beamline"
        inst.create_dataset("temperature", data=20 + rng.normal(0, 0.1, 1000))
        events = np.zeros(500, dtype=[("time", "f8"), ("channel", "i4"), ("energy", "f4")])
        events["time"] = np.sort(rng.uniform(0, 60, 500))
        events["channel"] = rng.integers(0, 16, 500)
        events["energy"] = rng.normal(7.5, 0.2, 500)
        inst.create_dataset("events", data=events)
        f["latest"] = h5py.SoftLink("/entry/data")
        f["calibration"] = h5py.ExternalLink(external.name, "/dark")
        f["missing"] = h5py.SoftLink("/entry/does_not_exist")


def _tables(folder: Path, rng, np) -> None:  # noqa: ANN001
    import polars as pl

    n = 1_000_000
    df = pl.DataFrame(
        {
            "id": np.arange(n, dtype="int64"),
            "time": np.cumsum(rng.exponential(0.01, n)),
            "channel": rng.integers(0, 64, n, dtype="int32"),
            "energy": rng.normal(7.5, 0.4, n).astype("float32"),
            "flag": rng.random(n) < 0.01,
        }
    ).with_columns(pl.col("channel").cast(pl.Utf8).alias("label"))
    df.write_parquet(folder / "events.parquet", compression="zstd", row_group_size=100_000)
    df.head(2000).write_csv(folder / "events_head.csv")
    runs = [{"run": i, "sample": f"LK-{10 + i}", "ok": i % 3 != 0, "temperature": 20 + i / 10} for i in range(12)]
    (folder / "runs.json").write_text(json.dumps({"runs": runs, "operator": "demo"}, indent=2))
    (folder / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))


def _images(folder: Path, volume, np) -> None:  # noqa: ANN001
    from PIL import Image

    frame = volume[10]
    grey = ((frame - frame.min()) / (np.ptp(frame) or 1) * 255).astype("uint8")
    Image.fromarray(grey).save(folder / "frame.png")
    rgb = np.stack([grey, np.flipud(grey), np.fliplr(grey)], axis=-1)
    Image.fromarray(rgb).save(folder / "colours.jpg", quality=90)
    Image.fromarray(grey).save(folder / "frame.tif")


def _text(folder: Path) -> None:
    (folder / "README.txt").write_text(
        "Storescope demo data\n====================\n\n"
        "arrays/volume.zarr   a 3-D Zarr array (32x256x256 float32) with a half-size copy and a mask\n"
        "arrays/scan.h5       HDF5: groups, attributes, a compound table, a soft link, an external link\n"
        "tables/              a 1,000,000-row parquet table, CSV and JSON\n"
        "images/              PNG, JPEG and TIFF\n"
    )
    (folder / "notes.md").write_text("# Notes\n\n- Drag files between mounts to copy them (Shift: move).\n"
                                    "- Ctrl+F finds files, arrays and attributes.\n")
    (folder / "config.yaml").write_text("instrument: demo\nchannels: 64\nthreshold: 0.5\n")


if __name__ == "__main__":
    print(ensure_demo_data(sys.argv[1] if len(sys.argv) > 1 else None))
