"""Anything else: size, modified time, ETag and a hex/ASCII view of the first 4 KiB."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QSplitter, QVBoxLayout

from ..formatting import human_size
from .base import Target, Viewer
from .budget import Budget
from .widgets import fill_kv, kv_table

HEX_BYTES = 4096


@dataclass
class HexPayload:
    """File facts and its first bytes."""

    target: Target
    head: bytes


def hex_dump(data: bytes, width: int = 16) -> str:
    """Classic ``offset  hex  |ascii|`` lines."""
    lines = []
    for off in range(0, len(data), width):
        row = data[off : off + width]
        hexes = " ".join(f"{b:02x}" for b in row)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{off:08x}  {hexes:<{width * 3 - 1}}  |{text}|")
    return "\n".join(lines)


def facts(target: Target) -> list[tuple[str, str]]:
    """Size, modified time, ETag and URI rows for a file."""
    e = target.entry
    mtime = getattr(e, "mtime", None)
    rows = [
        ("Name", target.name),
        ("Size", f"{human_size(target.size)} ({target.size:,} bytes)" if target.size is not None else "?"),
        ("Modified", dt.datetime.fromtimestamp(mtime).isoformat(sep=" ", timespec="seconds") if mtime else "?"),
        ("ETag", getattr(e, "etag", None) or "—"),
        ("URI", target.uri),
    ]
    if target.note:
        rows.append(("Note", target.note))
    return rows


class HexViewer(Viewer):
    """The fallback viewer: file facts and a hex dump."""

    title = "Hex"

    def __init__(self) -> None:
        super().__init__()
        self.table = kv_table([])
        self.dump = QPlainTextEdit()
        self.dump.setReadOnly(True)
        self.dump.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.dump.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.dump)
        split.setSizes([150, 400])
        #: why the file is shown as bytes when it looked like something else (a corrupt HDF5 file, HDF4…)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020; padding: 4px;")
        self.message.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(split)

    @classmethod
    def priority(cls, target: Target) -> int:
        """Any file (lowest priority)."""
        return 1 if target.kind == "file" else 0

    @classmethod
    def prepare(cls, target: Target, budget: Budget, token: Any) -> HexPayload:
        """The first 4 KiB."""
        n = min(HEX_BYTES, budget.max_bytes)
        head = target.backend.read_bytes(target.location.path, 0, n) if (target.size or 0) > 0 else b""
        return HexPayload(target, head[:n])

    def display(self, payload: HexPayload) -> None:
        """Show facts and dump."""
        fill_kv(self.table, facts(payload.target))
        note = payload.target.note
        self.message.setText(f"Shown as bytes: {note}" if note else "")
        self.message.setVisible(bool(note))
        if note:
            self.status.emit(note)
        shown = f"first {len(payload.head)} bytes" if len(payload.head) < (payload.target.size or 0) else "all bytes"
        self.dump.setPlainText(f"— {shown} —\n" + hex_dump(payload.head))
        self.ready.emit()


VIEWER = HexViewer
