"""The "destination exists" dialog of the transfer queue, with "apply to all"."""

from __future__ import annotations

import datetime as _dt

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

#: button object names → the engine's decision
CHOICES = [
    ("overwrite", "Overwrite"),
    ("skip", "Skip"),
    ("skip-if-same", "Skip if identical"),
    ("rename", "Keep both"),
    ("cancel", "Cancel transfer"),
]


def _size(n: int | None) -> str:
    return "—" if n is None else f"{n:,} bytes"


def _time(t: float | None) -> str:
    return "—" if t is None else _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


class ConflictDialog(QDialog):
    """Asks what to do with one existing destination file.

    After it closes, :attr:`decision` is one of ``overwrite``, ``skip``,
    ``skip-if-same``, ``rename`` or ``cancel`` (closing the window cancels)
    and :attr:`apply_to_all` says whether to reuse it for the job's other files.
    """

    def __init__(
        self,
        source: str,
        destination: str,
        source_size: int | None = None,
        destination_size: int | None = None,
        source_mtime: float | None = None,
        destination_mtime: float | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ConflictDialog")
        self.setWindowTitle("File exists")
        self.decision = "cancel"
        self.apply_to_all = False
        name = destination.rstrip("/").rsplit("/", 1)[-1]
        layout = QVBoxLayout(self)
        title = QLabel(f"<b>{name}</b> already exists at the destination.")
        title.setWordWrap(True)
        layout.addWidget(title)
        grid = QGridLayout()
        for r, (label, uri, size, mtime) in enumerate(
            (("Source", source, source_size, source_mtime), ("Destination", destination, destination_size,
                                                              destination_mtime))
        ):
            grid.addWidget(QLabel(f"{label}:"), r, 0)
            where = QLabel(uri)
            where.setWordWrap(True)
            grid.addWidget(where, r, 1)
            grid.addWidget(QLabel(f"{_size(size)} · {_time(mtime)}"), r, 2)
        layout.addLayout(grid)
        self.apply_box = QCheckBox("Apply to all remaining conflicts of this transfer")
        self.apply_box.setObjectName("apply_to_all")
        layout.addWidget(self.apply_box)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, text in CHOICES:
            button = QPushButton(text)
            button.setObjectName(key)
            button.clicked.connect(lambda _=False, k=key: self.choose(k))
            buttons.addWidget(button)
            self.buttons[key] = button
        self.buttons["skip-if-same"].setToolTip("Skip when size and checksum match; overwrite otherwise")
        self.buttons["rename"].setToolTip("Copy as “name (1).ext” beside the existing file")
        layout.addLayout(buttons)

    def choose(self, decision: str) -> None:
        """Close with ``decision`` (reading the "apply to all" box)."""
        self.decision = decision
        self.apply_to_all = self.apply_box.isChecked()
        if decision == "cancel":
            self.reject()
        else:
            self.accept()

    def reject(self) -> None:
        self.decision = "cancel"
        super().reject()


__all__ = ["ConflictDialog", "CHOICES"]
