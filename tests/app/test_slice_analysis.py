"""The slice plot's analysis tools: colour scales, line profile, ROI and array statistics, copy, keyboard."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import QApplication

from app.plot.analysis import Stats, apply_scale, array_stats, iter_blocks, sample_line, slice_text, stats_of
from app.plot.painter import CACHE
from app.plot.slice_plot import SlicePlot
from app.plot.source import NumpySource
from app.viewers.budget import Budget


class GatedSource(NumpySource):
    """A numpy source whose reads wait for ``gate`` (a slow remote read, released by the test)."""

    def __init__(self, array: np.ndarray) -> None:
        super().__init__(array)
        self.gate = threading.Event()
        self.reads = 0

    def read(self, selection):
        self.reads += 1
        assert self.gate.wait(20), "the test never opened the gate"
        return super().read(selection)


@pytest.fixture
def plot(qtbot):
    CACHE.clear()
    p = SlicePlot()
    qtbot.addWidget(p)
    p.resize(900, 700)
    p.show()
    return p


def show(qtbot, plot, data, **kwargs):
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as blocker:
        plot.set_source(NumpySource(data), **kwargs)
    return blocker.args[0]


# -- colour scales ------------------------------------------------------------------------------------
def test_log_sqrt_symlog_colour_scales_transform_the_image_and_say_what_they_hide(qtbot, plot):
    data = np.array([[-4.0, 0.0, 1.0], [10.0, 100.0, 1000.0]], dtype="f4")
    show(qtbot, plot, data)
    assert plot.scale_box.isVisible() and plot.scale_box.currentText() == "linear"
    np.testing.assert_array_equal(plot.image.image, data)

    plot.set_scale("log")
    shown = plot.image.image
    assert np.isnan(shown[0, :2]).all()
    np.testing.assert_allclose(shown[0, 2:], [0.0])
    np.testing.assert_allclose(shown[1], [1.0, 2.0, 3.0], rtol=1e-6)
    assert plot.hidden_by_scale == 2
    assert plot.scale_note.isVisible() and "2 values ≤ 0 not shown" in plot.scale_note.text()
    lo, hi = plot.hist.getLevels()
    assert -0.1 <= lo < hi <= 3.1  # levels in log10 units now
    assert plot.hist.axis.labelText.startswith("log10(")
    assert plot.raw is not None and plot.shown_values()[1, 2] == 1000.0  # the values themselves are untouched

    plot.set_scale("sqrt")
    np.testing.assert_allclose(plot.image.image[1], np.sqrt([10.0, 100.0, 1000.0]), rtol=1e-6)
    assert plot.hidden_by_scale == 1 and "1 value < 0" in plot.scale_note.text()

    plot.set_scale("symlog", threshold=10.0)
    assert plot.threshold.isVisible()
    expected = np.sign(data) * np.log10(1 + np.abs(data) / 10.0)
    np.testing.assert_allclose(plot.image.image, expected, rtol=1e-6)
    assert plot.hidden_by_scale == 0 and not plot.scale_note.isVisible()

    with pytest.raises(ValueError):
        plot.set_scale("cubic")


def test_scales_and_the_curve_log_box_are_reset_for_the_next_dataset(qtbot, plot):
    show(qtbot, plot, np.arange(1, 50, dtype="f8"))
    assert plot.mode == "curve" and plot.log.isVisible()
    plot.log.setChecked(True)
    assert plot.curve_plot.getPlotItem().ctrl.logYCheck.isChecked()
    show(qtbot, plot, np.arange(1, 30, dtype="f8"))
    assert not plot.log.isChecked()
    assert not plot.curve_plot.getPlotItem().ctrl.logYCheck.isChecked()

    show(qtbot, plot, np.ones((4, 5), "f4"))
    plot.set_scale("log")
    show(qtbot, plot, np.full((6, 5), 3.0, "f4"))
    assert plot.scale_box.currentText() == "linear"
    np.testing.assert_array_equal(plot.image.image, np.full((6, 5), 3.0, "f4"))


def test_apply_scale_values():
    v = np.array([-10.0, -1.0, 0.0, 0.5, 10.0])
    out, hidden = apply_scale(v, "symlog", 1.0)
    np.testing.assert_allclose(out, np.sign(v) * np.log10(1 + np.abs(v)), rtol=1e-6)
    assert hidden == 0
    out, hidden = apply_scale(v, "log")
    assert hidden == 3 and np.isnan(out[:3]).all()


# -- line profile --------------------------------------------------------------------------------------
def test_line_profile_samples_the_image_and_follows_the_line(qtbot, plot):
    rows, cols = np.mgrid[0:20, 0:30]
    data = (10.0 * cols + rows).astype("f4")  # value = 10·x + y at pixel centres
    show(qtbot, plot, data)
    # a horizontal line through the centres of row 2, from column 0 to 8
    plot.set_line((0.5, 2.5), (8.5, 2.5))
    assert plot.profile_plot.isVisible() and plot.line_roi.isVisible()
    np.testing.assert_allclose(plot.profile_y, data[2, 0:9])
    np.testing.assert_allclose(plot.profile_x, np.arange(9.0))
    xs, ys = plot.profile_curve.getData()
    np.testing.assert_allclose(ys, data[2, 0:9])

    # moving the line (as a drag does) updates the profile
    plot.line_roi.movePoint(plot.line_roi.getHandles()[1], QPointF(0.5, 12.5))
    np.testing.assert_allclose(plot.profile_y, data[2:13, 0])

    # a diagonal between pixel centres: bilinear is exact on a linear ramp, nearest snaps to pixels
    plot.interp_box.setCurrentText("bilinear")
    plot.set_line((0.5, 0.5), (4.5, 2.5))
    t = np.linspace(0, 1, len(plot.profile_y))
    np.testing.assert_allclose(plot.profile_y, 10 * 4 * t + 2 * t, rtol=1e-5)
    plot.interp_box.setCurrentText("nearest")
    assert set(plot.profile_y) <= set(data[0:3, 0:5].ravel())
    assert not np.allclose(plot.profile_y, 10 * 4 * t + 2 * t)

    plot.show_profile(False)
    assert not plot.profile_plot.isVisible() and not plot.line_roi.isVisible()


def test_sample_line_outside_is_nan():
    a = np.arange(12.0).reshape(3, 4)
    d, v = sample_line(a, (1, -2), (1, 1), 4, "nearest")
    np.testing.assert_allclose(d, [0, 1, 2, 3])
    assert np.isnan(v[:2]).all() and list(v[2:]) == [4.0, 5.0]


# -- rectangular ROI -----------------------------------------------------------------------------------
def test_rect_roi_statistics_are_live(qtbot, plot):
    data = np.arange(6 * 8, dtype="f4").reshape(6, 8)
    data[1, 2], data[2, 3] = np.nan, np.inf
    show(qtbot, plot, data)
    plot.set_roi(2, 1, 3, 2)  # x 2..5, y 1..3: columns 2-4 of rows 1-2
    assert plot.rect_roi.isVisible() and plot.stats_panel.isVisible()
    box = data[1:3, 2:5]
    s = plot.roi_stats
    finite = box[np.isfinite(box)]
    assert (s.count, s.nan, s.inf, s.finite) == (6, 1, 1, 4)
    assert (s.min, s.max, s.sum) == (float(finite.min()), float(finite.max()), float(finite.sum()))
    assert math.isclose(s.mean, finite.mean()) and math.isclose(s.std, finite.std(), rel_tol=1e-6)
    assert plot.stats_panel.value("ROI", "sum") == str(int(finite.sum()))
    assert plot.stats_panel.value("ROI", "NaN") == "1" and plot.stats_panel.value("ROI", "inf") == "1"

    plot.rect_roi.setPos((0, 4))  # dragged: rows 4-5, columns 0-2
    box = data[4:6, 0:3]
    assert plot.roi_stats.count == 6 and plot.roi_stats.sum == float(box.sum())
    assert plot.stats_panel.value("ROI", "max") == str(int(box.max()))


# -- statistics panel ----------------------------------------------------------------------------------
def test_slice_statistics_and_whole_array_statistics_on_a_worker(qtbot, plot, tmp_path):
    from app.plot.source import NodeSource
    from storecore import open_container
    from storecore.containers import write_array

    data = np.random.default_rng(5).normal(100, 15, (6, 40, 50)).astype("f4")
    data[2, 3, 4] = np.nan
    data[5, 0, 0] = -np.inf
    write_array(f"{tmp_path}/s.zarr::/a", data, chunks=(1, 20, 25))
    node = open_container(f"{tmp_path}/s.zarr::/a")
    plot.show_statistics(True)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NodeSource(node))
    s = plot.slice_stats
    assert (s.count, s.nan, s.inf) == (2000, 0, 0)
    assert math.isclose(s.mean, float(data[0].astype("f8").mean()), rel_tol=1e-9)
    assert plot.stats_panel.value("Slice", "min") == f"{float(data[0].min()):.7g}"

    qtbot.mouseClick(plot.stats_panel.whole, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: plot.array_stats is not None, timeout=10000)
    a = plot.array_stats
    finite = data[np.isfinite(data)].astype("f8")
    assert (a.count, a.nan, a.inf, a.read, a.bounded) == (data.size, 1, 1, data.size, False)
    assert math.isclose(a.mean, finite.mean(), rel_tol=1e-9) and math.isclose(a.std, finite.std(), rel_tol=1e-9)
    assert (a.min, a.max) == (float(finite.min()), float(finite.max()))
    assert plot.stats_panel.value("Whole array", "NaN") == "1"
    assert "all 12,000 values" in plot.stats_panel.note.text()
    assert not plot.stats_panel.progress.isVisible() and plot.stats_panel.whole.isEnabled()

    # within a budget of two frames: bounded, and said so
    plot.budget = Budget(2 * 40 * 50 * 4)
    plot.array_stats = None
    plot.compute_array_stats()
    qtbot.waitUntil(lambda: plot.array_stats is not None, timeout=10000)
    a = plot.array_stats
    assert a.bounded and a.read == 2 * 2000 and a.total == data.size
    assert math.isclose(a.mean, float(data[:2].astype("f8").mean()), rel_tol=1e-9)
    assert "bounded by the preview budget" in plot.stats_panel.note.text()
    assert "4,000 of 12,000" in plot.stats_panel.note.text()
    node.close()


def test_whole_array_statistics_report_progress_and_cancel(qtbot, plot):
    data = np.arange(8 * 10 * 10, dtype="u2").reshape(8, 10, 10)
    plain = NumpySource(data)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(plain)
    gated = GatedSource(data)
    plot.source = gated  # the whole-array read goes through the gate; the shown slice stays
    plot.compute_array_stats()
    assert plot.stats_panel.cancel.isVisible() and plot.stats_panel.progress.isVisible()
    task = plot._stats_slot.current
    qtbot.waitUntil(lambda: gated.reads >= 1, timeout=10000)
    qtbot.mouseClick(plot.stats_panel.cancel, Qt.MouseButton.LeftButton)
    assert plot.stats_panel.note.text() == "Whole array: cancelled"
    assert not plot.stats_panel.cancel.isVisible() and plot.stats_panel.whole.isEnabled()
    gated.gate.set()
    qtbot.waitUntil(task.finished.is_set, timeout=10000)
    QApplication.processEvents()
    assert plot.array_stats is None  # nothing late
    assert plot.stats_panel.value("Whole array", "max") == "—"


def test_array_stats_progress_values():
    class Token:
        cancelled = False

        def __init__(self):
            self.seen = []

        def report(self, v):
            self.seen.append(v)

    data = np.arange(4 * 30 * 30, dtype="i4").reshape(4, 30, 30)
    src = NumpySource(data)
    src.chunks = (1, 10, 30)
    token = Token()
    s = array_stats(src, 1 << 30, token=token)
    assert (s.min, s.max, s.sum, s.count) == (0, data.max(), float(data.sum()), data.size)
    assert token.seen[-1] == (data.size, data.size) and len(token.seen) >= 1
    blocks = list(iter_blocks((4, 30, 30), (1, 10, 30), 4, target=30 * 30 * 4))
    assert len(blocks) == 4 and blocks[1] == (slice(1, 2), slice(0, 30), slice(0, 30))
    merged = Stats()
    for b in np.array_split(np.array([1.0, 2, 3, np.nan, 10, 11]), 3):
        merged.merge(stats_of(b))
    assert merged.nan == 1 and math.isclose(merged.std, np.std([1.0, 2, 3, 10, 11]))


# -- copy --------------------------------------------------------------------------------------------------
def hover(plot, x, y):
    plot._on_mouse(plot.plot.vb.mapViewToScene(QPointF(x, y)))


def test_copy_value_under_cursor_and_the_slice_as_tsv_and_csv(qtbot, plot):
    data = np.array([[1, 2, 3], [4, 65535, 6]], dtype="u2")
    show(qtbot, plot, data)
    hover(plot, 1.5, 1.5)
    assert "65535" in plot.readout.text()
    plot.glw.setFocus()
    qtbot.keyClick(plot.glw, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "65535"

    qtbot.keyClick(plot.glw, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.clipboard().text() == "1\t2\t3\n4\t65535\t6\n"
    plot.copy_csv_action.trigger()
    assert QApplication.clipboard().text() == "1,2,3\n4,65535,6\n"
    plot.transpose.setChecked(True)  # rows as displayed
    plot.copy_tsv_action.trigger()
    assert QApplication.clipboard().text() == "1\t4\n2\t65535\n3\t6\n"

    # the plot's right-click menu holds the three copies
    menu_actions = plot.plot.vb.menu.actions()
    assert {plot.copy_value_action, plot.copy_tsv_action, plot.copy_csv_action} <= set(menu_actions)
    assert slice_text(np.array([0.5, 1e-12]), ",") == "0.5\n1e-12\n"


def test_copy_value_on_a_curve(qtbot, plot):
    data = np.array([3.25, 7.5, 9.0])
    show(qtbot, plot, data)
    pos = plot.curve_plot.getPlotItem().vb.mapViewToScene(QPointF(1, 7.5))
    plot._on_curve_mouse(pos)
    assert plot.copy_value() == "7.5" and QApplication.clipboard().text() == "7.5"


# -- keyboard --------------------------------------------------------------------------------------------
def test_keys_on_the_plot_step_the_current_axis_and_tab_reaches_plot_and_sliders(qtbot, plot):
    data = np.random.default_rng(1).random((30, 4, 6, 7)).astype("f4")
    show(qtbot, plot, data)
    sliders = plot.sliders.sliders()
    assert sorted(sliders) == [0, 1] and plot.sliders.current_axis == 0

    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        qtbot.keyClick(plot.glw, Qt.Key.Key_Right)
    assert plot.sliders.index[:2] == (1, 0) and sliders[0].value() == 1
    np.testing.assert_array_equal(plot.raw, data[1, 0])
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        qtbot.keyClick(plot.glw, Qt.Key.Key_PageUp)
    assert plot.sliders.index[0] == 4  # 1 + a tenth of 30
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        qtbot.keyClick(plot.glw, Qt.Key.Key_End)
    assert plot.sliders.index[0] == 29
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        qtbot.keyClick(plot.glw, Qt.Key.Key_PageDown)
    assert plot.sliders.index[0] == 26

    # the axis whose slider had the focus last is the one the plot's keys step
    QApplication.sendEvent(sliders[1], QFocusEvent(QEvent.Type.FocusIn, Qt.FocusReason.TabFocusReason))
    assert plot.sliders.current_axis == 1
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        qtbot.keyClick(plot.glw, Qt.Key.Key_Up)
    assert plot.sliders.index[:2] == (26, 1)
    np.testing.assert_array_equal(plot.raw, data[26, 1])

    # a focused slider steps by itself with arrows and PageUp/PageDown (Qt's own keys)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        qtbot.keyClick(sliders[0], Qt.Key.Key_PageDown)
    assert plot.sliders.index[0] == 23

    # Tab reaches the plot and every slider
    chain, w = [], plot.glw
    for _ in range(200):
        w = w.nextInFocusChain()
        if w is plot.glw:
            break
        chain.append(w)
    tabbable = [w for w in [plot.glw, *chain] if w.focusPolicy() & Qt.FocusPolicy.TabFocus]
    assert plot.glw in tabbable and all(s in tabbable for s in sliders.values())

    keys = dict(plot.shortcuts())
    assert "Ctrl+C" in keys and "PageUp / PageDown" in keys and all(isinstance(v, str) and v for v in keys.values())


# -- status messages -----------------------------------------------------------------------------------
def test_status_messages_do_not_outlive_their_dataset(qtbot, plot):
    messages = []
    plot.status.connect(messages.append)
    slow = GatedSource(np.zeros((7, 9), "f4"))
    plot.set_source(slow)
    assert messages[-1] == "Reading slice …"
    task = plot._slot.current
    qtbot.waitUntil(lambda: slow.reads >= 1, timeout=10000)
    mark = len(messages)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(np.ones((4, 5), "f4")))
    assert messages[mark] == ""  # the new dataset cleared the old one's message first
    slow.gate.set()
    qtbot.waitUntil(task.finished.is_set, timeout=10000)
    QApplication.processEvents()
    assert not any("(7, 9)" in m for m in messages)
    assert any("(4, 5)" in m for m in messages[mark:])
    np.testing.assert_array_equal(plot.raw, np.ones((4, 5), "f4"))
