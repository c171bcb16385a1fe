"""The slice plot's statistics panel: the displayed slice, the ROI, and the whole array on request."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..viewers.widgets import button
from .analysis import Stats

ROWS = ["min", "max", "mean", "std", "sum", "count", "NaN", "inf"]
COLUMNS = ["Slice", "ROI", "Whole array"]


class StatsPanel(QWidget):
    """A table of statistics (rows ``ROWS``, columns ``COLUMNS``), a "Whole array" button with progress."""

    #: the user asked for the whole array's statistics / to cancel them
    whole_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(len(ROWS), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setVerticalHeaderLabels(ROWS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(18)
        self.table.setMaximumHeight(18 * len(ROWS) + 30)
        for r in range(len(ROWS)):
            for c in range(len(COLUMNS)):
                item = QTableWidgetItem("—")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.whole = button(
            "Whole array",
            self.whole_requested.emit,
            "Statistics of every value of the array, read chunk by chunk on a worker within the budget",
        )
        self.cancel = button("Cancel", self.cancel_requested.emit)
        self.cancel.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumHeight(14)
        self.progress.hide()
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #775500;")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.whole)
        row.addWidget(self.cancel)
        row.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(2)
        layout.addWidget(self.table)
        layout.addLayout(row)
        layout.addWidget(self.note)

    def set_column(self, column: str, stats: Stats | None) -> None:
        """Show ``stats`` in ``column`` (``Slice``, ``ROI``, ``Whole array``); None empties it."""
        c = COLUMNS.index(column)
        values = dict(stats.rows()) if stats is not None else {}
        for r, name in enumerate(ROWS):
            self.table.item(r, c).setText(values.get(name, "—"))

    def value(self, column: str, row: str) -> str:
        """The text shown for ``row`` in ``column``."""
        return self.table.item(ROWS.index(row), COLUMNS.index(column)).text()

    def set_running(self, running: bool) -> None:
        """Show the progress bar and Cancel while the whole array is being read."""
        self.whole.setEnabled(not running)
        self.cancel.setVisible(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setValue(0)

    def set_progress(self, done: int, total: int) -> None:
        """Elements read so far, of ``total``."""
        self.progress.setValue(int(1000 * done / total) if total else 1000)

    def reset(self) -> None:
        """A new dataset: nothing shown, nothing running."""
        for column in COLUMNS:
            self.set_column(column, None)
        self.set_running(False)
        self.note.setText("")
