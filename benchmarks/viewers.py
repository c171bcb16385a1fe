"""Storescope side by side with silx view and argos on a 2 GiB volume, each in fresh processes, headless.

The volume is float32 (512, 1024, 1024) in (64, 256, 256) chunks, as HDF5
(gzip level 1) and as Zarr v3 (zstd); it is built once (chunks written
pre-compressed, 16 distinct smooth ones) into ``--dir`` and reused.  Every
viewer runs in its own process with ``QT_QPA_PLATFORM=offscreen`` and goes
through the same stages:

* ``launch``        — process start → the first paint of its main window (the file already opened/mounted),
* ``first_pixels``  — select the dataset → the first pixels of its frame on screen,
* ``whole_frame``   — select the dataset → the whole first frame on screen,
* ``slider_new``    — move the frame axis to a frame in chunks not read yet → shown,
* ``slider_back``   — back to the first frame → shown,
* ``reselect``      — select the file, then the dataset again → the whole frame shown,
* ``stall``         — the longest lateness of a 10 ms precise QTimer during each stage (an event-loop stall),
* ``peak_rss``      — the process's peak resident memory.

Storescope's preview pane warms up once shown (pyqtgraph imported on a worker, the array viewer
built ahead in idle-time steps); the driver does not wait for it: the dataset is selected as soon
as the file is listed, as a user could, so the first selection may race the warm-up
(``warm_at_select`` in Storescope's rows: in how many runs the warm-up was over by then).

silx (``silx.app.view.Viewer``, PySide6) and argos (PyQt5, its own HOME) read on
the GUI thread: their first pixels are their whole frame, and their stall is the
read.  silx shows a 3-D dataset as a table first; the driver then switches it to
its image view, as a user would (both reads are counted).  Neither reads Zarr:
the Zarr row is Storescope alone and its ratio is null.  A peer that cannot be
imported or driven is reported as such and its ratios are null; the benchmark
never fails because of a peer.

    scripts/bench viewers [--quick] [--json] [--runs=3] [--viewers=storescope,silx,argos] [--serial]

``--serial`` turns off storecore's parallel HDF5 chunk decoding in Storescope (the "before" figures).

``--quick`` uses a (128, 512, 512) volume and one run each.  ``--json`` ends the
output with one JSON object on its own line: ``first_pixels_ratio``,
``whole_frame_ratio_hdf5``, ``whole_frame_ratio_zarr`` (Storescope ÷ best peer;
below 1 means Storescope is faster; null for Zarr, which no peer reads, so
``whole_frame_ratio_zarr_vs_peer_hdf5`` divides by the best peer on the same
array as HDF5), ``max_stall_ms`` (Storescope, any stage), ``peak_rss_over_budget_mb``
(Storescope's peak RSS − the best peer's − Storescope's cache budget,
``STORESCOPE_CACHE_BUDGET``), plus the medians per viewer and format.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CHUNKS = (64, 256, 256)
VARIANTS = 16
RESULT = "VIEWERS-RESULT "
STAGES = ("launch", "first_pixels", "whole_frame", "slider_new", "slider_back", "reselect")
CHILD_TIMEOUT_S = 600


# -- the data ---------------------------------------------------------------------------------------
def chunk_variant(v: int) -> np.ndarray:
    """A smooth field quantised to 1/32 (compresses well, decodes like real data)."""
    z, y, x = np.ogrid[0 : CHUNKS[0], 0 : CHUNKS[1], 0 : CHUNKS[2]]
    f = np.sin((x + 17 * v) / 23.0) * np.cos((y - 5 * v) / 31.0) * 100 + 3 * np.sin(z / 3.0 + v)
    return (np.round(f * 32) / 32).astype("f4")


def grid(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    import itertools

    return list(itertools.product(*(range(s // c) for s, c in zip(shape, CHUNKS, strict=True))))


def variant_of(idx: tuple[int, ...]) -> int:
    i, j, k = idx
    return (7 * i + 3 * j + k) % VARIANTS


def make_files(folder: str, shape: tuple[int, int, int]) -> tuple[str, str]:
    """``volume-SHAPE.h5`` (gzip 1) and ``volume-SHAPE.zarr`` (zstd) in ``folder``, built when missing."""
    import h5py
    import zarr

    tag = "x".join(map(str, shape))
    h5_path = os.path.join(folder, f"volume-{tag}.h5")
    zarr_path = os.path.join(folder, f"volume-{tag}.zarr")
    done = os.path.join(folder, f".done-v2-{tag}")
    if os.path.exists(done):
        return h5_path, zarr_path
    t0 = time.perf_counter()
    shutil.rmtree(zarr_path, ignore_errors=True)
    if os.path.exists(h5_path):
        os.remove(h5_path)
    variants = [chunk_variant(v) for v in range(VARIANTS)]
    packed = [zlib.compress(v.tobytes(), 1) for v in variants]
    with h5py.File(h5_path, "w") as f:
        d = f.create_dataset("data", shape=shape, dtype="f4", chunks=CHUNKS, compression="gzip", compression_opts=1)
        for idx in grid(shape):
            d.id.write_direct_chunk(tuple(i * c for i, c in zip(idx, CHUNKS, strict=True)), packed[variant_of(idx)])
    z = zarr.create_array(zarr_path, name="data", shape=shape, chunks=CHUNKS, dtype="f4")  # zstd by default
    written: dict[int, str] = {}
    for idx in grid(shape):
        v = variant_of(idx)
        dst = os.path.join(zarr_path, "data", "c", *map(str, idx))
        if v not in written:
            z[tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, CHUNKS, strict=True))] = variants[v]
            written[v] = dst
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(written[v], dst)
    open(done, "w").close()
    print(f"built {h5_path} and {zarr_path} in {time.perf_counter() - t0:.1f} s")
    return h5_path, zarr_path


# -- measuring inside a viewer's process --------------------------------------------------------------
class Probe:
    """Stage timing, a 10 ms precise timer measuring its own lateness, and the first paint of a window."""

    def __init__(self, QtCore: Any, t0: float) -> None:  # noqa: N803 - the Qt module of the viewer's binding
        self.QtCore = QtCore
        self.t0 = t0
        self.results: dict[str, Any] = {}
        self.stalls: dict[str, float] = {}
        self._late = 0.0
        self._expected = 0.0
        self.timer = QtCore.QTimer()
        self.timer.setTimerType(QtCore.Qt.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.first_paint: float | None = None
        probe = self

        class PaintWatcher(QtCore.QObject):
            def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt override
                if probe.first_paint is None and event.type() == QtCore.QEvent.Paint:
                    probe.first_paint = time.time()
                return False

        self.watcher = PaintWatcher()

    def _tick(self) -> None:
        now = time.perf_counter()
        self._late = max(self._late, now - self._expected)
        self._expected = now + 0.010

    def start_stall(self) -> None:
        self._late = 0.0
        self._expected = time.perf_counter() + 0.010
        self.timer.start()

    def stop_stall(self, stage: str) -> None:
        self._tick()
        self.timer.stop()
        self.stalls[stage] = max(self.stalls.get(stage, 0.0), self._late * 1000)

    def record(self, stage: str, seconds: float) -> None:
        self.results[stage] = seconds * 1000

    def emit(self, **extra: Any) -> None:
        out = {"stages_ms": self.results, "stall_ms": self.stalls, **extra}
        out["peak_rss_mb"] = peak_rss_mb()
        out["max_stall_ms"] = max(self.stalls.values(), default=None)
        print(RESULT + json.dumps(out), flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pump(app: Any, cond: Any, timeout: float = 300.0, what: str = "") -> None:
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError(f"timed out waiting for {what or 'the viewer'}")
        app.processEvents()
        time.sleep(0.0005)


def settle(app: Any, seconds: float = 0.3) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def child_storescope(args: argparse.Namespace) -> None:
    from PySide6 import QtCore
    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, REPO)
    import storecore
    from app.mounts import open_settings
    from app.qtcompat import protect_singletons
    from app.window import MainWindow
    from storecore.containers import h5chunks
    from storecore.tuning import cache_budget

    if args.serial:  # the 'before' figures: h5py decodes every chunk, as before storecore's parallel path
        h5chunks.plan = lambda *a, **k: h5chunks.Plan(False, "disabled by --serial")
    protect_singletons()
    app = QApplication.instance() or QApplication(["storescope"])
    probe = Probe(QtCore, args.t0)
    app.installEventFilter(probe.watcher)
    folder = os.path.dirname(args.file)
    file_uri = str(storecore.Location.parse(args.file))
    data_uri = f"{file_uri}::{args.inner}"
    window = MainWindow(open_settings(os.path.join(args.scratch, "storescope.ini")), persist=False, lazy=True)
    window.resize(1400, 900)
    window.first_shown.connect(lambda: window.finish_startup([folder], demo=False, restore=False))
    window.show()
    pump(app, lambda: probe.first_paint is not None, what="the first paint")
    probe.record("launch", probe.first_paint - args.t0)
    # the file is listed and opened (its tree shown), as silx and argos have it at launch
    pump(app, lambda: window.model.locate(file_uri)[0] is not None and window.idle(), what="the mount")
    window.reveal(file_uri)
    pump(app, lambda: window.idle() and not window.selecting, what="the file")
    node, _ = window.model.locate(file_uri)
    window.tree.expand(window.model.index_of(node))
    pump(app, lambda: window.model.locate(data_uri)[1] and window.idle(), what="the file's members")
    settle(app)

    def select_and_time(stage_first: str | None, stage_whole: str) -> dict[str, Any]:
        loaded: list[float] = []

        def on_loaded(uri: str) -> None:
            if uri == data_uri:
                loaded.append(time.perf_counter())

        window.preview.loaded.connect(on_loaded)
        probe.start_stall()
        t0 = time.perf_counter()
        window.reveal(data_uri)
        pump(app, lambda: loaded and getattr(window.preview.current_viewer, "plot", None) is not None, what="pixels")
        plot = window.preview.current_viewer.plot
        pump(app, lambda: plot.result is not None, what="the whole frame")
        info = {"complete": plot.result.complete, "chunks": len(plot.result.chunks_read)}
        if not plot.result.complete:  # the budget stopped it: what "Load full" gives
            done: list = []
            plot.slice_loaded.connect(done.append)
            plot.load_full_plane()
            pump(app, lambda: done and done[-1].complete, what="the full frame")
            plot.slice_loaded.disconnect(done.append)
        t_whole = time.perf_counter()
        probe.stop_stall(stage_whole)
        if stage_first:
            probe.record(stage_first, loaded[0] - t0)
        probe.record(stage_whole, t_whole - t0)
        window.preview.loaded.disconnect(on_loaded)
        return info

    warm = bool(getattr(window.preview, "warm", False))  # the pane's warm-up was over before the selection
    info = select_and_time("first_pixels", "whole_frame")
    plot = window.preview.current_viewer.plot
    first = plot.sliders.index[0] if hasattr(plot.sliders, "index") else 0
    frames = {"slider_new": (int(first) + CHUNKS[0] + 1) % args.shape[0], "slider_back": int(first)}
    for stage, frame in frames.items():
        done = []
        plot.slice_loaded.connect(done.append)
        probe.start_stall()
        t0 = time.perf_counter()
        plot.sliders.set_value(0, frame)
        pump(app, lambda d=done: d, what=stage)
        probe.record(stage, time.perf_counter() - t0)
        probe.stop_stall(stage)
        plot.slice_loaded.disconnect(done.append)
    window.reveal(file_uri)
    pump(app, lambda: window.idle() and not window.preview.busy, what="the file's summary")
    settle(app)
    select_and_time(None, "reselect")
    budget = cache_budget()  # every cache of decoded data shares it (STORESCOPE_CACHE_BUDGET)
    probe.emit(
        viewer="storescope", first_frame=info, cache_budget_mb=budget / 2**20, load_full_needed=not info["complete"],
        warm_at_select=warm,
    )
    window.close()
    os._exit(0)  # worker threads and h5py handles: no teardown in the timed process


def child_silx(args: argparse.Namespace) -> None:
    os.environ.setdefault("QT_API", "pyside6")
    from silx.gui import qt

    QtCore = qt.QtCore  # noqa: N806
    app = qt.QApplication.instance() or qt.QApplication(["silx"])
    probe = Probe(QtCore, args.t0)
    app.installEventFilter(probe.watcher)
    from silx.app.view.Viewer import Viewer
    from silx.gui.data import DataViews
    from silx.gui.data.NumpyAxesSelector import NumpyAxesSelector

    settings = qt.QSettings(os.path.join(args.scratch, "silx.ini"), qt.QSettings.IniFormat)
    viewer = Viewer(settings=settings)
    viewer.resize(1400, 900)
    viewer.appendFile(args.file)
    viewer.show()
    pump(app, lambda: probe.first_paint is not None, what="the first paint")
    probe.record("launch", probe.first_paint - args.t0)
    panel = viewer._Viewer__dataPanel  # noqa: SLF001 - silx keeps these private
    frame = panel._DataPanel__dataViewer  # noqa: SLF001
    pump(app, lambda: panel.getData() is not None, what="the file")  # silx shows the file once loaded
    root = panel.getData()
    dset = root[args.inner]
    settle(app)

    def select(stage: str) -> None:
        probe.start_stall()
        t0 = time.perf_counter()
        viewer.displayData(dset)
        if frame.displayMode() != DataViews.IMAGE_MODE:
            frame.setDisplayMode(DataViews.IMAGE_MODE)  # a 3-D dataset opens as a table: the user picks "image"
        app.processEvents()  # paint
        probe.record(stage, time.perf_counter() - t0)
        probe.stop_stall(stage)

    select("whole_frame")
    probe.results["first_pixels"] = probe.results["whole_frame"]  # read on the GUI thread: all at once
    probe.stalls["first_pixels"] = probe.stalls["whole_frame"]
    selector = next(s for s in frame.findChildren(NumpyAxesSelector) if s.isVisible())
    first = selector.selection()
    index = next(i for i, s in enumerate(first) if not isinstance(s, slice))
    for stage, value in (("slider_new", (first[index] + CHUNKS[0] + 1) % args.shape[0]), ("slider_back", first[index])):
        sel = list(first)
        sel[index] = value
        probe.start_stall()
        t0 = time.perf_counter()
        selector.setSelection(tuple(sel))
        app.processEvents()
        probe.record(stage, time.perf_counter() - t0)
        probe.stop_stall(stage)
    viewer.displayData(root)
    settle(app)
    select("reselect")
    probe.emit(viewer="silx", display_mode=int(frame.displayMode()))
    os._exit(0)


def child_argos(args: argparse.Namespace) -> None:
    os.environ.setdefault("QT_API", "pyqt5")
    from argos.main import createArgosApp
    from argos.qt import QtCore, QtWidgets
    from argos.utils.dirs import resource_directory

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["argos"])
    probe = Probe(QtCore, args.t0)
    app.installEventFilter(probe.watcher)
    # the default settings file (in the HOME the parent gave this process): a missing custom one opens a dialog
    style = os.path.join(resource_directory(), "argos.css")  # what `argos` itself uses
    argos_app = createArgosApp([args.file], settingsFile=None, inspectorFullName=ARGOS_INSPECTOR, styleSheet=style)
    if argos_app.mainWindows[0].inspectorRegItem is None:
        raise RuntimeError(f"argos has no {ARGOS_INSPECTOR!r} inspector")
    win = argos_app.mainWindows[0]
    win.resize(1400, 900)
    win.show()
    pump(app, lambda: probe.first_paint is not None, what="the first paint")
    probe.record("launch", probe.first_paint - args.t0)
    name = os.path.basename(args.file)
    data_path = f"/{name}{args.inner}"
    settle(app)

    def select(stage: str) -> None:
        probe.start_stall()
        t0 = time.perf_counter()
        item, _ = win.trySelectRtiByPath(data_path)
        if item is None:
            raise RuntimeError(f"argos cannot select {data_path}")
        app.processEvents()
        probe.record(stage, time.perf_counter() - t0)
        probe.stop_stall(stage)

    select("whole_frame")
    probe.results["first_pixels"] = probe.results["whole_frame"]
    probe.stalls["first_pixels"] = probe.stalls["whole_frame"]
    spins = [s for s in win.collector.findChildren(QtWidgets.QSpinBox) if s.isVisible()]
    if not spins:
        raise RuntimeError("argos shows no frame spin box (is its inspector a 2-D image plot?)")
    spin = spins[0]
    first = spin.value()
    for stage, value in (("slider_new", (first + CHUNKS[0] + 1) % args.shape[0]), ("slider_back", first)):
        probe.start_stall()
        t0 = time.perf_counter()
        spin.setValue(value)
        app.processEvents()
        probe.record(stage, time.perf_counter() - t0)
        probe.stop_stall(stage)
    win.trySelectRtiByPath(f"/{name}")
    settle(app)
    select("reselect")
    probe.emit(viewer="argos", inspector=str(win.inspectorFullName))
    os._exit(0)


ARGOS_INSPECTOR = "Image Plot"  # argos's PyQtGraph 2-D image inspector (id "imageplot")
CHILDREN = {"storescope": child_storescope, "silx": child_silx, "argos": child_argos}
#: formats each viewer can open
READS = {"storescope": ("hdf5", "zarr"), "silx": ("hdf5",), "argos": ("hdf5",)}


# -- the parent ----------------------------------------------------------------------------------------
def run_child(
    viewer: str, fmt: str, path: str, shape: tuple[int, ...], scratch: str, serial: bool = False
) -> dict[str, Any]:
    """One fresh process of ``viewer`` on ``path``: its result, or ``{"error": ...}``."""
    run_dir = tempfile.mkdtemp(prefix=f"{viewer}-", dir=scratch)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=REPO)
    if viewer == "argos":
        env["HOME"] = run_dir  # argos writes ~/.config/titusjan whatever XDG says
        env["QT_API"] = "pyqt5"
    elif viewer == "silx":
        env["QT_API"] = "pyside6"
    inner = "/data"
    cmd = [sys.executable, os.path.abspath(__file__), "--child", viewer, "--file", path, "--inner", inner,
           "--fmt", fmt, "--shape", ",".join(map(str, shape)), "--scratch", run_dir]  # fmt: skip
    if serial:
        cmd.append("--serial")
    t0 = time.time()
    cmd += ["--t0", repr(t0)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT_S} s"}
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    tail = [ln for ln in (proc.stderr or "").strip().splitlines() if "DEBUG" not in ln][-3:]
    return {"error": f"exit {proc.returncode}: " + (" | ".join(tail) or "no result")}


def available(viewer: str) -> str | None:
    """Why ``viewer`` cannot run here (None when it can be imported)."""
    module = {"storescope": "PySide6", "silx": "silx.app.view.Viewer", "argos": "argos.main"}.get(viewer)
    if module is None:
        return f"unknown viewer (known: {', '.join(CHILDREN)})"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    probe = f"import {module}" + ("; import PyQt5.QtWidgets" if viewer == "argos" else "")
    try:
        proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot start Python to import {module}: {e}"
    if proc.returncode == 0:
        return None
    last = (proc.stderr.strip().splitlines() or ["import failed"])[-1]
    hint = {"silx": "pip install silx matplotlib qtawesome PyOpenGL", "argos": "pip install argos PyQt5"}.get(
        viewer, ""
    )
    return f"{last}" + (f" ({hint}; scripts/bench installs it into .venv-bench)" if hint else "")


def median_of(runs: list[dict[str, Any]], key: str, stage: str | None = None) -> float | None:
    values = []
    for r in runs:
        if "error" in r:
            continue
        v = r.get(key) if stage is None else r.get(key, {}).get(stage)
        if v is not None:
            values.append(float(v))
    return statistics.median(values) if values else None


def ratio(ours: float | None, peer: float | None) -> float | None:
    return round(ours / peer, 3) if ours is not None and peer else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a (128, 512, 512) volume and one run each")
    parser.add_argument("--json", action="store_true", help="end with one JSON object on its own line")
    parser.add_argument("--runs", type=int, default=None, help="fresh processes per viewer and format (default 3)")
    parser.add_argument("--viewers", default="storescope,silx,argos")
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "storescope-bench-viewers"))
    parser.add_argument(
        "--serial", action="store_true", help="Storescope reads HDF5 chunks through h5py only (the 'before' figures)"
    )
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--inner", default="/data", help=argparse.SUPPRESS)
    parser.add_argument("--fmt", help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.shape = tuple(int(s) for s in args.shape.split(","))
        CHILDREN[args.child](args)
        return 0

    shape = (128, 512, 512) if args.quick else (512, 1024, 1024)
    runs = args.runs or (1 if args.quick else 3)
    os.makedirs(args.dir, exist_ok=True)
    h5_path, zarr_path = make_files(args.dir, shape)
    files = {"hdf5": h5_path, "zarr": zarr_path}
    viewers = [v.strip() for v in args.viewers.split(",") if v.strip()]
    why_not = {v: available(v) for v in viewers}
    gib = np.prod(shape) * 4 / 2**30
    print(f"volume float32 {shape} ({gib:.2f} GiB), chunks {CHUNKS}: HDF5 gzip-1, Zarr v3 zstd; {runs} run(s) each")
    for v, why in why_not.items():
        if why:
            print(f"  {v}: not available — {why}")
    results: dict[str, dict[str, list[dict[str, Any]]]] = {v: {} for v in viewers}
    scratch = tempfile.mkdtemp(prefix="storescope-viewers-")
    try:
        for r in range(runs):
            order = viewers if r % 2 == 0 else list(reversed(viewers))  # nobody always goes first
            for fmt in ("hdf5", "zarr"):
                for v in order:
                    if why_not[v] or fmt not in READS.get(v, ()):
                        continue
                    res = run_child(v, fmt, files[fmt], shape, scratch, args.serial)
                    results[v].setdefault(fmt, []).append(res)
                    if "error" in res:
                        print(f"  {v} / {fmt} run {r + 1}: failed — {res['error']}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    summary: dict[str, Any] = {"shape": list(shape), "chunks": list(CHUNKS), "runs": runs, "viewers": {}}
    head = (
        f"\n{'viewer':<11} {'format':<6} "
        + " ".join(f"{s:>13}" for s in STAGES)
        + f" {'max stall':>10} {'peak RSS':>9}"
    )
    print(head)
    for v in viewers:
        for fmt in ("hdf5", "zarr"):
            rs = results[v].get(fmt)
            if not rs:
                continue
            ok = [x for x in rs if "error" not in x]
            row = {s: median_of(ok, "stages_ms", s) for s in STAGES}
            row["max_stall_ms"] = median_of(ok, "max_stall_ms")
            row["peak_rss_mb"] = median_of(ok, "peak_rss_mb")
            row["stall_ms"] = {
                s: median_of(ok, "stall_ms", s) for s in STAGES if median_of(ok, "stall_ms", s) is not None
            }
            row["errors"] = [x["error"] for x in rs if "error" in x]
            if v == "storescope" and ok:
                row["cache_budget_mb"] = ok[0].get("cache_budget_mb")
                row["load_full_needed"] = any(x.get("load_full_needed") for x in ok)
                row["warm_at_select"] = sum(bool(x.get("warm_at_select")) for x in ok)
            summary["viewers"].setdefault(v, {})[fmt] = row
            cells = " ".join(f"{row[s]:>11.1f}ms" if row[s] is not None else f"{'—':>13}" for s in STAGES)
            stall = f"{row['max_stall_ms']:>8.1f}ms" if row["max_stall_ms"] is not None else f"{'—':>10}"
            rss = f"{row['peak_rss_mb']:>7.0f}MB" if row["peak_rss_mb"] is not None else f"{'—':>9}"
            print(f"{v:<11} {fmt:<6} {cells} {stall} {rss}" + ("  (failed)" if not ok else ""))

    def ours(fmt: str, key: str) -> float | None:
        return summary["viewers"].get("storescope", {}).get(fmt, {}).get(key)

    def best_peer(fmt: str, key: str) -> tuple[float | None, str | None]:
        best: tuple[float | None, str | None] = (None, None)
        for v, per in summary["viewers"].items():
            value = per.get(fmt, {}).get(key) if v != "storescope" else None
            if value is not None and (best[0] is None or value < best[0]):
                best = (value, v)
        return best

    fp_peer, fp_who = best_peer("hdf5", "first_pixels")
    wf_peer, wf_who = best_peer("hdf5", "whole_frame")
    wz_peer, _ = best_peer("zarr", "whole_frame")
    rss_peer, rss_who = best_peer("hdf5", "peak_rss_mb")
    stalls = [ours(f, "max_stall_ms") for f in ("hdf5", "zarr")]
    stalls = [s for s in stalls if s is not None]
    rss_ours = ours("hdf5", "peak_rss_mb")
    budget = ours("hdf5", "cache_budget_mb")
    over = round(rss_ours - rss_peer - (budget or 0), 1) if rss_ours is not None and rss_peer is not None else None
    summary.update(
        first_pixels_ratio=ratio(ours("hdf5", "first_pixels"), fp_peer),
        whole_frame_ratio_hdf5=ratio(ours("hdf5", "whole_frame"), wf_peer),
        whole_frame_ratio_zarr=ratio(ours("zarr", "whole_frame"), wz_peer),
        # no peer reads Zarr v3: the same array as HDF5 is what a peer's user would open instead
        whole_frame_ratio_zarr_vs_peer_hdf5=ratio(ours("zarr", "whole_frame"), wf_peer),
        max_stall_ms=round(max(stalls), 1) if stalls else None,
        peak_rss_over_budget_mb=over,
        best_peer={"first_pixels": fp_who, "whole_frame_hdf5": wf_who, "peak_rss": rss_who},
        unavailable={v: why for v, why in why_not.items() if why},
    )
    print(
        f"\nStorescope ÷ best peer (HDF5): first pixels {summary['first_pixels_ratio']} ({fp_who}), "
        f"whole frame {summary['whole_frame_ratio_hdf5']} ({wf_who}); Zarr: {summary['whole_frame_ratio_zarr']}"
        + (f" (no peer reads Zarr v3; vs the best peer on the same array as HDF5: "
           f"{summary['whole_frame_ratio_zarr_vs_peer_hdf5']})" if wz_peer is None else "")
    )
    print(
        f"Storescope longest stall {summary['max_stall_ms']} ms; peak RSS over (best peer {rss_who} + cache budget "
        f"{budget} MB): {over} MB"
    )
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
