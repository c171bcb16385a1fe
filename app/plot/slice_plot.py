"""The slice plot: a 1-D curve or 2-D image of any slice of an N-d array, read chunk by chunk.

pyqtgraph is imported by :func:`preload` on a worker (the preview pane calls it soon after the
window is shown, and before the first array is shown), never at window start-up; the plot can
be built in short steps (``build_now=False``, then :meth:`SlicePlot.build_step`).
Each slider move becomes a :class:`~app.plot.painter.PlaneRequest` on a
:class:`~app.workers.LatestOnly` slot (superseded requests are dropped); the
worker reads the touched chunks one at a time and each decoded tile is
painted as it arrives.  Chunks already decoded come from the chunk cache, so
such steps are served on the GUI thread without a worker round trip.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QMenu,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import qt_classes
from ..formatting import human_size
from ..qtcompat import add_action
from ..viewers.budget import Budget
from ..viewers.qt_compat import guard_none_refcount
from ..viewers.widgets import FlowLayout, GuardBar, button, row_of
from ..workers import LatestOnly
from .analysis import (
    MAX_COPY_VALUES,
    SCALES,
    Stats,
    apply_scale,
    array_stats,
    sample_line,
    scale_label,
    slice_text,
    stats_of,
)
from .dims_sliders import DimsSliders
from .painter import (
    CACHE,
    MAX_CHUNKS,
    READ_WORKERS,
    TARGET_SIDE,
    PlaneRequest,
    PlaneResult,
    ViewPlan,
    plane_cost,
    read_plane,
    request_cost,
    view_request,
)
from .source import ArraySource
from .stats_panel import StatsPanel

log = logging.getLogger(__name__)

COLORMAPS = ["viridis", "gray", "inferno", "magma", "plasma", "cividis", "turbo", "CET-D1"]
COMPLEX_MODES = ["magnitude", "phase", "real", "imag"]
#: the tiles of a frame arriving this soon after it was asked for are painted together (a frame read as fast
#: as this is painted once, as one image, not tile by tile: each paint of new tiles costs the GUI thread)
TILE_COALESCE_S = 0.1
#: tiles arriving together beyond this many are painted as one image of the plane, not as an item each
TILE_ITEMS_PER_DRAIN = 4
#: colour maps with at most this many stops show their gradient's ticks (to drag); more: hidden
EDITABLE_STOPS = 16

_preload_lock = threading.Lock()
_preload_state = ""  # "", "running" (some thread imports), "done"


def preloading() -> bool:
    """True while :func:`preload` imports on some thread (the pane's warm-up, most often)."""
    return _preload_state == "running"


def preload() -> None:
    """Import what a plot needs before one is built: on a worker, so the GUI thread never imports it (once).

    pyqtgraph itself (patched: :mod:`app.plot.pg_patches`); the colour maps' files; numpy.ma
    (the first image); the readout's value formatting.  Importing these creates no Qt object
    (pyqtgraph's modules only make value types such as QColor at import), so any thread may do
    it once PySide6's classes exist (:mod:`app.qt_classes`: on a worker this waits for the GUI
    thread to make them); a second caller waits for the first.
    """
    global _preload_state
    if _preload_state == "done":
        return
    # pyqtgraph touches every Qt class: made on the GUI thread first (before the lock, which the GUI thread may want)
    qt_classes.ensure()
    with _preload_lock:
        if _preload_state == "done":
            return
        _preload_state = "running"
        try:
            import pyqtgraph as pg

            from . import pg_patches

            pg_patches.apply()
        except BaseException:
            _preload_state = ""
            raise
        try:  # the rest only saves the GUI thread some time: best effort
            _import_extras(pg)
        except Exception as e:  # noqa: BLE001 - the plot imports (or fails on) them itself then
            log.debug("plot modules not all preloaded: %s", e)
        _preload_state = "done"


def _import_extras(pg: Any) -> None:
    import numpy.ma  # noqa: F401

    from storecore.containers import values  # noqa: F401

    for name in COLORMAPS:
        if name != "gray":
            pg.colormap.get(name)  # read once and cached by pyqtgraph


def default_view(source: ArraySource) -> tuple[str, tuple[int, ...]]:
    """The view a plot opens ``source`` in: an image of its last two axes, a curve when 1-D (or records), a scalar."""
    nd = len(source.shape)
    if nd == 0:
        return "scalar", ()
    if nd == 1 or source.dtype.names is not None:
        return "curve", (nd - 1,)
    return "image", (nd - 2, nd - 1)


def read_budget(budget: Budget, base: int, cost: int, plan: ViewPlan | None) -> int:
    """The bytes a plane read may decode: ``base``, or the frame budget when the plane (display-sized, its
    chunks fetched at full resolution) is past ``base`` but within the frame budget: it streams, no click."""
    if cost > base and plan is not None and plan.mode == "partial" and budget.frame_fits(cost, plan.chunks):
        return max(base, int(budget.frame_bytes or 0))
    return base


#: a new plot's first view is read ahead (on the worker preparing it) for up to this long, so that a frame read
#: quickly is shown whole in the plot's first paint instead of tile by tile after it
FIRST_VIEW_AHEAD_S = 0.08


def prefetch_first_view(source: ArraySource, levels: list[ArraySource], budget: Budget, token: Any = None,
                        ahead_s: float = FIRST_VIEW_AHEAD_S) -> None:  # fmt: skip
    """Read the tiles of the view a new plot of ``source`` shows first into the chunk cache (worker thread).

    It reads for up to ``ahead_s`` seconds, and for as long as :func:`preload` still imports
    the plot's modules on another thread (the read overlaps the import instead of following
    it), stopping early when ``token`` is set.  A frame read in that time is shown whole
    as the plot is first painted (its tiles are all cached: no worker round trip, no paint
    of an empty plot first); a slower one streams the rest as usual, from the tiles read
    here.  The request and budget are the ones :meth:`SlicePlot.request_slice` makes.
    Errors are left to the plot's own read, which shows them.
    """
    mode, axes = default_view(source)
    if mode == "scalar":
        return
    end = time.perf_counter() + ahead_s
    all_levels = [source, *levels]
    try:
        level, req, plan = view_request(all_levels, mode, axes, [0] * len(source.shape), budget.max_bytes)
        src = all_levels[level]
        limit = read_budget(budget, budget.max_bytes, plane_cost(src, req, level=level), plan)
        read_plane(src, req, budget=limit, level=level, workers=READ_WORKERS,
                   token=lambda: (token is not None and token()) or (time.perf_counter() > end and not preloading()))  # fmt: skip
    except Exception as e:  # noqa: BLE001 - the plot reads it again and says what is wrong
        log.debug("prefetch of %s failed: %s", getattr(source, "uri", source), e)


def to_display(raw: np.ndarray, complex_mode: str = "magnitude", fill_value: Any = None,
               dtype: Any = np.float32) -> np.ndarray:  # fmt: skip
    """Float32 values for display: complex reduced by ``complex_mode``, bools as 0/1, fill values as NaN."""
    a = raw
    if np.iscomplexobj(a):
        a = {"magnitude": np.abs, "phase": np.angle, "real": np.real, "imag": np.imag}[complex_mode](a)
    if a.dtype == bool:
        a = a.astype(np.uint8)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"cannot plot values of type {raw.dtype}")
    out = a.astype(dtype, copy=True)
    if fill_value is not None:
        try:
            out[a == fill_value] = np.nan
        except (TypeError, ValueError):
            pass
    return out


def auto_levels(values: np.ndarray) -> tuple[float, float]:
    """Display levels from the 1st and 99th percentiles of the finite values (a 200k sample when large)."""
    flat = values.ravel()
    if flat.size > 200_000:  # a strided sample: the GUI thread has no time for a full sort
        flat = flat[:: flat.size // 200_000 + 1]
    flat = flat[np.isfinite(flat)]
    if not flat.size:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(flat, [1, 99]))
    if hi <= lo:
        lo, hi = float(flat.min()), float(flat.max())
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def linear_scale(values: np.ndarray | None, n: int) -> tuple[float, float] | None:
    """``(origin, spacing)`` mapping pixel edges to coordinates when ``values`` (``n`` points) are uniform."""
    if values is None or len(values) != n or n < 2:
        return None
    v = np.asarray(values, dtype=float)
    d = np.diff(v)
    if not np.all(np.isfinite(d)) or d[0] == 0 or not np.allclose(d, d[0], rtol=1e-3, atol=abs(d[0]) * 1e-6):
        return None
    step = float(v[-1] - v[0]) / (n - 1)
    return float(v[0]) - step / 2, step


def _coord_axis_class(pg: Any) -> type:
    """A pyqtgraph ``AxisItem`` whose ticks show ``origin + index * spacing`` (image axes in coordinates)."""

    class CoordAxis(pg.AxisItem):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.scale_map: tuple[float, float] | None = None

        def set_scale_map(self, scale_map: tuple[float, float] | None) -> None:
            if scale_map != self.scale_map:
                self.scale_map = scale_map
                self.picture = None
                self.update()

        def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802, N803
            if self.scale_map is None:
                return super().tickValues(minVal, maxVal, size)
            o, s = self.scale_map
            lo, hi = sorted((o + minVal * s, o + maxVal * s))
            return [(spacing / abs(s), [(v - o) / s for v in values])
                    for spacing, values in super().tickValues(lo, hi, size)]  # fmt: skip

        def tickStrings(self, values: list, scale: float, spacing: float) -> list[str]:  # noqa: N802
            if self.scale_map is None:
                return super().tickStrings(values, scale, spacing)
            o, s = self.scale_map
            physical = float(f"{spacing * abs(s):.12g}")  # 0.99999… would print one decimal too many
            return super().tickStrings([o + v * s for v in values], scale, physical)

    return CoordAxis


