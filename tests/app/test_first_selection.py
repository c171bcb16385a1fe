"""The first array selected in the window: its plot's modules are imported on a worker and its viewer
is built ahead in idle-time steps, so the selection itself imports and builds nothing on the GUI thread."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QThread, QTimer
from window_helpers import close_window, make_window, wait_loaded


def _on_gui_thread() -> bool:
    return QThread.currentThread() is QCoreApplication.instance().thread()


class Turns:
    """Counts event-loop turns: a zero-interval timer ticks once per turn of the GUI thread's loop."""

    def __init__(self) -> None:
        self.count = 0
        self.timer = QTimer()
        self.timer.setInterval(0)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        self.count += 1


@pytest.fixture
def spied(monkeypatch):
    """Every slice-plot construction step (the event-loop turn it ran in, on the GUI thread or not)
    and every call of the plot's module preload (on the GUI thread or not)."""
    from app.plot import slice_plot

    turns = Turns()
    calls: dict[str, list] = {"steps": [], "preload": []}
    build_step, preload = slice_plot.SlicePlot.build_step, slice_plot.preload

    def spy_step(self):
        calls["steps"].append((turns.count, _on_gui_thread()))
        return build_step(self)

    def spy_preload():
        calls["preload"].append(_on_gui_thread())
        preload()

    monkeypatch.setattr(slice_plot.SlicePlot, "build_step", spy_step)
    monkeypatch.setattr(slice_plot, "preload", spy_preload)
    yield calls
    turns.timer.stop()


def _arrays(folder) -> list[str]:
    paths = [os.path.join(folder, "cube.npy"), os.path.join(folder, "plane.npy")]
    np.save(paths[0], np.arange(4 * 30 * 40, dtype="f4").reshape(4, 30, 40))
    np.save(paths[1], np.linspace(0, 1, 50 * 60).reshape(50, 60))
    return paths


def _select(qtbot, window, path: str):
    """Select ``path`` in the tree; the viewer once its slice is on screen."""
    name = os.path.basename(path)

    def shown() -> bool:
        viewer = window.preview.current_viewer
        payload = getattr(viewer, "payload", None)
        return payload is not None and payload.target.name == name and viewer.plot.result is not None

    window.reveal(path)
    qtbot.waitUntil(shown, timeout=20_000)
    return window.preview.current_viewer


def _steps_in_separate_turns(steps: list[tuple[int, bool]]) -> bool:
    turns = [turn for turn, _ in steps]
    return len(steps) > 1 and all(a < b for a, b in zip(turns, turns[1:], strict=False))


def test_after_the_warm_up_array_selections_build_and_import_nothing_on_the_gui_thread(
    qtbot, tmp_path, settings_path, spied
):
    from app.viewers.array_viewer import ArrayViewer

    folder = tmp_path / "data"
    folder.mkdir()
    paths = _arrays(str(folder))
    window = make_window(qtbot, settings_path)
    try:
        qtbot.waitUntil(lambda: window.preview.warm, timeout=30_000)
        assert "pyqtgraph" in sys.modules
        assert spied["preload"] and not any(spied["preload"])  # imported on a worker, never the GUI thread
        (ahead,) = window.preview.findChildren(ArrayViewer)  # built ahead, in idle-time steps
        assert ahead.plot.built
        assert all(gui for _, gui in spied["steps"]) and _steps_in_separate_turns(spied["steps"])
        steps_ahead = len(spied["steps"])
        window.add_mount(__import__("app.mounts", fromlist=["MountSpec"]).MountSpec("data", str(folder), "local"))
        wait_loaded(qtbot, window, str(folder))
        plots = []
        for path in paths:
            viewer = _select(qtbot, window, path)
            assert viewer is ahead  # the viewer built ahead shows it: nothing is built for the selection
            plots.append(viewer.plot)
        assert plots[0] is plots[1]  # one slice plot, reused
        assert len(spied["steps"]) == steps_ahead
        assert not any(spied["preload"])
    finally:
        close_window(qtbot, window)


def test_an_array_selected_during_the_warm_up_is_built_in_steps_without_gui_thread_imports(
    qtbot, tmp_path, settings_path, spied
):
    from app.viewers.array_viewer import ArrayViewer

    path = _arrays(str(tmp_path))[0]
    window = make_window(qtbot, settings_path)
    try:
        # at once, before the warm-up is over (unless this process imported pyqtgraph already)
        with qtbot.waitSignal(window.preview.loaded, timeout=20_000):
            window.preview.show_location(path)
        viewer = window.preview.current_viewer
        assert isinstance(viewer, ArrayViewer) and viewer.plot.built
        qtbot.waitUntil(lambda: viewer.plot.result is not None, timeout=20_000)
        assert viewer.plot.raw is not None and viewer.plot.raw.shape == (30, 40)
        assert spied["preload"] and not any(spied["preload"])
        # one construction, one step per event-loop turn on the GUI thread: the window kept painting meanwhile
        assert all(gui for _, gui in spied["steps"]) and _steps_in_separate_turns(spied["steps"])
        assert window.preview.findChildren(ArrayViewer) == [viewer]
        qtbot.waitUntil(lambda: window.preview.warm, timeout=30_000)
        assert window.preview.findChildren(ArrayViewer) == [viewer]  # the warm-up built no second one
    finally:
        close_window(qtbot, window)
