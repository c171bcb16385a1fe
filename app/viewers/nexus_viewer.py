"""NeXus default plots: a file, NXentry or NXdata shows the plot it declares (as silx view and h5web do).

The ``@default`` chain is followed on a worker by :mod:`storecore.containers.nexus`;
this viewer shows the signal in the slice plot with axis titles from
``@long_name``/``@units``, coordinates from the axis datasets (curve x values,
image ticks where an axis is uniform), ``*_errors`` as error bars on curves,
``@auxiliary_signals`` in a selector and ``@interpretation`` for the first view.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtWidgets import QComboBox, QLabel, QTabWidget, QWidget

from .base import Target, Viewer, has_default_plot
from .budget import Budget
from .widgets import FlowLayout, alive, attribute_rows, button, fill_kv, kv_table, row_of, stack_over_plot

log = logging.getLogger(__name__)


@dataclass
class SignalView:
    """One plottable signal (the main one or an auxiliary one) with what the plot needs."""

    name: str
    source: Any
    label: str
    errors: Any = None  # a storecore node with the signal's shape, or None


@dataclass
class NexusPayload:
    """The resolved default plot, ready for the GUI thread."""

    target: Target
    spec: Any
    signals: list[SignalView] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    coords: dict[int, np.ndarray] = field(default_factory=dict)
    facts: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    title: str = ""
    budget: Budget = field(default_factory=Budget)


def _warnings_of(node: Any) -> list[str]:
    """What the signal's values do not show (e.g. a virtual dataset's missing sources); never fails the plot."""
    try:
        return list(node.warnings())
    except Exception as e:  # noqa: BLE001 - a note only
        log.debug("no warnings for %s: %s", getattr(node, "uri", node), e)
        return []


def resolve(target: Target, budget: Budget) -> NexusPayload:
    """Follow ``@default`` from ``target`` and open the signal (worker)."""
    from storecore.containers import nexus
    from storecore.errors import NotFound

    from ..plot.source import NodeSource

    spec = nexus.default_plot(target.node)
    if spec is None:
        raise NotFound(f"{target.uri}: no NeXus default plot (no @default, @signal or signal=1 found)", path=target.uri)
    shape = tuple(spec.signal.shape or ())
    coords: dict[int, np.ndarray] = {}
    notes = list(spec.notes) + _warnings_of(spec.signal)
    for ax in spec.axes:
        if ax is None:
            continue
        centers = ax.centers(shape[ax.dim])
        if centers is not None:
            coords[ax.dim] = centers.astype(float)
        elif ax.values is None and len(ax.dims) == 1:
            notes.append(f"axis {ax.name}: values not read (too large or not numeric)")
    for ax in spec.axes:
        if ax is not None and ax.dim in coords and len(shape) >= 2 and ax.linear(shape[ax.dim]) is None:
            notes.append(f"axis {ax.label} is not uniform: image ticks show indices, the cursor readout its values")
    # signals by the names their NXdata group gives them (a linked member's target is often just "data")
    signals = [SignalView(spec.signal_name or spec.signal.name, NodeSource(spec.signal), spec.signal_label, spec.errors)]
    for name, node in zip(spec.auxiliary_names, spec.auxiliary, strict=True):
        attrs = node.attrs or {}
        label = nexus.axis_label(name, str(attrs.get("long_name") or ""), str(attrs.get("units") or ""))
        errors = None
        try:
            errors = (spec.group or node.parent()).get(f"{name}_errors")
        except Exception as e:  # noqa: BLE001 - no errors for this one
            log.debug("no error bars for %s: %s", name, e)
            errors = None
        signals.append(SignalView(name, NodeSource(node), label, errors))
    chain = " → ".join(p if p != "/" else target.name for p in spec.chain)
    facts = [
        ("Signal", f"{spec.signal.path}  ({' × '.join(map(str, shape)) or 'scalar'}, {spec.signal.dtype})"),
        ("Default chain", chain),
    ]
    if spec.title:
        facts.insert(0, ("Title", spec.title))
    for ax in spec.axes:
        if ax is not None:
            facts.append((f"Axis {ax.dim}", f"{ax.label}  ← {ax.node.path if ax.node is not None else ax.name}"))
    if spec.errors is not None:
        facts.append(("Errors", spec.errors.path))
    if spec.auxiliary:
        facts.append(("Auxiliary signals", ", ".join(spec.auxiliary_names)))
    if spec.interpretation:
        facts.append(("Interpretation", spec.interpretation))
    for note in notes:
        facts.append(("Note", note))
    names = [a.name if a is not None else "" for a in spec.axes] if spec.axes else []
    labels = [a.label if a is not None else "" for a in spec.axes] if spec.axes else []
    return NexusPayload(target, spec, signals, names, labels, coords, facts, notes, spec.title, budget)


def _read_errors(node: Any, selection: tuple) -> np.ndarray | None:
    if node is None:
        return None
    data = np.asarray(node.read_slice(selection))
    return data.astype(float).ravel() if data.dtype.kind in "iuf" else None


class NexusViewer(Viewer):
    """The plot a NeXus file declares, with a "Default plot" action and a signal selector."""

    title = "NeXus plot"
    STEPWISE = True

    def __init__(self, *, build_now: bool = True) -> None:
        """``build_now=False``: the slice plot is built by :meth:`build_step` calls (the pane's idle-time steps)."""
        super().__init__()
        from ..plot.slice_plot import SlicePlot  # pyqtgraph: imported by preload() on a worker beforehand
        from ..workers import LatestOnly

        self.payload: NexusPayload | None = None
        self.current_signal = 0
        self._errors_slot = LatestOnly(owner=self)
        self._aux_slot = LatestOnly(owner=self)
        self._aux_items: list[Any] = []
        self.heading = QLabel()
        self.heading.setStyleSheet("font-weight: bold; font-size: 11pt;")
        self.heading.setWordWrap(True)
        self.signal_box = QComboBox()
        self.signal_box.setToolTip("Signal (with @auxiliary_signals)")
        self.signal_box.activated.connect(self.show_signal)
        self.default_button = button("Default plot", self.show_default, "Show the plot this file declares (@default)")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #8a5a00;")
        self.note.hide()
        bar = QWidget()
        flow = FlowLayout(bar)
        flow.addWidget(self.default_button)
        flow.addWidget(row_of(QLabel("Signal"), self.signal_box))
        self.facts = kv_table([])
        self.attrs = kv_table([])
        self.meta = QTabWidget()
        self.meta.addTab(self.facts, "NeXus")
        self.meta.addTab(self.attrs, "Signal attributes")
        self.plot = SlicePlot(build_now=build_now)
        self.plot.painted.connect(self.ready)
        self.plot.status.connect(self.status)
        self.plot.slice_loaded.connect(self._on_slice)
        stack_over_plot(self, [self.heading, bar, self.note, self.meta], self.plot, 150)

    @classmethod
    def priority(cls, target: Target) -> int:
        """Above the summary (and an OME-Zarr array view) for groups that declare a NeXus plot."""
        return 50 if has_default_plot(target) else 0

    @classmethod
    def prepare(cls, target: Target, budget: Budget, token: Any) -> NexusPayload:
        """Resolve the default plot (the plot's modules are imported here, off the GUI thread)."""
        cls.preload()
        return resolve(target, budget)

    @classmethod
    def preload(cls) -> None:
        """Import pyqtgraph, the slice plot and what its first build and paint use (worker thread)."""
        from ..plot.slice_plot import preload

        preload()

    def build_step(self) -> bool:
        """One more step of the slice plot's construction (``build_now=False``); True once complete."""
        return self.plot.build_step()

    def display(self, payload: NexusPayload) -> None:
        """Show the default plot (``ready`` follows its first paint)."""
        self.payload = payload
        spec = payload.spec
        self.heading.setText(
            f"{spec.signal_label}  ·  {spec.signal.path}"
            if spec.signal_label != (spec.signal_name or spec.signal.name)
            else spec.signal.path
        )
        self.heading.setToolTip(spec.signal.uri)
        fill_kv(self.facts, payload.facts)
        self.signal_box.blockSignals(True)
        self.signal_box.clear()
        self.signal_box.addItems([s.name for s in payload.signals])
        self.signal_box.blockSignals(False)
        self.signal_box.setEnabled(len(payload.signals) > 1)
        self.note.setText("\n".join(payload.notes))
        self.note.setVisible(bool(payload.notes))
        self.plot.budget = payload.budget
        self.show_signal(0)

    def show_default(self) -> None:
        """Back to the declared plot: the main signal, its interpretation, fresh view."""
        if self.payload is not None:
            self.show_signal(0)

    def show_signal(self, index: int) -> None:
        """Plot signal ``index`` (0 = the ``@signal``, then ``@auxiliary_signals``)."""
        payload = self.payload
        if payload is None or not 0 <= index < len(payload.signals):
            return
        self.current_signal = index
        if self.signal_box.currentIndex() != index:
            self.signal_box.setCurrentIndex(index)
        view = payload.signals[index]
        fill_kv(
            self.attrs,
            attribute_rows(view.source.attrs),
        )
        fill = view.source.attrs.get("_FillValue", view.source.attrs.get("missing_value"))
        if isinstance(fill, list):
            fill = fill[0] if fill else None
        self.plot.set_source(view.source, payload.coords, payload.names, fill, [])
        nd = len(view.source.shape)
        interp = payload.spec.interpretation
        if nd >= 2 and interp == "spectrum":
            self.plot.set_axes((nd - 1,))
        elif nd >= 3 and interp in ("image", "rgba-image", "rgb-image"):
            self.plot.set_axes((nd - 2, nd - 1))
        self.plot.set_labels(payload.labels, view.label, payload.title)

    def _on_slice(self, result: Any) -> None:
        """Read the error bars (and auxiliary signals) of a freshly shown curve (worker), then draw them."""
        payload = self.payload
        self._clear_aux()
        if payload is not None and self.plot.mode == "curve" and result.complete and self.current_signal == 0:
            aux = payload.signals[1:]
            if aux and all(tuple(a.source.shape) == tuple(self.plot.source.shape) for a in aux):
                sel = result.request.selection(self.plot.source.shape)
                source = self.plot.source
                self._aux_slot.submit(
                    lambda: [np.asarray(a.source.read(sel), dtype=float).ravel() for a in aux],
                    on_done=lambda arrays, s=source: alive(self) and self.plot.source is s and self._show_aux(
                        [a.name for a in aux], arrays),
                    on_error=lambda m, e: alive(self) and self.status.emit(f"auxiliary signals: {m}"),
                )  # fmt: skip
        if payload is None or self.plot.mode != "curve" or not result.complete:
            self.plot.set_curve_errors(None)
            return
        errors = payload.signals[self.current_signal].errors
        if errors is None or tuple(errors.shape or ()) != tuple(self.plot.source.shape):
            self.plot.set_curve_errors(None)
            return
        selection = result.request.selection(self.plot.source.shape)
        source = self.plot.source
        self._errors_slot.submit(
            _read_errors, errors, selection,
            on_done=lambda e, s=source: alive(self) and self.plot.source is s and self.plot.set_curve_errors(e),
            on_error=lambda m, e: alive(self) and self.status.emit(f"error bars: {m}"),
        )  # fmt: skip

    def _clear_aux(self) -> None:
        for item in self._aux_items:
            self.plot.curve_plot.removeItem(item)
        self._aux_items = []

    def _show_aux(self, names: list[str], arrays: list[np.ndarray]) -> None:
        """Overlay the auxiliary signals on the main curve, with a legend (as h5web does)."""
        import pyqtgraph as pg

        self._clear_aux()
        x, _ = self.plot.curve.getData()
        if x is None:
            return
        plot_item = self.plot.curve_plot.getPlotItem()
        if plot_item.legend is None:
            plot_item.addLegend(offset=(-10, 10))
        colors = [(255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
        for i, (name, values) in enumerate(zip(names, arrays, strict=True)):
            if len(values) != len(x):
                continue
            item = pg.PlotDataItem(x, values, pen=pg.mkPen(colors[i % len(colors)], width=1.2), name=name)
            self.plot.curve_plot.addItem(item)
            self._aux_items.append(item)

    def stop(self) -> None:
        """Drop the running reads."""
        self._errors_slot.cancel()
        self._aux_slot.cancel()
        self.plot.stop()


VIEWER = NexusViewer
