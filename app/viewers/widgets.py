"""Small widgets the viewers share: the size-guard bar, the loading indicator, key/value tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLayoutItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class FlowLayout(QLayout):
    """Lays widgets out left to right and wraps them onto more rows when the width runs out.

    A toolbar in a flow layout never forces a minimum width wider than its widest
    item, so a narrow pane shows every control (on two or three rows) instead of
    a horizontal scroll bar.
    """

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(4, 0, 4, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _place(self, rect: QRect, move: bool) -> int:
        """Lay the items out in ``rect`` (or only measure); returns the height used."""
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        gap = self.spacing()
        lines: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        x = area.x()
        for item in self._items:
            if item.isEmpty():
                continue
            hint = item.sizeHint()
            if x + hint.width() > area.right() + 1 and lines[-1]:
                lines.append([])
                x = area.x()
            lines[-1].append((item, hint))
            x += hint.width() + gap
        y = area.y()
        for line in lines:
            height = max((hint.height() for _item, hint in line), default=0)
            x = area.x()
            for item, hint in line:
                if move:  # centred in its line: check boxes beside combo boxes
                    item.setGeometry(QRect(QPoint(x, y + (height - hint.height()) // 2), hint))
                x += hint.width() + gap
            y += height + gap
        return max(0, y - gap - rect.y()) + m.bottom()


def row_of(*widgets: QWidget) -> QWidget:
    """Widgets kept together on one line (a label with its field) inside a :class:`FlowLayout`."""
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(3)
    for w in widgets:
        layout.addWidget(w)
    return box


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


#: an attribute shows at most this many values and characters (a cell of millions of numbers took a minute to lay out)
ATTR_MAX_ITEMS = 1000
ATTR_MAX_CHARS = 20_000


def attribute_rows(attrs: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, text) rows of attributes for :func:`fill_kv`: text as it is, anything else as JSON with its
    non-ASCII characters kept (``µm``, not ``\\u00b5m``); a long value cut, saying how long it is."""
    return [(k, _attribute_text(v)) for k, v in attrs.items()]


def _attribute_text(value: Any) -> str:
    import json

    if isinstance(value, list) and len(value) > ATTR_MAX_ITEMS:
        head = json.dumps(value[:ATTR_MAX_ITEMS], default=str, ensure_ascii=False)
        text = f"{head[:-1]}, …]  ({len(value):,} values)"
    else:
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if len(text) > ATTR_MAX_CHARS:
        text = f"{text[:ATTR_MAX_CHARS]}…  ({len(text):,} characters)"
    return text


def stack_over_plot(
    owner: QWidget, top: Iterable[QWidget | tuple[QWidget, Qt.AlignmentFlag]], plot: QWidget, top_height: int
) -> None:
    """Lay ``owner`` out as the ``top`` widgets (stacked; a widget may come with its alignment) above ``plot``.

    The two parts share a vertical splitter, ``top_height`` pixels to the top at first; the plot takes any growth.
    """
    box = QWidget()
    tl = QVBoxLayout(box)
    tl.setContentsMargins(0, 0, 0, 0)
    for item in top:
        if isinstance(item, tuple):
            tl.addWidget(item[0], 0, item[1])
        else:
            tl.addWidget(item)
    split = QSplitter(Qt.Orientation.Vertical)
    split.addWidget(box)
    split.addWidget(plot)
    split.setStretchFactor(1, 1)
    split.setSizes([top_height, 520])
    layout = QVBoxLayout(owner)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(split)


def alive(obj: Any) -> bool:
    """True while the C++ side of a Qt object still exists (late worker results check this)."""
    import shiboken6

    return shiboken6.isValid(obj)


def button(text: str, slot: Callable[[], Any], tip: str = "") -> QPushButton:
    """A push button wired to ``slot``."""
    b = QPushButton(text)
    b.clicked.connect(lambda *_: slot())
    if tip:
        b.setToolTip(tip)
    return b
