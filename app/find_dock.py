"""The find dock (placeholder until the find issue lands)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QWidget


class FindDock(QDockWidget):
    """Searches below a location; ``reveal_requested(uri)`` asks the window to show a result."""

    reveal_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Find", parent)
        self.setObjectName("FindDock")
        self.setWidget(QLabel("Select a folder and press Ctrl+F."))

    def start_search(self, root_uri: str) -> None:
        """Show the dock with ``root_uri`` as the place to search."""
        self.show()
