"""The preview pane (placeholder until the preview issue lands)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class PreviewPane(QWidget):
    """Shows the selected location; emits ``loaded(uri)`` once its preview is on screen."""

    loaded = Signal(str)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._label = QLabel("Select something to preview it.")
        layout = QVBoxLayout(self)
        layout.addWidget(self._label)

    def show_location(self, uri: str) -> None:
        """Preview ``uri`` (loads on a worker; newer calls cancel older ones)."""
        self._label.setText(uri)
        self.loaded.emit(uri)

    def clear(self) -> None:
        """Show nothing."""
        self._label.setText("Select something to preview it.")
