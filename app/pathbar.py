"""The editable path bar: shows the selected location's URI; Enter navigates to (or mounts) a typed one."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget


class PathBar(QLineEdit):
    """A line edit for URIs; emits ``navigate(uri)`` on Enter, Escape restores the shown location."""

    navigate = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._shown = ""
        self.setPlaceholderText("Type a path or URI (s3://bucket/prefix, /data/run.h5::/entry) and press Enter")
        self.setClearButtonEnabled(True)
        self.returnPressed.connect(self._on_return)

    def set_uri(self, uri: str) -> None:
        """Show ``uri`` (unless the user is typing)."""
        self._shown = uri
        if not self.hasFocus() or not self.isModified():
            self.setText(uri)
            self.setModified(False)

    def _on_return(self) -> None:
        text = self.text().strip()
        if text:
            self.setModified(False)
            self.navigate.emit(text)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.setText(self._shown)
            self.setModified(False)
            self.clearFocus()
            return
        super().keyPressEvent(event)
