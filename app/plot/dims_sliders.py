"""napari-style dims sliders: one slider and spin box per axis that is not shown."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QSlider, QSpinBox, QWidget


class DimsSliders(QWidget):
    """Sliders for the hidden axes of an N-d array; emits ``changed(index)`` (one int per axis)."""

    changed = Signal(tuple)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(4, 0, 4, 0)
        self._grid.setColumnStretch(1, 1)
        self._rows: dict[int, tuple[QLabel, QSlider, QSpinBox, QLabel]] = {}
        self._index: list[int] = []
        self._shape: tuple[int, ...] = ()
        #: the axis the keyboard steps from the plot: the last slider or spin box focused (else the first)
        self._current: int | None = None

    @property
    def index(self) -> tuple[int, ...]:
        """Current position on every axis (shown axes keep their last value)."""
        return tuple(self._index)

    @property
    def current_axis(self) -> int | None:
        """The axis stepped by the plot's keys: the last one whose slider or spin box had focus, else the first."""
        if self._current in self._rows:
            return self._current
        return min(self._rows) if self._rows else None

    def step(self, delta: int, axis: int | None = None) -> None:
        """Move ``axis`` (default :attr:`current_axis`) by ``delta``, clamped to its range."""
        axis = self.current_axis if axis is None else axis
        if axis is not None and axis in self._rows:
            self.set_value(axis, self._index[axis] + int(delta))

    def page(self, axis: int | None = None) -> int:
        """The page step of ``axis`` (a tenth of its length, at least 1)."""
        axis = self.current_axis if axis is None else axis
        return max(1, self._shape[axis] // 10) if axis is not None and axis < len(self._shape) else 1

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        """Remember which axis's slider or spin box got the focus."""
        if event.type() == QEvent.Type.FocusIn:
            for ax, row in self._rows.items():
                if obj is row[1] or obj is row[2]:
                    self._current = ax
        return False

    def sliders(self) -> dict[int, QSlider]:
        """Axis → slider, for the hidden axes."""
        return {ax: row[1] for ax, row in self._rows.items()}

    def spin_boxes(self) -> dict[int, QSpinBox]:
        """Axis → spin box, for the hidden axes."""
        return {ax: row[2] for ax, row in self._rows.items()}

    def configure(self, shape: Sequence[int], shown: Sequence[int], names: Sequence[str] | None = None,
                  index: Sequence[int] | None = None) -> None:  # fmt: skip
        """Rebuild for ``shape`` with sliders on every axis not in ``shown``."""
        for row in self._rows.values():
            for w in row:
                self._grid.removeWidget(w)
                w.deleteLater()
        self._rows.clear()
        self._shape = tuple(int(s) for s in shape)
        self._index = [min(int(i), max(0, s - 1)) for i, s in zip(index or [0] * len(shape), shape, strict=False)]
        self._index += [0] * (len(shape) - len(self._index))
        r = 0
        for ax, size in enumerate(self._shape):
            if ax in shown:
                continue
            name = names[ax] if names and ax < len(names) and names[ax] else f"axis {ax}"
            label = QLabel(name)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, max(0, size - 1))
            slider.setValue(self._index[ax])
            slider.setPageStep(max(1, size // 10))
            slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # reachable by Tab; arrows and PageUp/Down step it
            slider.setToolTip(f"{name}: arrow keys step by 1, PageUp/PageDown by {max(1, size // 10)}")
            slider.installEventFilter(self)
            spin = QSpinBox()
            spin.setRange(0, max(0, size - 1))
            spin.setValue(self._index[ax])
            spin.setKeyboardTracking(False)
            spin.installEventFilter(self)
            total = QLabel(f"/ {size - 1}")
            slider.valueChanged.connect(lambda v, a=ax: self.set_value(a, v))
            spin.valueChanged.connect(lambda v, a=ax: self.set_value(a, v))
            for c, w in enumerate((label, slider, spin, total)):
                self._grid.addWidget(w, r, c)
            self._rows[ax] = (label, slider, spin, total)
            r += 1
        self.setVisible(bool(self._rows))
        # Shown now, all at once: a layout shows a new child of a visible widget later, one by one, and
        # every step resized the plot above (each resize of pyqtgraph's histogram costs a paint of its own).
        for row in self._rows.values():
            for w in row:
                w.show()

    def set_value(self, axis: int, value: int) -> None:
        """Move ``axis`` to ``value`` (keeps slider and spin box in step; emits ``changed`` once)."""
        if axis not in self._rows:
            return
        value = max(0, min(int(value), self._shape[axis] - 1))
        _, slider, spin, _ = self._rows[axis]
        for w in (slider, spin):
            if w.value() != value:
                w.blockSignals(True)
                w.setValue(value)
                w.blockSignals(False)
        if self._index[axis] != value:
            self._index[axis] = value
            self.changed.emit(self.index)
