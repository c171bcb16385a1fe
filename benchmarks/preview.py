"""Select → first pixels in the preview pane, for a ≥ 2 GiB Zarr and HDF5 array and a 10M-row parquet.

Creates (once, in a temp folder; reused on the next run) a float32 volume of
512×1024×1024 (2 GiB) as HDF5 (chunks 64×256×256, gzip+shuffle) and as Zarr
(same chunks, zstd), with compressible data so creation is quick, and a
10-million-row parquet table.  For each, a shown ``PreviewPane`` previews it
while a 5 ms QTimer ticks; it prints the time to the first pixels (``loaded``),
to the end of the budgeted plane, the longest event-loop stall, a slider step
into chunks already decoded and a step into new chunks.

The peer measured in the same run is the plain library read a naive viewer
does on selection (``dset[0]`` with h5py, ``arr[0]`` with zarr,
``polars.read_parquet`` for the table), on the GUI thread: its stall is the
whole read.  silx and argos are not installed here, so they are not timed.

    .venv/bin/python benchmarks/preview.py            # 2 GiB arrays, 10M rows
    .venv/bin/python benchmarks/preview.py --quick    # 512 MiB arrays, 1M rows
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CHUNKS = (64, 256, 256)


def slab(k0: int, k1: int, ny: int, nx: int) -> np.ndarray:
    """Frames ``k0..k1`` of a smooth, compressible test volume."""
    y = np.arange(ny, dtype=np.float32)[:, None]
    x = np.arange(nx, dtype=np.float32)[None, :]
    plane = np.sin(x / 37.0) * np.cos(y / 23.0) * 100.0
    return np.stack([np.round(plane + k, 1) for k in range(k0, k1)]).astype(np.float32)


def make_arrays(folder: str, shape: tuple[int, int, int]) -> tuple[str, str]:
    """The HDF5 file and Zarr store of ``shape`` (created when missing)."""
    import h5py
    import zarr

    tag = "x".join(map(str, shape))
    h5_path = os.path.join(folder, f"volume-{tag}.h5")
    zarr_path = os.path.join(folder, f"volume-{tag}.zarr")
    ok = os.path.join(folder, f".done-{tag}")
    if not os.path.exists(ok):
        for p in (h5_path, zarr_path):
            shutil.rmtree(p, ignore_errors=True) if p.endswith(".zarr") else (os.path.exists(p) and os.remove(p))
        t0 = time.perf_counter()
        with h5py.File(h5_path, "w") as f:
            d = f.create_dataset("data", shape, "f4", chunks=CHUNKS, compression="gzip", compression_opts=1, shuffle=True)
            z = zarr.create_array(zarr_path, name="data", shape=shape, chunks=CHUNKS, dtype="f4")
            for k in range(0, shape[0], CHUNKS[0]):
                block = slab(k, min(shape[0], k + CHUNKS[0]), shape[1], shape[2])
                d[k : k + len(block)] = block
                z[k : k + len(block)] = block
        open(ok, "w").close()
        print(f"created {h5_path} and {zarr_path} in {time.perf_counter() - t0:.1f} s")
    return f"{h5_path}::/data", f"{zarr_path}::/data"


def make_table(folder: str, rows: int) -> str:
    """A parquet table of ``rows`` rows (created when missing)."""
    import polars as pl

    path = os.path.join(folder, f"table-{rows}.parquet")
    if not os.path.exists(path):
        rng = np.random.default_rng(0)
        pl.DataFrame(
            {"id": np.arange(rows), "value": rng.random(rows), "label": np.array(["a", "b", "c", "d"])[np.arange(rows) % 4]}
        ).write_parquet(path + ".tmp", row_group_size=256 * 1024)
        os.replace(path + ".tmp", path)
    return path


class Ticker:
    """Records the longest gap between 5 ms timer ticks (an event-loop stall)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.longest = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now

    def start(self) -> None:
        self.last, self.longest = time.perf_counter(), 0.0
        self.timer.start()

    def stop(self) -> float:
        self._tick()
        self.timer.stop()
        return self.longest


def wait(app, cond, timeout: float = 120.0) -> None:  # noqa: ANN001
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError("preview did not finish")
        app.processEvents()
        time.sleep(0.0005)