class _Sink(QObject):
    """Carries tiles from the worker to the GUI thread.

    Tiles wait in a thread-safe deque and only a plain int crosses threads in
    the queued signal (Python objects in cross-thread signals proved fragile).
    """

    ping = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.parts: deque[tuple[int, tuple, np.ndarray]] = deque()

    def put(self, gen: int, out: tuple, part: np.ndarray) -> None:
        """Queue a tile (worker thread) and wake the GUI thread."""
        self.parts.append((gen, out, part))
        self.ping.emit(gen)


class SlicePlot(QWidget):
    """Curve or image of a slice of an :class:`ArraySource`, with dims sliders, levels and export."""

    #: emitted once per source, when its first pixels (or an error/guard notice) are on screen
    painted = Signal()
    #: emitted when a slice request finished (the :class:`PlaneResult`)
    slice_loaded = Signal(object)
    #: status text
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None, budget: Budget | None = None, *, build_now: bool = True) -> None:
        """``build_now=False``: only the state is set up; run :meth:`build_step` until it returns True before use."""
        super().__init__(parent)
        import pyqtgraph as pg

        from . import pg_patches

        pg_patches.apply()  # (done by preload already, unless this plot is built without it)
        guard_none_refcount()

        self.pg = pg
        self.budget = budget or Budget()
        self.source: ArraySource | None = None
        self.levels_src: list[ArraySource] = []
        self.coords: dict[int, np.ndarray] = {}
        self.names: list[str] = []
        self.fill_value: Any = None
        self.mode = "image"
        self.axes: tuple[int, ...] = ()
        self.raw: np.ndarray | None = None  # the shown slice, in display order (before transpose)
        self.request: PlaneRequest | None = None
        self.result: PlaneResult | None = None
        self.geometry: list[tuple[float, float]] = []  # (origin, spacing) per shown axis
        self._display: np.ndarray | None = None
        self._draw_error = ""
        self._plane: np.ndarray | None = None
        self._tiles: list[Any] = []
        self.detail_request: PlaneRequest | None = None
        self._slot = LatestOnly(owner=self)  # no late read reaches a deleted plot
        self._gen = 0
        self._first_pending = False
        self._painted_source = False
        self._full_next = False
        self._sink = _Sink()
        self._sink.ping.connect(self._on_tile)
        self._requested_at = 0.0
        self._drain_scheduled = False
        #: per-dimension axis titles (``energy (keV)``) and the values' label (colour bar / curve y axis)
        self.axis_labels: list[str] = []
        self.value_label = ""
        self.plot_title = ""
        self._curve_x: np.ndarray | None = None
        self._build_queue: deque[Callable[[], None]] = deque(self._build_steps())
        if build_now:
            self._build()

    # -- construction ------------------------------------------------------------
    def _build_steps(self) -> list[Callable[[], None]]:
        """The construction, in pieces short enough to run one per event-loop turn (see :meth:`build_step`)."""
        return [self._build_view_controls, self._build_scale_controls, self._build_analysis_controls,
                self._build_toolbar, self._build_image_view, self._build_histogram, self._build_rois,
                self._build_profile_plot, self._build_curve_page, self._build_pages, self._build_colormap,
                self._build_lookup_table, self._build_stats, self._build_layout]  # fmt: skip

    def _build(self) -> None:
        """Run every construction step left (all of them, unless :meth:`build_step` ran some)."""
        while not self.build_step():
            pass

    def build_step(self) -> bool:
        """Run the next construction step of a plot made with ``build_now=False``; True once it is complete.

        Each step builds a few widgets (a pyqtgraph view, the histogram...), so a plot built
        step by step from ``QTimer.singleShot(0)`` never holds the GUI thread for long.
        Nothing else may be called on the plot before it is complete.
        """
        if self._build_queue:
            self._build_queue.popleft()()
        return not self._build_queue

    @property
    def built(self) -> bool:
        """True once every construction step has run."""
        return not self._build_queue

    def _build_view_controls(self) -> None:
        """Mode, shown axes, colour map, complex mode and the view check boxes."""
        self.mode_box = QComboBox()
        self.mode_box.addItems(["Image", "Curve"])
        self.mode_box.activated.connect(lambda *_: self._axes_changed())
        self.y_box, self.x_box = QComboBox(), QComboBox()
        for box in (self.y_box, self.x_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.y_box.activated.connect(lambda *_: self._axes_changed(changed="y"))
        self.x_box.activated.connect(lambda *_: self._axes_changed(changed="x"))
        self.cmap_box = QComboBox()
        self.cmap_box.addItems(COLORMAPS)
        self.cmap_box.currentTextChanged.connect(self.set_colormap)
        self.complex_box = QComboBox()
        self.complex_box.addItems(COMPLEX_MODES)
        self.complex_box.currentTextChanged.connect(lambda *_: self._redraw(relevel=True))
        self.aspect = QCheckBox("Aspect")
        self.aspect.setChecked(True)
        self.aspect.toggled.connect(lambda on: self.plot.setAspectLocked(on))
        self.transpose = QCheckBox("Transpose")
        self.transpose.toggled.connect(lambda *_: (self._drop_detail(), self._redraw(relevel=False, autorange=True)))
        self.flip_x, self.flip_y = QCheckBox("Flip X"), QCheckBox("Flip Y")
        self.flip_x.toggled.connect(lambda on: self.plot.invertX(on))
        self.flip_y.toggled.connect(lambda on: self.plot.invertY(not on))
        self.auto = QCheckBox("Auto levels")
        self.auto.setChecked(True)
        self.auto.toggled.connect(lambda on: on and self._redraw(relevel=True))
        self.log = QCheckBox("Log")
        self.log.toggled.connect(lambda on: self.curve_plot.setLogMode(False, on))
        self.markers = QCheckBox("Markers")
        self.markers.toggled.connect(lambda *_: self._redraw(relevel=False))

    def _build_scale_controls(self) -> None:
        """The images' colour scale (the curve's "Log" box is its own): reset to linear for each dataset."""
        self.scale_box = QComboBox()
        self.scale_box.addItems(SCALES)
        self.scale_box.setToolTip("Colour scale: linear, log (values ≤ 0 not shown), sqrt, symlog (linear within ±threshold)")
        self.scale_box.currentTextChanged.connect(lambda *_: self._scale_changed())
        self.threshold = QDoubleSpinBox()
        self.threshold.setDecimals(6)
        self.threshold.setRange(1e-12, 1e15)
        self.threshold.setValue(1.0)
        self.threshold.setPrefix("linear ±")
        self.threshold.setToolTip("symlog: values within ±threshold are shown linearly")
        self.threshold.valueChanged.connect(lambda *_: self._scale_changed())
        self.threshold.hide()
        self.scale_note = QLabel("")
        self.scale_note.setStyleSheet("color: #775500;")
        self.scale_note.hide()

    def _build_analysis_controls(self) -> None:
        """The profile, ROI and statistics switches."""
        self.profile_box = QCheckBox("Profile")
        self.profile_box.setToolTip("A line on the image; the values along it in a plot below")
        self.profile_box.toggled.connect(self.show_profile)
        self.interp_box = QComboBox()
        self.interp_box.addItems(["nearest", "bilinear"])
        self.interp_box.setToolTip("How the profile samples the image between pixel centres")
        self.interp_box.currentTextChanged.connect(lambda *_: self._update_profile())
        self.interp_box.hide()
        self.roi_box = QCheckBox("ROI")
        self.roi_box.setToolTip("A rectangle on the image; statistics of the values inside it")
        self.roi_box.toggled.connect(self.show_roi)
        self.stats_box = QCheckBox("Statistics")
        self.stats_box.setToolTip("min, max, mean, std, NaN/inf of the slice, the ROI and (on request) the whole array")
        self.stats_box.toggled.connect(self.show_statistics)

    def _copy_button(self) -> QToolButton:
        """The "Copy" menu button (its actions are also in the plots' right-click menus and on keys)."""
        self.copy_value_action = self._action("Copy value under cursor", "Ctrl+C", self.copy_value)
        self.copy_tsv_action = self._action("Copy slice as TSV (spreadsheet)", "Ctrl+Shift+C", lambda: self.copy_slice("\t"))
        self.copy_csv_action = self._action("Copy slice as CSV", "", lambda: self.copy_slice(","))
        copy = QToolButton()
        copy.setText("Copy")
        copy.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        copy_menu = QMenu(copy)
        for action in (self.copy_value_action, self.copy_tsv_action, self.copy_csv_action):
            copy_menu.addAction(action)
        copy.setMenu(copy_menu)
        return copy

    def _export_button(self) -> QToolButton:
        """The "Export" menu button."""
        export = QToolButton()
        export.setText("Export")
        export.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(export)
        add_action(menu, "View as PNG…", lambda: self._ask_export("png"))
        add_action(menu, "Slice as .npy…", lambda: self._ask_export("npy"))
        add_action(menu, "Slice as CSV…", lambda: self._ask_export("csv"))
        export.setMenu(menu)
        return export

    def _build_toolbar(self) -> None:
        """One flow of controls that wraps onto more rows in a narrow pane (no horizontal scrolling)."""
        copy, export = self._copy_button(), self._export_button()
        self.toolbar = QWidget()
        flow = FlowLayout(self.toolbar)
        self.y_label = QLabel("Y")
        self.y_row = row_of(self.y_label, self.y_box)
        for w in (self.mode_box, self.y_row, row_of(QLabel("X"), self.x_box), self.complex_box, self.cmap_box,
                  row_of(self.scale_box, self.threshold), self.scale_note, self.auto, self.aspect, self.transpose,
                  self.flip_x, self.flip_y, self.log, self.markers, row_of(self.profile_box, self.interp_box),
                  self.roi_box, self.stats_box, button("Reset view", self.reset_view), copy, export):  # fmt: skip
            flow.addWidget(w)

    def _build_image_view(self) -> None:
        """The image page: a plot with coordinate axes, the image, and the full-resolution detail patch."""
        pg = self.pg
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        coord_axis = _coord_axis_class(pg)
        axis_items = {"bottom": coord_axis("bottom"), "left": coord_axis("left")}
        self.plot = self.glw.addPlot(row=0, col=0, axisItems=axis_items)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.showGrid(x=False, y=False)
        # autoDownsample: a plane larger than the view is rendered at screen resolution
        self.image = pg.ImageItem(axisOrder="row-major", autoDownsample=True)
        self.plot.addItem(self.image)
        # full-resolution patch over a strided overview or a coarse pyramid level, when zoomed in
        self.detail = pg.ImageItem(axisOrder="row-major", autoDownsample=True)
        self.detail.setZValue(5)
        self.detail.hide()
        self.plot.addItem(self.detail)
        self._detail_slot = LatestOnly(owner=self)
        self._refine_timer = QTimer(self)
        self._refine_timer.setSingleShot(True)
        self._refine_timer.setInterval(250)
        self._refine_timer.timeout.connect(self.refine)
        self.plot.vb.sigRangeChanged.connect(lambda *_: self._refine_timer.start())

    def _build_histogram(self) -> None:
        """The histogram and levels beside the image, and the cursor's cross-hair."""
        pg = self.pg
        self.hist = pg.HistogramLUTItem()
        self.hist.setImageItem(self.image)
        self.hist.sigLevelsChanged.connect(lambda *_: (self._sync_detail(), self._sync_tiles()))
        self.hist.sigLookupTableChanged.connect(lambda *_: (self._sync_detail(), self._sync_tiles()))
        self.glw.addItem(self.hist, row=0, col=1)
        pen = pg.mkPen((255, 80, 80, 160), width=1)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        for line in (self.vline, self.hline):
            line.setZValue(10)
            line.hide()
            self.plot.addItem(line, ignoreBounds=True)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse)

    def _build_rois(self) -> None:
        """The analysis tools on the image: pyqtgraph's own ROIs, shown on request."""
        pg = self.pg
        self.line_roi = pg.LineSegmentROI([[0, 0], [1, 1]], pen=pg.mkPen((255, 200, 0), width=2))
        self.rect_roi = pg.RectROI([0, 0], [1, 1], pen=pg.mkPen((0, 220, 255), width=2))
        for roi in (self.line_roi, self.rect_roi):
            roi.setZValue(20)
            roi.hide()
            self.plot.addItem(roi, ignoreBounds=True)
        self.line_roi.sigRegionChanged.connect(lambda *_: self._update_profile())
        self.rect_roi.sigRegionChanged.connect(lambda *_: self._update_roi_stats())
        self._rois_placed: set[str] = set()

    def _build_profile_plot(self) -> None:
        """The line profile's plot (below the image, hidden until asked for)."""
        pg = self.pg
        self.profile_plot = pg.PlotWidget(background="w")
        self.profile_plot.showGrid(x=True, y=True, alpha=0.3)
        self.profile_plot.setLabel("bottom", "distance along the line (pixels)")
        self.profile_curve = self.profile_plot.plot([], [], pen=pg.mkPen((200, 120, 0), width=1.5))
        self.profile_plot.setMinimumHeight(90)
        self.profile_plot.hide()
        self.profile_x: np.ndarray = np.zeros(0)
        self.profile_y: np.ndarray = np.zeros(0)

    def _build_curve_page(self) -> None:
        """The curve page: a curve, its error bars and a cursor line."""
        pg = self.pg
        self.curve_plot = pg.PlotWidget(background="w")
        self.curve_plot.showGrid(x=True, y=True, alpha=0.3)
        self.curve = self.curve_plot.plot([], [], pen=pg.mkPen((31, 119, 180), width=1.5))
        self.error_bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), beam=0.0, pen=pg.mkPen((31, 119, 180, 150)))
        self.error_bars.hide()
        self.curve_plot.addItem(self.error_bars)
        self.curve_vline = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((255, 80, 80, 160)))
        self.curve_plot.addItem(self.curve_vline, ignoreBounds=True)
        self.curve_plot.scene().sigMouseMoved.connect(self._on_curve_mouse)

    def _build_pages(self) -> None:
        """The plots' menus and keys, the page stack (image, curve, scalar), the guard, readout and sliders."""
        for menu_owner in (self.plot.vb, self.curve_plot.getPlotItem().vb):  # the plots' right-click menus
            menu_owner.menu.addSeparator()
            for action in (self.copy_value_action, self.copy_tsv_action, self.copy_csv_action):
                menu_owner.menu.addAction(action)
        for view in (self.glw, self.curve_plot):
            view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # reachable by Tab: keys step the sliders
            view.installEventFilter(self)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.glw)
        self.pages.addWidget(self.curve_plot)
        self.scalar = QLabel()
        self.scalar.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scalar.setStyleSheet("font-size: 18pt;")
        self.pages.addWidget(self.scalar)
        self.guard = GuardBar()
        self.guard.clicked.connect(self.load_full_plane)
        self.readout = QLabel(" ")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sliders = DimsSliders()
        self.sliders.changed.connect(lambda *_: self.request_slice())

    def _build_colormap(self) -> None:
        """The first colour map (its gradient gets one tick per stop: a step of its own)."""
        self.set_colormap(COLORMAPS[0])

    def _build_lookup_table(self) -> None:
        """The colour map's lookup table now, not at the first image's paint (float images: 512 entries,
        as the histogram makes it on demand; it is cached until the gradient changes)."""
        self.hist.getLookupTable(n=512)

    def _build_stats(self) -> None:
        """The statistics panel and the splitter of the plot pages over the profile."""
        self.stats_panel = StatsPanel()
        self.stats_panel.whole_requested.connect(self.compute_array_stats)
        self.stats_panel.cancel_requested.connect(self.cancel_array_stats)
        self.stats_panel.hide()
        self._stats_slot = LatestOnly(owner=self)
        self.array_stats: Stats | None = None
        self.slice_stats: Stats | None = None
        self.roi_stats: Stats | None = None
        self._hover_index: tuple[int, ...] | None = None
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.pages)
        self.split.addWidget(self.profile_plot)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 1)
        self.split.setChildrenCollapsible(False)

    def _build_layout(self) -> None:
        """Toolbar, guard, plots, statistics, readout and sliders, top to bottom."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.guard)
        layout.addWidget(self.split, 1)
        layout.addWidget(self.stats_panel)
        layout.addWidget(self.readout)
        layout.addWidget(self.sliders)
        self.setTabOrder(self.glw, self.curve_plot)

    # -- source ------------------------------------------------------------------
    def set_source(self, source: ArraySource, coords: dict[int, np.ndarray] | None = None,
                   names: list[str] | None = None, fill_value: Any = None,
                   levels: list[ArraySource] | None = None) -> None:  # fmt: skip
        """Show ``source``: an image of its last two axes (a curve when 1-D), sliders for the rest.

        ``levels`` are its coarser pyramid levels; pass them when known (they are
        looked up with I/O otherwise, which belongs on a worker).
        """
        self._slot.cancel()
        self._drop_detail()  # no late refinement of the previous array
        self.cancel_array_stats(note="")
        self.status.emit("")  # the previous array's "Reading slice …" / "slice … read" end with it
        self.source = source
        self.levels_src = [source, *(source.multiscales() if levels is None else levels)]
        self.coords = coords or {}
        self.axis_labels, self.value_label, self.plot_title = [], "", ""
        self.names = list(names or [])
        self.fill_value = fill_value
        self.raw, self.result, self._display, self._plane = None, None, None, None
        self._painted_source = False
        self.image.clear()  # never show the previous array's pixels under the new one's axes
        self._clear_tiles()
        self.curve.setData([], [])
        self.error_bars.hide()
        self._curve_x = None
        self.readout.setText(" ")
        self._hover_index = None
        self.guard.hide()
        self.stats_panel.reset()
        self.slice_stats = self.roi_stats = self.array_stats = None
        self.profile_curve.setData([], [])
        self.profile_x, self.profile_y = np.zeros(0), np.zeros(0)
        self._rois_placed.clear()  # placed again over the new image
        for box, value in ((self.log, False), (self.scale_box, None)):  # scales are per dataset
            box.blockSignals(True)
            box.setChecked(value) if value is not None else box.setCurrentText("linear")
            box.blockSignals(False)
        self.curve_plot.setLogMode(False, False)
        self._scale_controls()
        nd = len(source.shape)
        self.complex_box.setVisible(np.issubdtype(source.dtype, np.complexfloating))
        labels = [self._axis_label(a) for a in range(nd)]
        for box in (self.y_box, self.x_box):
            box.blockSignals(True)
            box.clear()
            box.addItems(labels)
            box.blockSignals(False)
        self.mode, self.axes = default_view(source)
        self._sync_controls()
        # a zero-length axis leaves no position for a slider to take (request_slice says the array is empty)
        shown = tuple(range(nd)) if 0 in tuple(source.shape) else self.axes
        self.sliders.configure(source.shape, shown, self._slider_names(), [0] * nd)
        self.request_slice(autorange=True)

    def _axis_label(self, ax: int) -> str:
        name = self.names[ax] if ax < len(self.names) and self.names[ax] else f"axis {ax}"
        return f"{name} ({self.source.shape[ax]})" if self.source is not None else name

    def _slider_names(self) -> list[str]:
        return [self.names[a] if a < len(self.names) and self.names[a] else f"axis {a}" for a in range(len(self.source.shape))]

    def _sync_controls(self) -> None:
        image = self.mode == "image"
        self.mode_box.blockSignals(True)
        self.mode_box.setCurrentIndex(0 if image else 1)
        self.mode_box.setEnabled(self.source is not None and len(self.source.shape) >= 2)
        self.mode_box.blockSignals(False)
        if self.axes:
            self.x_box.setCurrentIndex(self.axes[-1])
        if image:
            self.y_box.setCurrentIndex(self.axes[0])
        for w in (self.y_row, self.cmap_box, self.aspect, self.transpose, self.flip_x, self.flip_y, self.auto,
                  self.scale_box.parentWidget(), self.profile_box.parentWidget(), self.roi_box):  # fmt: skip
            w.setVisible(image)
        self._sync_rois()
        for w in (self.log, self.markers):
            w.setVisible(self.mode == "curve")
        self.pages.setCurrentIndex({"image": 0, "curve": 1}.get(self.mode, 2))
        self._apply_labels()

    def set_axes(self, axes: tuple[int, ...]) -> None:
        """Show ``axes`` (one → curve, two → image as (y, x)); sliders for the others."""
        if self.source is None:
            return
        nd = len(self.source.shape)
        axes = tuple(int(a) % nd for a in axes)
        if len(axes) == 2 and axes[0] == axes[1]:
            raise ValueError("the two shown axes must differ")
        self.mode = "image" if len(axes) == 2 else "curve"
        self.axes = axes
        self._sync_controls()
        self.sliders.configure(self.source.shape, self.axes, self._slider_names(), self.sliders.index)
        self.request_slice(autorange=True)

    def _axes_changed(self, changed: str = "") -> None:
        if self.source is None:
            return
        y, x = self.y_box.currentIndex(), self.x_box.currentIndex()
        if self.mode_box.currentIndex() == 1:
            self.set_axes((x,))
            return
        if y == x:  # keep two different axes: swap with the previous choice
            old = self.axes if len(self.axes) == 2 else (x, y)
            y, x = (old[1], x) if changed == "x" else (y, old[0])
            if y == x:
                y = (x + len(self.source.shape) - 1) % len(self.source.shape)
        self.set_axes((y, x))

    # -- reading -----------------------------------------------------------------
    def _level_request(self) -> tuple[int, ArraySource, PlaneRequest, list[tuple[float, float]]]:
        src0 = self.source
        level, req, plan = view_request(self.levels_src, self.mode, self.axes, self.sliders.index, self.budget.max_bytes)
        src = self.levels_src[level]
        self._view_plan = plan
        step = plan.step
        geometry = []
        for k, ax in enumerate(self.axes):
            scale = src0.shape[ax] / max(1, src.shape[ax])
            geometry.append((plan.region[k][0] * scale if plan.region else 0.0, step[k] * scale))
        return level, src, req, geometry

    def request_slice(self, autorange: bool = False) -> None:
        """Read and show the slice at the sliders' position (on a worker unless cached)."""
        if self.source is None:
            return
        if self.mode == "scalar":
            self._show_scalar()
            return
        if 0 in tuple(self.source.shape):  # nothing to read or draw, whichever axes are shown
            self.guard.offer(f"Empty ({'×'.join(map(str, self.source.shape))}): no values to plot", "")
            self._mark_painted()
            return
        level, src, req, geometry = self._level_request()
        self._drop_detail()
        self._draw_error = ""
        budget = self.budget.unlimited().max_bytes if self._full_next else self.budget.max_bytes
        self._full_next = False
        self._gen += 1
        gen = self._gen
        self._pending_geometry = geometry
        self._autorange = autorange or self.raw is None
        self._first_pending = True
        self._requested_at = time.perf_counter()
        cost = plane_cost(src, req, level=level)
        budget = read_budget(self.budget, budget, cost, getattr(self, "_view_plan", None))
        if cost == 0:
            self._slot.cancel()
            try:
                result = read_plane(src, req, budget=budget, level=level)
            except Exception as exc:  # noqa: BLE001 - shown, never raised
                log.debug("slice read failed", exc_info=exc)
                self._on_failed(gen, f"{type(exc).__name__}: {exc}")
                return
            self._on_done(gen, result)
            return
        sink = self._sink
        # Frames of chunks decoded part-way cost little each: one read at a time leaves the GUI thread a core
        # (two made the 2 GiB volume's slider step 35 ms faster but its longest stall 20 ms longer).
        workers = 1 if src.prefix_reads else READ_WORKERS

        def work(token: Any) -> PlaneResult:
            return read_plane(src, req, budget=budget, token=token, level=level, workers=workers,
                              emit=lambda out, part: None if token.cancelled else sink.put(gen, out, part))  # fmt: skip

        self.status.emit("Reading slice …")
        self._slot.submit(work, with_token=True, on_done=lambda r, g=gen: self._on_done(g, r),
                          on_error=lambda m, e, g=gen: self._on_failed(g, m))  # fmt: skip

    def load_full_plane(self) -> None:
        """Read the whole current plane even past the budget (the user asked)."""
        self._full_next = True
        self.request_slice()

    def _on_tile(self, gen: int) -> None:
        """A tile arrived: paint it, unless the request is younger than ``TILE_COALESCE_S``: then the
        tiles arriving until then (most often the whole frame) are painted together, once."""
        if gen != self._gen:
            return
        wait = self._requested_at + TILE_COALESCE_S - time.perf_counter()
        if self._first_pending and wait > 0:
            if not self._drain_scheduled:
                self._drain_scheduled = True
                QTimer.singleShot(max(1, int(wait * 1000)), self, self._scheduled_drain)
            return
        self._drain_tiles()

    def _scheduled_drain(self) -> None:
        self._drain_scheduled = False
        self._drain_tiles()

    def _drain_tiles(self) -> None:
        """Paint every tile that arrived (tiles coalesce under load)."""
        first = self._first_pending
        new = []
        while self._sink.parts:
            gen, out, part = self._sink.parts.popleft()
            if self._place_tile(gen, out, part):
                new.append((out, part))
        if not new:
            return
        self.raw = self._tile_raw
        if self.mode == "image" and len(new) > TILE_ITEMS_PER_DRAIN:
            # Many tiles at once (a frame that decodes quickly): one image of the plane renders in one go,
            # where as many tile items cost a paint of their own each (16 tiles: 85-118 ms of one paint).
            # levels from the first tiles, or from the whole plane once it is all here (then final)
            self._redraw(relevel=self.auto.isChecked() and (first or bool(self._tile_shown.all())),
                         autorange=first and self._autorange, mask=self._tile_shown)  # fmt: skip
        elif self.mode == "image":
            try:
                self._paint_tiles(new, first)
            except TypeError as exc:
                self._draw_error = str(exc)
                self.guard.offer(self._draw_error, "")
        else:
            self._redraw(relevel=first, autorange=first and self._autorange, mask=self._tile_shown)
        self._mark_painted()

    def _paint_tiles(self, new: list[tuple[tuple, np.ndarray]], first: bool) -> None:
        """Show each new tile as its own small image item: a tile costs its own pixels, not the plane's."""
        pg = self.pg
        mode, fill = self.complex_box.currentText(), self.fill_value
        converted = [(out, to_display(part, mode, fill)) for out, part in new]
        transposed = self.transpose.isChecked()
        geometry = self.geometry or [(0.0, 1.0), (0.0, 1.0)]
        if first:
            self._clear_tiles()
            self.image.clear()
            self._plane = np.full(self._tile_raw.shape, np.nan, np.float32)
            if self.auto.isChecked():
                self.hist.setLevels(*auto_levels(self._scaled(np.concatenate([v.ravel() for _, v in converted]))))
            if self._autorange:
                (oy, sy), (ox, sx) = geometry
                h, w = self._plane.shape[0] * sy, self._plane.shape[1] * sx
                rect = QRectF(oy, ox, h, w) if transposed else QRectF(ox, oy, w, h)
                self.plot.setRange(rect=rect, padding=0)
        levels = self.hist.getLevels()
        for out, values in converted:
            self._plane[out] = values
            values = self._scaled(values)
            (oy, sy), (ox, sx) = geometry
            y0, x0 = oy + (out[0].start or 0) * sy, ox + (out[1].start or 0) * sx
            h, w = values.shape[0] * sy, values.shape[1] * sx
            item = pg.ImageItem(axisOrder="row-major")
            item.setZValue(1)
            item.setLookupTable(self.hist.getLookupTable)
            if transposed:
                item.setImage(values.T, autoLevels=False, levels=levels)
                item.setRect(QRectF(y0, x0, h, w))
            else:
                item.setImage(values, autoLevels=False, levels=levels)
                item.setRect(QRectF(x0, y0, w, h))
            self.plot.addItem(item)
            self._tiles.append(item)
        self._display = self._plane.T if transposed else self._plane

    def _clear_tiles(self) -> None:
        for item in self._tiles:
            self.plot.removeItem(item)
        self._tiles = []

    def _sync_tiles(self) -> None:
        levels = self.hist.getLevels()
        for item in self._tiles:
            item.setLookupTable(self.hist.getLookupTable)
            item.setLevels(levels)

    def _backdrop(self) -> None:
        """Give the histogram a small copy of the plane under the tiles (it draws from the main image)."""
        plane = self._plane
        k = max(1, max(plane.shape) // 256)
        small = self._scaled(plane[::k, ::k]).copy()
        # unread samples at the lowest level (NaN-free images render faster); samples read as NaN (missing values,
        # CF fill values) stay NaN, drawn as nothing: under a tile's transparent NaN pixel the backdrop showed
        # the lowest colour, a missing value looked like the minimum
        low, high = self.hist.getLevels()
        unread = ~np.isfinite(small)
        shown = getattr(self, "_tile_shown", None)
        if shown is not None and shown.shape == plane.shape:
            unread &= ~shown[::k, ::k]
        small[unread] = low
        # infinities are values past either end (the histogram, drawn from this image, cannot bin them); an image
        # of NaN only would give the histogram no range at all
        small[np.isposinf(small)], small[np.isneginf(small)] = high, low
        if not np.isfinite(small).any():
            small[...] = low
        geometry = self.geometry or [(0.0, 1.0), (0.0, 1.0)]
        (oy, sy), (ox, sx) = geometry
        h, w = plane.shape[0] * sy, plane.shape[1] * sx
        transposed = self.transpose.isChecked()
        self.image.setImage(small.T if transposed else small, autoLevels=False, levels=self.hist.getLevels())
        self.image.setRect(QRectF(oy, ox, h, w) if transposed else QRectF(ox, oy, w, h))

    def _place_tile(self, gen: int, out: tuple, part: np.ndarray) -> bool:
        if gen != self._gen or self.source is None:
            return False
        if getattr(self, "_tile_gen", None) != gen:  # the request's first tile (of several drained at once, maybe)
            _, src, req, geometry = self._level_request()
            shape = req.out_shape(src.shape)
            self._tile_raw = np.zeros(shape, src.dtype)
            self._tile_shown = np.zeros(shape, bool)
            self._tile_gen = gen
            self.geometry = geometry
        self._tile_raw[out] = part
        self._tile_shown[out] = True
        return True

    def _mark_painted(self) -> None:
        self._first_pending = False
        if not self._painted_source:
            self._painted_source = True
            self.painted.emit()

    def _on_done(self, gen: int, result: PlaneResult) -> None:
        if gen != self._gen:
            return
        self._drain_tiles()
        first = self._first_pending
        self.result = result
        self.request = result.request
        self.raw = result.data
        self.geometry = self._pending_geometry
        streamed = not first and self.mode == "image" and getattr(self, "_tile_gen", None) == gen
        tiles_shown = streamed and bool(self._tiles)
        # every tile arrived in one drain and was drawn as one image of the plane: nothing left to draw
        plane_shown = streamed and not self._tiles and result.complete and bool(self._tile_shown.all())
        if tiles_shown or plane_shown:
            if tiles_shown and self.auto.isChecked():  # the tiles are on screen: only the levels may change
                lo, hi = auto_levels(self._scaled(self._plane))
                old_lo, old_hi = self.hist.getLevels()
                if max(abs(lo - old_lo), abs(hi - old_hi)) > 0.02 * max(hi - lo, 1e-12):
                    self.hist.setLevels(lo, hi)
            if tiles_shown:
                self._backdrop()
        else:
            self._redraw(relevel=self.auto.isChecked(), autorange=first and self._autorange,
                         mask=None if result.complete else getattr(self, "_tile_shown", None) if not first else None)  # fmt: skip
        if self._draw_error:
            pass  # the message saying why nothing is drawn stays
        elif result.complete and getattr(self, "_view_plan", None) is not None and self._view_plan.note:
            self.guard.offer(self._view_plan.note, "")  # a region at native resolution: say which
        elif result.complete:
            self.guard.hide()
            level = f" (pyramid level {result.level})" if result.level else ""
            read = f"{human_size(result.read_bytes)} decoded" if result.read_bytes else "decoded already (cached)"
            self.status.emit(f"slice {result.data.shape} read: {read}{level}")
        else:
            frame = int(self.budget.frame_bytes or 0)
            streams = f"; whole frames stream up to {human_size(frame)}" if frame > self.budget.max_bytes else ""
            self.guard.offer(
                f"Showing part of this slice: reading all of it decodes {human_size(result.needed_bytes)} "
                f"(preview budget {human_size(self.budget.max_bytes)}{streams}).",
                f"Load full plane ({human_size(result.needed_bytes)})",
            )
        self._mark_painted()
        self._update_analysis()
        self.slice_loaded.emit(result)

    def _on_failed(self, gen: int, message: str) -> None:
        if gen != self._gen:
            return
        self.guard.offer(f"Cannot read this slice: {message}", "")
        self.status.emit(message)
        self._mark_painted()

    def _show_scalar(self) -> None:
        try:
            value = self.source.read(())
            self.scalar.setText(_value_text(value))
        except Exception as exc:  # noqa: BLE001 - shown in the view
            log.debug("scalar read failed", exc_info=exc)
            self.scalar.setText(f"Cannot read: {exc}")
        self.raw = None
        self._mark_painted()

    # -- drawing -----------------------------------------------------------------
    def shown_values(self) -> np.ndarray | None:
        """The displayed float values (after complex mode, fill masking and transpose)."""
        return self._display

    def _redraw(self, relevel: bool = True, autorange: bool = False, mask: np.ndarray | None = None) -> None:
        if self.raw is None:
            return
        try:
            values = to_display(self.raw, self.complex_box.currentText(), self.fill_value)
        except TypeError as exc:
            self._draw_error = str(exc)
            self.guard.offer(self._draw_error, "")
            return
        self._draw_error = ""
        unread = None if mask is None or mask.all() else ~mask
        if unread is not None:
            values[unread] = np.nan  # shown_values(): unread samples are NaN
        if self.mode == "image":
            self._clear_tiles()
            self._plane = values
            geometry = self.geometry or [(0.0, 1.0), (0.0, 1.0)]
            if self.transpose.isChecked():
                values = values.T
                geometry = geometry[::-1]
            self._display = values
            image = self._scaled(values)
            if relevel and np.isfinite(image).any():
                lo, hi = auto_levels(image)
                self.hist.setLevels(lo, hi)
            lo = self.hist.getLevels()[0]
            if unread is not None:
                # paint unread tiles at the lowest level: NaN-free images render several times faster
                image = image.copy()
                image[unread.T if self.transpose.isChecked() else unread] = lo
            self.image.setImage(image, autoLevels=False, levels=self.hist.getLevels())
            self._sync_detail()
            (oy, sy), (ox, sx) = geometry
            self.image.setRect(QRectF(ox, oy, values.shape[1] * sx, values.shape[0] * sy))
            if autorange:
                self.plot.autoRange(padding=0)
            self._apply_labels()
        elif self.mode == "curve":
            self._display = values
            ax = self.axes[0]
            x = self.coords.get(ax)
            if x is None or len(x) != len(values):
                x = np.arange(len(values), dtype=float)
            symbol = "o" if self.markers.isChecked() else None
            self.curve.setData(x, values, symbol=symbol, symbolSize=4, connect="finite")
            self._curve_x = x
            self._apply_labels()
            if autorange:
                self.curve_plot.autoRange()
        if mask is None:
            self._update_analysis()

    # -- labels, coordinates and error bars ---------------------------------------------
    def set_labels(self, axis_labels: list[str] | None = None, value_label: str = "", title: str = "") -> None:
        """Axis titles per array dimension (``energy (keV)``), the values' label (colour bar, curve y) and a title."""
        self.axis_labels = list(axis_labels or [])
        self.value_label = value_label
        self.plot_title = title
        self._apply_labels()

    def axis_title(self, ax: int) -> str:
        """The title of array dimension ``ax``: its label when set, else its name."""
        if ax < len(self.axis_labels) and self.axis_labels[ax]:
            return self.axis_labels[ax]
        return self._slider_names()[ax] if self.source is not None else ""

    def _apply_labels(self) -> None:
        if self.source is None or not self.axes:
            return
        if self.mode == "curve":
            ax = self.axes[0]
            self.curve_plot.setLabel("bottom", self.axis_title(ax))
            self.curve_plot.setLabel("left", self.value_label or None)
            self.curve_plot.setTitle(self.plot_title or None)
        elif self.mode == "image" and len(self.axes) == 2:
            y_ax, x_ax = self.axes
            if self.transpose.isChecked():
                y_ax, x_ax = x_ax, y_ax
            for side, ax in (("bottom", x_ax), ("left", y_ax)):
                self.plot.setLabel(side, self.axis_title(ax))
                item = self.plot.getAxis(side)
                if hasattr(item, "set_scale_map"):  # ticks in coordinates where they are uniform
                    item.set_scale_map(linear_scale(self.coords.get(ax), self.source.shape[ax]))
            label = scale_label(self.scale_box.currentText(), self.value_label, self.threshold.value())
            self.hist.axis.setLabel(label or None)
            self.plot.setTitle(self.plot_title or None)

    def non_uniform_axes(self) -> list[int]:
        """The shown image axes whose coordinates are not uniform (their ticks show indices)."""
        if self.mode != "image" or self.source is None:
            return []
        shape = self.source.shape
        return [ax for ax in self.axes if ax in self.coords and linear_scale(self.coords[ax], shape[ax]) is None]

    def _coord_text(self, index: tuple[int, ...] | list[int]) -> str:
        """``  energy (keV) = 8.25, …`` for the dimensions of ``index`` that have coordinates."""
        parts = []
        for ax, values in sorted(self.coords.items()):
            if ax < len(index) and 0 <= index[ax] < len(values):
                parts.append(f"{self.axis_title(ax)} = {values[index[ax]]:.6g}")
        return ("   " + ", ".join(parts)) if parts else ""

    def set_curve_errors(self, errors: np.ndarray | None) -> None:
        """Error bars (± ``errors``) on the shown curve; None hides them."""
        values, x = self._display, self._curve_x
        if errors is None or self.mode != "curve" or values is None or x is None or len(errors) != len(values):
            self.error_bars.hide()
            return
        err = np.asarray(errors, dtype=float)
        self.error_bars.setData(x=np.asarray(x, float), y=np.asarray(values, float), height=2 * err)
        self.error_bars.show()
        (x0, x1), _ = self.curve_plot.viewRange()
        finite = np.asarray(x, float)[np.isfinite(x)]
        if finite.size and x0 <= finite.min() and x1 >= finite.max():  # not zoomed in: make room for the bars
            self.curve_plot.autoRange()

    def set_colormap(self, name: str) -> None:
        """Use the pyqtgraph/matplotlib colormap ``name``."""
        pg = self.pg
        if name == "gray":
            cmap = pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)])
        else:
            cmap = pg.colormap.get(name)
        self.hist.gradient.setColorMap(cmap)
        # A tick per stop is a graphics item painted with the histogram: matplotlib's maps have 256
        # (a repaint of the plot took 6-11 ms with them shown, 2.5-7.6 ms without); a map with that
        # many stops is not edited tick by tick anyway.
        self.hist.gradient.showTicks(len(self.hist.gradient.ticks) <= EDITABLE_STOPS)
        if self.cmap_box.currentText() != name:
            self.cmap_box.setCurrentText(name)

    def reset_view(self) -> None:
        """Show the whole slice."""
        if self.mode == "image":
            self.plot.autoRange(padding=0)
        else:
            self.curve_plot.autoRange()

    # -- refine when zoomed in -------------------------------------------------------
    def _drop_detail(self) -> None:
        self._detail_slot.cancel()
        self.detail.hide()
        self.detail_request: PlaneRequest | None = None

    def _sync_detail(self) -> None:
        if self.detail.isVisible():
            self.detail.setLookupTable(self.image.lut)
            self.detail.setLevels(self.hist.getLevels())

    def refine(self) -> None:
        """Read the visible region at full resolution when the shown plane is strided or a coarser level."""
        if self.mode != "image" or self.result is None or not self.geometry or self.source is None:
            return
        plan = getattr(self, "_view_plan", None)
        region_mode = plan is not None and plan.mode == "region"
        if all(spacing <= 1 for _, spacing in self.geometry) and not region_mode:
            return
        (x0, x1), (y0, y1) = self.plot.vb.viewRange()
        view = [(y0, y1), (x0, x1)]
        if self.transpose.isChecked():
            view = view[::-1]
        src = self.source
        region = []
        for (lo, hi), ax in zip(view, self.axes, strict=True):
            lo, hi = max(0, int(math.floor(lo))), min(src.shape[ax], int(math.ceil(hi)))
            if hi <= lo:
                return
            region.append((lo, hi))
        pixels = max(self.plot.vb.width(), self.plot.vb.height(), 256)
        step = 1
        while True:
            samples = [math.ceil((hi - lo) / step) for lo, hi in region]
            if max(samples) <= pixels and math.prod(samples) * src.dtype.itemsize <= self.budget.max_bytes:
                break
            step *= 2
        if region_mode:
            shown = self.request.region if self.request is not None else ()
            if step == 1 and shown and all(a <= lo and hi <= b for (lo, hi), (a, b) in zip(region, shown, strict=True)):
                return  # the visible part is the region read already
        elif step >= min(spacing for _, spacing in self.geometry):
            return  # the overview is already as fine as a refined patch would be
        req = PlaneRequest(self.axes, tuple(self.sliders.index), (step, step), tuple(region))
        if req == self.detail_request:
            return
        budget = self.budget.max_bytes
        if src.chunks:  # O(1) count: a zoomed-out view of a huge array is never enumerated, nor read
            count, nbytes = request_cost(src.shape, src.chunks, req, src.dtype.itemsize, src.prefix_reads)
            if count > MAX_CHUNKS or nbytes > budget:
                self.status.emit(f"Zoom in to read this part: it touches {count:,} chunks ({human_size(nbytes)})")
                return
        self._detail_slot.cancel()
        self._detail_slot.submit(read_plane, src, req, budget=budget,
                                             on_done=lambda r, q=req: self._show_detail(q, r))  # fmt: skip

    def _show_detail(self, req: PlaneRequest, result: PlaneResult) -> None:
        if not result.complete or self.mode != "image" or tuple(self.sliders.index) != req.index:
            return
        values = to_display(result.data, self.complex_box.currentText(), self.fill_value)
        (ry0, ry1), (rx0, rx1) = req.region
        rect = QRectF(rx0, ry0, values.shape[1] * req.step[1], values.shape[0] * req.step[0])
        if self.transpose.isChecked():
            values = values.T
            rect = QRectF(ry0, rx0, values.shape[1] * req.step[0], values.shape[0] * req.step[1])
        self.detail_request = req
        self.detail_values = values
        self.detail_raw = result.data
        self.detail.setImage(self._scaled(values), autoLevels=False, levels=self.hist.getLevels())
        self.detail.setRect(rect)
        self.detail.show()
        self._sync_detail()
        self.status.emit(f"refined {rx1 - rx0}×{ry1 - ry0} at full resolution" if req.step[0] == 1 else "refined view")

    # -- readout -----------------------------------------------------------------
    def array_index_at(self, x: float, y: float) -> tuple[int, ...] | None:
        """Array index (all axes) under view coordinates (x, y), or None outside the slice."""
        if self._display is None or self.mode != "image" or self.source is None:
            return None
        axes = list(self.axes)
        coords = [y, x]
        if self.transpose.isChecked():
            coords = [x, y]
        index = list(self.sliders.index)
        for k, ax in enumerate(axes):
            i = int(math.floor(coords[k]))
            if not 0 <= i < self.source.shape[ax]:
                return None
            index[ax] = i
        return tuple(index)

    def value_at(self, index: tuple[int, ...]) -> Any:
        """The shown slice's value at an array index (nearest sample when strided or a coarser level)."""
        if self.raw is None:
            return None
        req = self.detail_request
        if req is not None and self.detail.isVisible():
            pos = []
            for k, ax in enumerate(self.axes):
                lo, hi = req.region[k]
                if not lo <= index[ax] < hi:
                    break
                pos.append((index[ax] - lo) // req.step[k])
            else:  # inside the full-resolution patch
                return self.detail_raw[tuple(pos)]
        geometry = self.geometry or [(0.0, 1.0)] * len(self.axes)
        pos = []
        for k, ax in enumerate(self.axes):
            origin, spacing = geometry[k]
            pos.append(min(self.raw.shape[k] - 1, int((index[ax] - origin) // spacing)))
        return self.raw[tuple(pos)]

    def _on_mouse(self, pos: QPointF) -> None:
        if not self.plot.sceneBoundingRect().contains(pos):
            return
        p = self.plot.vb.mapSceneToView(pos)
        index = self.array_index_at(p.x(), p.y())
        if index is None:
            self.vline.hide()
            self.hline.hide()
            return
        self.vline.setPos(p.x())
        self.hline.setPos(p.y())
        self.vline.show()
        self.hline.show()
        self._hover_index = index
        value = _value_text(self.value_at(index))
        self.readout.setText(f"[{', '.join(map(str, index))}] = {value}{self._coord_text(index)}")

    def _on_curve_mouse(self, pos: QPointF) -> None:
        if self.raw is None or self.mode != "curve":
            return
        p = self.curve_plot.plotItem.vb.mapSceneToView(pos)
        ax = self.axes[0]
        x = self.coords.get(ax)
        if x is not None and len(x) == len(self.raw):
            i = int(np.clip(np.searchsorted(x, p.x()), 0, len(x) - 1))
        else:
            i = int(np.clip(round(p.x()), 0, len(self.raw) - 1))
        self.curve_vline.setPos(x[i] if x is not None and len(x) == len(self.raw) else i)
        index = list(self.sliders.index)
        index[ax] = i
        self._hover_index = tuple(index)
        self.readout.setText(f"[{', '.join(map(str, index))}] = {_value_text(self.raw[i])}{self._coord_text(index)}")

    # -- colour scale ---------------------------------------------------------------
    def _action(self, text: str, shortcut: str, slot: Any) -> QAction:
        action = QAction(text, self)
        if shortcut:  # shown in the menus; the keys themselves are handled by eventFilter (plot focused)
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        action.triggered.connect(lambda *_: slot())
        return action

    def _scaled(self, values: np.ndarray) -> np.ndarray:
        """``values`` as the image shows them under the chosen colour scale."""
        return apply_scale(values, self.scale_box.currentText(), self.threshold.value())[0]

    def set_scale(self, scale: str, threshold: float | None = None) -> None:
        """Colour scale of images: ``linear``, ``log``, ``sqrt`` or ``symlog`` (with its linear ``threshold``)."""
        if scale not in SCALES:
            raise ValueError(f"unknown colour scale {scale!r}")
        if threshold is not None:
            self.threshold.setValue(threshold)
        self.scale_box.setCurrentText(scale)

    def _scale_changed(self) -> None:
        self._scale_controls()
        self._redraw(relevel=True)  # levels in the old scale's units mean nothing in the new one
        self._apply_labels()
        if self.mode == "image" and self._tiles and self._plane is not None:  # tiles on screen: repaint them
            self._clear_tiles()
            self._redraw(relevel=True)

    def _scale_controls(self) -> None:
        scale = self.scale_box.currentText()
        self.threshold.setVisible(scale == "symlog")
        self._update_scale_note()

    def _update_scale_note(self) -> None:
        """Say how many finite values the colour scale cannot show (≤ 0 under log, < 0 under sqrt)."""
        scale = self.scale_box.currentText()
        plane = self._plane if self.mode == "image" else None
        hidden = 0
        if plane is not None and scale in ("log", "sqrt"):
            finite = plane[np.isfinite(plane)]
            hidden = int(np.count_nonzero(finite <= 0 if scale == "log" else finite < 0))
        self.hidden_by_scale = hidden
        if hidden:
            what = "value" if hidden == 1 else "values"
            self.scale_note.setText(f"{scale}: {hidden:,} {what} {'≤' if scale == 'log' else '<'} 0 not shown")
        self.scale_note.setVisible(bool(hidden))

    # -- analysis: profile, ROI, statistics ---------------------------------------------------
    def show_profile(self, on: bool = True) -> None:
        """Show (or hide) the line profile: a segment on the image and its values in a plot below."""
        if self.profile_box.isChecked() != on:
            self.profile_box.setChecked(on)  # comes back here through toggled
            return
        self.interp_box.setVisible(on)
        self._sync_rois()

    def show_roi(self, on: bool = True) -> None:
        """Show (or hide) the rectangular ROI; its statistics appear in the statistics panel."""
        if self.roi_box.isChecked() != on:
            self.roi_box.setChecked(on)
            return
        if on and not self.stats_box.isChecked():
            self.stats_box.setChecked(True)
        self._sync_rois()

    def show_statistics(self, on: bool = True) -> None:
        """Show (or hide) the statistics panel."""
        if self.stats_box.isChecked() != on:
            self.stats_box.setChecked(on)
            return
        self.stats_panel.setVisible(on)
        if on:
            self._update_analysis()

    def _sync_rois(self) -> None:
        image = self.mode == "image"
        for key, roi, box in (("line", self.line_roi, self.profile_box), ("rect", self.rect_roi, self.roi_box)):
            visible = image and box.isChecked()
            if visible and key not in self._rois_placed and self._plane is not None:
                self._place_roi(key)
            roi.setVisible(visible)
        self.profile_plot.setVisible(image and self.profile_box.isChecked())
        self._update_profile()
        self._update_roi_stats()

    def _image_rect(self) -> QRectF | None:
        """The shown slice's extent in view coordinates (array indices)."""
        if self._plane is None or len(self.axes) != 2:
            return None
        (oy, sy), (ox, sx) = self.geometry or [(0.0, 1.0), (0.0, 1.0)]
        h, w = self._plane.shape[0] * sy, self._plane.shape[1] * sx
        return QRectF(oy, ox, h, w) if self.transpose.isChecked() else QRectF(ox, oy, w, h)

    def _place_roi(self, key: str) -> None:
        rect = self._image_rect()
        if rect is None:
            return
        self._rois_placed.add(key)
        x, y, w, h = rect.x(), rect.y(), rect.width(), rect.height()
        if key == "line":  # across the middle, a tenth from each side
            self.line_roi.blockSignals(True)
            self.line_roi.movePoint(self.line_roi.getHandles()[0], QPointF(x + 0.1 * w, y + 0.5 * h), finish=False)
            self.line_roi.blockSignals(False)
            self.line_roi.movePoint(self.line_roi.getHandles()[1], QPointF(x + 0.9 * w, y + 0.5 * h))
        else:  # the middle half
            self.rect_roi.setPos((x + 0.25 * w, y + 0.25 * h), update=False)
            self.rect_roi.setSize((0.5 * w, 0.5 * h))

    def line_endpoints(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The profile line's two ends in view coordinates ``(x, y)`` (array indices of the shown axes)."""
        pts = [self.line_roi.mapToParent(h.pos()) for h in self.line_roi.getHandles()]
        return (pts[0].x(), pts[0].y()), (pts[1].x(), pts[1].y())

    def set_line(self, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        """Put the profile line from ``p0`` to ``p1`` (view coordinates ``(x, y)``) and show it."""
        self._rois_placed.add("line")
        self.show_profile(True)
        handles = self.line_roi.getHandles()
        self.line_roi.movePoint(handles[0], QPointF(*p0), finish=False)
        self.line_roi.movePoint(handles[1], QPointF(*p1))

    def set_roi(self, x: float, y: float, w: float, h: float) -> None:
        """Put the rectangular ROI at ``(x, y)`` with size ``(w, h)`` (view coordinates) and show it."""
        self._rois_placed.add("rect")
        self.show_roi(True)
        self.rect_roi.setPos((x, y), update=False)
        self.rect_roi.setSize((w, h))

    def _to_plane(self, x: float, y: float) -> tuple[float, float]:
        """View coordinates → fractional index ``(row, col)`` into the shown plane (array axis order)."""
        coords = [x, y] if self.transpose.isChecked() else [y, x]
        (o0, s0), (o1, s1) = self.geometry or [(0.0, 1.0), (0.0, 1.0)]
        return (coords[0] - o0) / s0, (coords[1] - o1) / s1

    def _update_profile(self) -> None:
        if not (self.profile_box.isChecked() and self.mode == "image") or self._plane is None:
            return
        (x0, y0), (x1, y1) = self.line_endpoints()
        a, b = self._to_plane(x0, y0), self._to_plane(x1, y1)
        n = int(math.ceil(math.hypot(b[0] - a[0], b[1] - a[1]))) + 1
        _, values = sample_line(self._plane, (a[0] - 0.5, a[1] - 0.5), (b[0] - 0.5, b[1] - 0.5), n,
                                self.interp_box.currentText())  # fmt: skip
        self.profile_x = np.linspace(0.0, math.hypot(x1 - x0, y1 - y0), len(values))
        self.profile_y = values
        self.profile_plot.setLogMode(False, self.scale_box.currentText() == "log")
        self.profile_curve.setData(self.profile_x, values, connect="finite")
        self.profile_plot.setLabel("left", self.value_label or None)

    def _stat_values(self) -> np.ndarray | None:
        """The shown slice as real values for statistics (integers kept exact), in array axis order."""
        if self.raw is None:
            return None
        raw = self.raw
        if raw.dtype.kind in "iu" and self.fill_value is None:
            return raw
        try:
            return to_display(raw, self.complex_box.currentText(), self.fill_value, dtype=np.float64)
        except TypeError:
            return None

    def _update_slice_stats(self) -> None:
        values = self._stat_values()
        self.slice_stats = None if values is None else stats_of(values)
        self.stats_panel.set_column("Slice", self.slice_stats)

    def _update_roi_stats(self) -> None:
        if not self.roi_box.isChecked() or self.mode != "image" or self.raw is None or self.raw.ndim != 2:
            self.roi_stats = None
            self.stats_panel.set_column("ROI", None)
            return
        values = self._stat_values()
        if values is None:
            return
        pos, size = self.rect_roi.pos(), self.rect_roi.size()
        a = self._to_plane(pos.x(), pos.y())
        b = self._to_plane(pos.x() + size.x(), pos.y() + size.y())
        sel = []
        for k in range(2):  # the pixels whose centres lie inside the rectangle
            lo, hi = sorted((a[k], b[k]))
            sel.append(slice(max(0, math.ceil(lo - 0.5)), max(0, min(values.shape[k], math.ceil(hi - 0.5)))))
        self.roi_stats = stats_of(values[tuple(sel)])
        self.stats_panel.set_column("ROI", self.roi_stats)

    def _update_analysis(self) -> None:
        """The shown slice changed: the scale note, the profile and the statistics follow it."""
        if self.mode == "image" and self._plane is not None:
            for key in ("line", "rect"):
                box = self.profile_box if key == "line" else self.roi_box
                if box.isChecked() and key not in self._rois_placed:
                    self._sync_rois()
                    break
        self._update_scale_note()
        self._update_profile()
        if self.stats_panel.isVisibleTo(self):
            self._update_slice_stats()
            self._update_roi_stats()
        note = []
        if self.geometry and any(spacing > 1 for _, spacing in self.geometry):
            note.append("slice and ROI statistics are over the shown samples of a strided or coarser view")
        if self.result is not None and not self.result.complete:
            note.append("part of the slice is read: unread values count as 0")
        if self.array_stats is None and not self._stats_slot.busy:
            self.stats_panel.note.setText("; ".join(note))

    def compute_array_stats(self) -> None:
        """Statistics of the whole array, chunk by chunk on a worker within the budget (cancellable)."""
        if self.source is None or self.mode == "scalar":
            return
        src, mode, fill = self.source, self.complex_box.currentText(), self.fill_value
        plain = src.dtype.kind in "iu" and fill is None

        def convert(block: np.ndarray) -> np.ndarray:
            return block if plain else to_display(block, mode, fill, dtype=np.float64)

        self.show_statistics(True)
        self.stats_panel.set_running(True)
        self.stats_panel.note.setText(f"reading {human_size(src.nbytes)} chunk by chunk …")
        self._stats_slot.submit(array_stats, src, self.budget.max_bytes, convert, with_token=True,
                                on_progress=lambda p: self.stats_panel.set_progress(*p),
                                on_done=self._on_array_stats,
                                on_error=lambda m, e: self._on_array_stats_failed(m))  # fmt: skip

    def _on_array_stats(self, stats: Stats) -> None:
        self.array_stats = stats
        self.stats_panel.set_running(False)
        self.stats_panel.set_column("Whole array", stats)
        if stats.bounded:
            pct = 100.0 * stats.read / stats.total
            self.stats_panel.note.setText(
                f"Whole array: bounded by the preview budget ({human_size(self.budget.max_bytes)}): "
                f"the first {stats.read:,} of {stats.total:,} values ({pct:.1f} %)")  # fmt: skip
        else:
            self.stats_panel.note.setText(f"Whole array: all {stats.total:,} values")
        self.status.emit("whole-array statistics done" + (" (bounded by the budget)" if stats.bounded else ""))

    def _on_array_stats_failed(self, message: str) -> None:
        self.stats_panel.set_running(False)
        self.stats_panel.note.setText(f"Whole array: {message}")

    def cancel_array_stats(self, note: str = "Whole array: cancelled") -> None:
        """Stop the whole-array statistics (nothing late is shown)."""
        running = self._stats_slot.busy
        self._stats_slot.cancel()
        self.stats_panel.set_running(False)
        if running or not note:
            self.stats_panel.note.setText(note)

    # -- copy and keyboard ---------------------------------------------------------------
    def _to_clipboard(self, text: str, what: str) -> None:
        QApplication.clipboard().setText(text)
        self.status.emit(f"copied {what}")

    def copy_value(self) -> str | None:
        """Copy the value under the cursor (as read: ``65535``); returns the text, None when no value is hovered."""
        if self._hover_index is None or self.raw is None:
            self.status.emit("no value under the cursor to copy")
            return None
        if self.mode == "image":
            value = self.value_at(self._hover_index)
        else:
            value = self.raw[self._hover_index[self.axes[0]]]
        text = _value_text(value)
        self._to_clipboard(text, f"{text}")
        return text

    def copy_slice(self, sep: str = "\t") -> str | None:
        """Copy the shown slice as text (``\\t``: TSV for a spreadsheet, ``,``: CSV), rows as displayed."""
        if self.raw is None:
            return None
        if self.raw.size > MAX_COPY_VALUES:
            self.status.emit(f"slice too large to copy ({self.raw.size:,} values): use Export ▸ Slice as CSV")
            return None
        data = self.raw.T if self.mode == "image" and self.transpose.isChecked() else self.raw
        text = slice_text(data, sep)
        self._to_clipboard(text, f"slice {data.shape} as {'TSV' if sep == chr(9) else 'CSV'}")
        return text

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        """Keys on the focused plot: copy, and step the slider of the current axis."""
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) and obj in (self.glw, self.curve_plot):
            handler = self._key_handler(event)
            if handler is not None:
                if kind == QEvent.Type.ShortcutOverride:
                    event.accept()  # ours, not the window's shortcut
                    return False
                handler()
                return True
        return super().eventFilter(obj, event)

    def _key_handler(self, event: Any) -> Any:
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        k = Qt.Key
        if ctrl and key == k.Key_C:
            return (lambda: self.copy_slice("\t")) if shift else self.copy_value
        if ctrl or mods & Qt.KeyboardModifier.AltModifier or self.sliders.current_axis is None:
            return None
        steps = {k.Key_Right: 1, k.Key_Up: 1, k.Key_Left: -1, k.Key_Down: -1,
                 k.Key_PageUp: self.sliders.page(), k.Key_PageDown: -self.sliders.page()}  # fmt: skip
        if key in steps:
            return lambda: self.sliders.step(steps[key])
        if key == k.Key_Home:
            return lambda: self.sliders.set_value(self.sliders.current_axis, 0)
        if key == k.Key_End:
            return lambda: self.sliders.set_value(self.sliders.current_axis, 1 << 62)
        return None

    def shortcuts(self) -> list[tuple[str, str]]:
        """The plot's keys, for Help ▸ Shortcuts: ``(key, what it does)``."""
        return [
            ("Tab", "Move the focus to the plot and to each axis slider"),
            ("Right / Up", "Next index on the current axis (the last slider focused, else the first)"),
            ("Left / Down", "Previous index on the current axis"),
            ("PageUp / PageDown", "Step the current axis by a tenth of its length"),
            ("Home / End", "First / last index on the current axis"),
            ("Ctrl+C", "Copy the value under the cursor (as text, e.g. 65535)"),
            ("Ctrl+Shift+C", "Copy the shown slice as TSV (for a spreadsheet)"),
            ("Right click", "Plot menu: copy value, slice as TSV or CSV; view and export options"),
            ("Mouse wheel / drag", "Zoom / pan; the cursor's value and coordinates in the line below"),
        ]

    # -- export ------------------------------------------------------------------
    def export_png(self, path: str) -> None:
        """Save the current view (plot, levels) as a PNG."""
        widget = self.pages.currentWidget()
        if not widget.grab().save(path, "PNG"):
            raise OSError(f"could not write {path}")

    def export_slice(self, path: str, fmt: str | None = None) -> None:
        """Save the current slice (raw values, array axis order) as ``.npy`` or CSV."""
        if self.raw is None:
            raise ValueError("no slice to export")
        fmt = fmt or ("csv" if path.lower().endswith(".csv") else "npy")
        data = self.raw
        if fmt == "npy":
            with open(path, "wb") as f:
                np.save(f, data, allow_pickle=False)
            return
        if data.ndim == 1:
            ax = self.axes[0]
            x = self.coords.get(ax)
            x = x if x is not None and len(x) == len(data) else np.arange(len(data))
            rows = np.column_stack([x.astype(object), data.astype(object)])
            np.savetxt(path, rows, delimiter=",", fmt="%s", header=f"{self._slider_names()[ax]},value", comments="")
        else:
            np.savetxt(path, data, delimiter=",", fmt="%s" if data.dtype.kind in "cbO" else "%.10g")

    def _ask_export(self, fmt: str) -> None:
        from PySide6.QtWidgets import QFileDialog

        filters = {"png": "PNG image (*.png)", "npy": "NumPy array (*.npy)", "csv": "CSV (*.csv)"}
        path, _ = QFileDialog.getSaveFileName(self, "Export", f"slice.{fmt}", filters[fmt])
        if not path:
            return
        try:
            self.export_png(path) if fmt == "png" else self.export_slice(path, fmt)
            self.status.emit(f"saved {path}")
        except Exception as exc:  # noqa: BLE001 - shown in the status line
            log.warning("export to %s failed: %s", path, exc)
            self.status.emit(f"export failed: {exc}")

    def stop(self) -> None:
        """Drop the running read."""
        self._gen += 1
        self._slot.cancel()


__all__ = ["SlicePlot", "to_display", "auto_levels", "TARGET_SIDE", "CACHE"]


def _value_text(value: object) -> str:
    """A value under the cursor as a person reads it (``65535``, not ``np.uint16(65535)``)."""
    from storecore.containers.values import format_value

    return format_value(value, precision=7)
