"""The transfer queue dock (placeholder until the transfer issue lands)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QWidget


class TransferQueueDock(QDockWidget):
    """Lists transfer jobs; ``submit`` queues copies/moves; ``job_finished(dst_uri)`` when one ends."""

    job_finished = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Transfers", parent)
        self.setObjectName("TransferQueueDock")
        self.setWidget(QLabel("No transfers."))

    def submit(self, src_uris: list[str], dst_uri: str, op: str = "copy") -> None:
        """Queue copying (or moving) each source into the folder/group ``dst_uri``."""
