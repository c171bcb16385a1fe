"""Small widgets the viewers share: the size-guard bar, the loading indicator, key/value tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class GuardBar(QFrame):
    """"Showing a bounded overview" notice with a "load full (2.3 GiB)" button."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guardBar")
        self.setStyleSheet("#guardBar { background: #fff4d6; border: 1px solid #e6c35c; border-radius: 4px; }")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.button = QPushButton()
        self.button.clicked.connect(self.clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.hide()

    def offer(self, text: str, button: str) -> None:
        """Show ``text`` and a button labelled ``button``."""
        self.label.setText(text)
        self.button.setText(button)
        self.button.setVisible(bool(button))
        self.show()


class LoadingPage(QWidget):
    """A busy bar with "Loading …" (also used for error messages)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Select something to preview it.")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy indicator
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(180)
        self.bar.hide()
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def loading(self, name: str) -> None:
        """Show the busy indicator for ``name``."""
        self.label.setStyleSheet("color: #555;")
        self.label.setText(f"Loading {name} …")
        self.bar.show()

    def show_text(self, text: str, error: bool = False) -> None:
        """Show a message (red for errors) without the busy indicator."""
        self.label.setStyleSheet("color: #b00020;" if error else "color: #555;")
        self.label.setText(text)
        self.bar.hide()


def kv_table(rows: Iterable[tuple[str, Any]], parent: QWidget | None = None) -> QTableWidget:
    """A read-only two-column table of (key, value) rows."""
    table = QTableWidget(parent)
    fill_kv(table, rows)
    return table


def fill_kv(table: QTableWidget, rows: Iterable[tuple[str, Any]]) -> None:
    """(Re)fill a two-column key/value table."""
    rows = list(rows)
    table.clear()
    table.setColumnCount(2)
    table.setRowCount(len(rows))
    table.setHorizontalHeaderLabels(["Property", "Value"])
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    for i, (k, v) in enumerate(rows):
        table.setItem(i, 0, QTableWidgetItem(str(k)))
        table.setItem(i, 1, QTableWidgetItem(str(v)))
    table.resizeRowsToContents()


def button(text: str, slot: Callable[[], Any], tip: str = "") -> QPushButton:
    """A push button wired to ``slot``."""
    b = QPushButton(text)
    b.clicked.connect(lambda *_: slot())
    if tip:
        b.setToolTip(tip)
    return b
