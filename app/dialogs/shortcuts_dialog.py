"""Help ▸ Keyboard shortcuts: the window's shortcuts and the slice plot's, in one table."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)


def plot_shortcuts() -> list[tuple[str, str]]:
    """The slice plot's shortcuts (``SlicePlot.shortcuts()`` when the plot offers it; empty before)."""
    try:
        from ..plot.slice_plot import SlicePlot
    except Exception as e:  # noqa: BLE001 - no plot module: no plot shortcuts
        log.debug("no slice plot: %s", e)
        return []
    shortcuts = getattr(SlicePlot, "shortcuts", None)
    if shortcuts is None:
        return []
    try:
        return [(str(k), str(d)) for k, d in shortcuts()]
    except Exception as e:  # noqa: BLE001 - a plot bug must not hide the window's list
        log.warning("the slice plot's shortcuts could not be listed: %s", e)
        return []


class ShortcutsDialog(QDialog):
    """A read-only table: section, keys, what they do."""

    def __init__(self, sections: Iterable[tuple[str, list[tuple[str, str]]]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = [(section, keys, what) for section, items in sections for keys, what in items]
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Where", "Keys", "Does"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(620, 520)

    def rows(self) -> list[tuple[str, str, str]]:
        """The table's rows as text (section, keys, description)."""
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]  # type: ignore[misc]
