"""The mounts tree view: uniform rows, sorting, drag out and drop in, Ctrl+C / Ctrl+V as signals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal
from PySide6.QtGui import QDrag, QDragMoveEvent, QDropEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QToolTip, QTreeView, QWidget


class MountsTree(QTreeView):
    """The tree view: uniform rows (fast with 100k rows), sorting, drag out and drop in.

    Ctrl+C / Ctrl+V become ``copy_requested`` / ``paste_requested`` (handled here,
    not as window shortcuts, so text fields and the preview keep their own copy).
    """

    copy_requested = Signal()
    paste_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: called instead of Qt's drag start (the window downloads remote items before the drag)
        self.drag_handler: Callable[[], None] | None = None
        self.setUniformRowHeights(True)
        self.setAnimated(False)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        # deep names keep their start and end visible; the tooltip has the full name and URI
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)

    def tooltip_for(self, index: QModelIndex) -> str:
        """The tooltip of a row: its own when it has one (errors, NeXus), else the full name and URI."""
        if not index.isValid():
            return ""
        own = index.data(Qt.ItemDataRole.ToolTipRole)
        if own:
            return str(own)
        name_index = index.siblingAtColumn(0)
        node = getattr(self.model(), "node", lambda _i: None)(name_index)
        if node is None:
            return str(name_index.data(Qt.ItemDataRole.DisplayRole) or "")
        return node.name if node.name == node.uri else f"{node.name}\n{node.uri}"

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            index = self.indexAt(event.pos())
            text = self.tooltip_for(index)
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport(), self.visualRect(index))
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().viewportEvent(event)

    def configure_header(self) -> None:
        """Readable default column widths (interactive: resize-to-contents is too slow for big folders)."""
        header = self.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in enumerate((205, 68, 116, 110)):
            self.setColumnWidth(col, width)

    def startDrag(self, supported_actions: Qt.DropAction) -> None:
        if self.drag_handler is not None:
            self.drag_handler()
        else:
            super().startDrag(supported_actions)

    def exec_drag(self, mime: Any) -> None:
        """Run a copy drag carrying ``mime`` (blocks in Qt's drag loop until the drop)."""
        drag = QDrag(self)
        drag.setMimeData(mime)
        index = self.currentIndex()
        if index.isValid():
            pixmap_icon = index.siblingAtColumn(0).data(Qt.ItemDataRole.DecorationRole)
            if pixmap_icon is not None:
                drag.setPixmap(pixmap_icon.pixmap(24, 24))
        drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_requested.emit()
            event.accept()
        elif event.matches(QKeySequence.StandardKey.Paste):
            self.paste_requested.emit()
            event.accept()
        else:
            super().keyPressEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        super().dragMoveEvent(event)
        if event.isAccepted():
            # The transfer queue does moves itself; the drag source must never delete anything.
            event.setDropAction(Qt.DropAction.CopyAction)

    def dropEvent(self, event: QDropEvent) -> None:
        event.setDropAction(Qt.DropAction.CopyAction)
        super().dropEvent(event)