def preview_array(app, pane, uri: str) -> dict[str, float]:  # noqa: ANN001
    """Time select → first pixels, → budgeted plane done, load full plane, and two slider steps."""
    from app.plot.painter import CACHE

    CACHE.clear()
    loaded: list[float] = []
    pane.loaded.connect(lambda u: loaded.append(time.perf_counter()))
    ticker = Ticker()
    ticker.start()
    t0 = time.perf_counter()
    pane.show_location(uri)
    wait(app, lambda: loaded)
    plot = pane.current_viewer.plot
    wait(app, lambda: plot.result is not None)
    t_plane = time.perf_counter()
    stall = ticker.stop()
    result = plot.result
    out = {
        "first_pixels": loaded[0] - t0,
        "plane": t_plane - t0,
        "stall": stall,
        "chunks_read": len(result.chunks_read),
        "complete": result.complete,
    }
    ticker.start()
    done: list = []
    plot.slice_loaded.connect(done.append)
    t0 = time.perf_counter()
    plot.load_full_plane()
    wait(app, lambda: done)
    out["full_plane"] = time.perf_counter() - t0
    out["full_stall"] = ticker.stop()
    plot.slice_loaded.disconnect(done.append)
    # frame 1 lies in the chunks the full plane decoded; frame 65 in new ones
    for name, frame in (("step_cached", 1), ("step_new_chunks", CHUNKS[0] + 1)):
        done = []
        plot.slice_loaded.connect(done.append)
        t0 = time.perf_counter()
        plot.sliders.set_value(0, frame)
        wait(app, lambda d=done: d)
        out[name] = time.perf_counter() - t0
        plot.slice_loaded.disconnect(done.append)
    pane.loaded.disconnect()
    pane.clear()
    return out


def preview_table(app, pane, path: str) -> dict[str, float]:  # noqa: ANN001
    """Time select → table shown (count, header, first rows) and a jump to the middle."""
    loaded: list[float] = []
    pane.loaded.connect(lambda u: loaded.append(time.perf_counter()))
    ticker = Ticker()
    ticker.start()
    t0 = time.perf_counter()
    pane.show_location(path)
    wait(app, lambda: loaded)
    out = {"open": loaded[0] - t0, "stall": ticker.stop()}
    model = pane.current_viewer.model
    out["rows"] = model.rowCount()
    t0 = time.perf_counter()
    row = model.rowCount() // 2
    model.data(model.index(row, 0))
    wait(app, lambda: model.data(model.index(row, 0)) != "…")
    out["jump_to_middle"] = time.perf_counter() - t0
    pane.loaded.disconnect()
    pane.clear()
    return out


def peer_array(uri: str) -> float:
    """A naive viewer: read the whole first frame with the library, on the GUI thread."""
    path, inner = uri.split("::")
    t0 = time.perf_counter()
    if path.endswith(".h5"):
        import h5py

        with h5py.File(path, "r") as f:
            f[inner][0]
    else:
        import zarr

        zarr.open_array(path, path=inner.strip("/"), mode="r")[0]
    return time.perf_counter() - t0


def peer_table(path: str) -> float:
    import polars as pl

    t0 = time.perf_counter()
    pl.read_parquet(path)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="512 MiB arrays and a 1M-row table")
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "storescope-bench-preview"))
    args = parser.parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    shape = (128, 1024, 1024) if args.quick else (512, 1024, 1024)
    rows = 1_000_000 if args.quick else 10_000_000
    h5_uri, zarr_uri = make_arrays(args.dir, shape)
    table = make_table(args.dir, rows)

    from PySide6.QtWidgets import QApplication

    from app.viewers.pane import PreviewPane

    app = QApplication.instance() or QApplication([])
    pane = PreviewPane()  # one pane, as in the window: viewers are built once and reused
    pane.resize(1000, 800)
    pane.show()
    gib = np.prod(shape) * 4 / 2**30
    print(f"\narrays: float32 {shape} ({gib:.2f} GiB), chunks {CHUNKS}; preview budget 64 MiB")
    for label, uri in (("HDF5 gzip", h5_uri), ("Zarr zstd", zarr_uri)):
        preview_array(app, pane, uri)  # warm imports, viewers and the OS page cache alike for both sides
        r = preview_array(app, pane, uri)
        peer = peer_array(uri)
        print(
            f"{label:10s} first pixels {r['first_pixels'] * 1000:7.1f} ms | budgeted plane ({r['chunks_read']} chunks) "
            f"{r['plane'] * 1000:7.1f} ms | longest stall {r['stall'] * 1000:5.1f} ms | step (cached chunks) "
            f"{r['step_cached'] * 1000:6.1f} ms | step (new chunks) {r['step_new_chunks'] * 1000:7.1f} ms | "
            f"load full plane {r['full_plane'] * 1000:7.1f} ms (stall {r['full_stall'] * 1000:5.1f} ms)"
        )
        print(
            f"{'':10s} peer: plain read of one frame on the GUI thread {peer * 1000:7.1f} ms "
            f"(= its stall) -> first pixels {peer / r['first_pixels']:.1f}x sooner, stall {peer / max(r['stall'], 1e-3):.0f}x shorter"
        )
    preview_table(app, pane, table)
    t = preview_table(app, pane, table)
    peer = peer_table(table)
    print(
        f"\nparquet {rows:,} rows: table shown in {t['open'] * 1000:.1f} ms (longest stall {t['stall'] * 1000:.1f} ms, "
        f"{t['rows']:,} rows), jump to the middle {t['jump_to_middle'] * 1000:.1f} ms"
    )
    print(f"{'':8s}peer: polars.read_parquet of the whole table {peer * 1000:.1f} ms -> {peer / t['open']:.1f}x")
    print("\nsilx and argos are not installed in this environment, so they are not timed here.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
