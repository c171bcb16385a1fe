"""Text files: the first KiB with "load more", encoding errors shown, JSON as a foldable tree."""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from ..formatting import human_size
from ..workers import LatestOnly
from .base import TEXT_EXTS, Target, Viewer
from .budget import Budget
from .widgets import GuardBar, button

#: how much a text preview reads at first, and how much each "load more" adds
FIRST_READ = 64 * 1024
#: JSON trees are built only for documents up to this size (pretty text beyond)
JSON_TREE_MAX = 16 * 1024 * 1024
#: nodes created per expanded JSON container (the rest behind a "… N more" row)
TREE_PAGE = 500


@dataclass
class TextChunk:
    """Decoded text of the first ``loaded`` bytes of a file of ``size`` bytes."""

    target: Target
    text: str
    loaded: int
    size: int | None
    bad_bytes: int
    limit: int
    tree: Any = None
    tree_error: str = ""


def decode(data: bytes, final: bool) -> tuple[str, int]:
    """UTF-8 text of ``data`` (a cut multi-byte character at the end is dropped unless ``final``),
    and the number of undecodable bytes replaced by U+FFFD."""
    bad = 0

    def count(err: UnicodeDecodeError) -> tuple[str, int]:
        nonlocal bad
        bad += err.end - err.start
        return ("\ufffd", err.end)

    codecs.register_error("storescope-count", count)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="storescope-count")
    text = decoder.decode(data, final=final)
    return text, bad


def read_text(target: Target, limit: int) -> TextChunk:
    """Read up to ``limit`` bytes of ``target`` and decode them (worker thread)."""
    size = target.size
    end = limit if size is None else min(size, limit)
    data = target.backend.read_bytes(target.location.path, 0, end) if end else b""
    complete = size is not None and len(data) >= size
    text, bad = decode(data, final=complete)
    chunk = TextChunk(target, text, len(data), size, bad, limit)
    if complete and target.ext in (".json", ".jsonl", ".ndjson") and len(data) <= JSON_TREE_MAX:
        doc = text.removeprefix("\ufeff")  # a byte-order mark before the document (Windows tools write one)
        try:
            if target.ext == ".json":
                chunk.tree = json.loads(doc)
            else:
                chunk.tree = [json.loads(line) for line in doc.splitlines() if line.strip()]
        except ValueError as e:
            chunk.tree_error = f"not valid JSON: {e}"
    return chunk


def _label(value: Any) -> tuple[str, str]:
    if isinstance(value, dict):
        return f"{{{len(value)}}}", "object"
    if isinstance(value, list):
        return f"[{len(value)}]", "array"
    text = json.dumps(value, ensure_ascii=False)
    return (text if len(text) < 300 else text[:300] + "…"), type(value).__name__.replace("NoneType", "null")


class JsonTree(QTreeWidget):
    """A foldable JSON tree whose children are created when a node is expanded."""

    def __init__(self) -> None:
        super().__init__()
        self.setHeaderLabels(["Key", "Value", "Type"])
        self.setUniformRowHeights(True)
        self.itemExpanded.connect(self._expand)
        # unexpanded containers, kept on the Python side (a QVariant would sort dict keys)
        self._pending: dict[int, Any] = {}

    def set_document(self, doc: Any) -> None:
        """Show ``doc`` with its top level expanded."""
        self.clear()
        self._pending.clear()
        root = self._make(self.invisibleRootItem(), "(root)", doc)
        root.setExpanded(True)
        self.resizeColumnToContents(0)

    def _make(self, parent: QTreeWidgetItem, key: str, value: Any) -> QTreeWidgetItem:
        text, kind = _label(value)
        item = QTreeWidgetItem(parent, [key, text, kind])
        if isinstance(value, (dict, list)) and value:
            self._pending[id(item)] = (item, value)
            QTreeWidgetItem(item, ["…"])  # placeholder so the fold arrow shows
        return item

    def _expand(self, item: QTreeWidgetItem) -> None:
        entry = self._pending.pop(id(item), None)
        if entry is None:
            return
        value = entry[1]
        item.takeChildren()
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for n, (k, v) in enumerate(pairs):
            if n >= TREE_PAGE:
                QTreeWidgetItem(item, [f"… {len(value) - TREE_PAGE} more", "", ""])
                break
            self._make(item, str(k), v)


class TextViewer(Viewer):
    """Plain text, source views and JSON (pretty text plus a foldable tree)."""

    title = "Text"

    def __init__(self) -> None:
        super().__init__()
        self._slot = LatestOnly(owner=self)
        self._chunk: TextChunk | None = None
        self.budget = Budget()
        self.edit = QPlainTextEdit()
        self.edit.setReadOnly(True)
        self.edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.tree = JsonTree()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.edit, "Text")
        self.info = QLabel()
        self.more = button("Load more", self._load_more)
        self.guard = GuardBar()
        self.guard.clicked.connect(self.load_full)
        bottom = QHBoxLayout()
        bottom.addWidget(self.info, 1)
        bottom.addWidget(self.more)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.guard)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

    @classmethod
    def priority(cls, target: Target) -> int:
        """Text extensions; CSV/TSV rank below the table viewer (source view)."""
        if target.kind != "file":
            return 0
        if target.ext in (".csv", ".tsv"):
            return 15
        if target.ext in TEXT_EXTS or target.ext in (".yml", ".cfg", ".conf", ".env"):
            return 30
        return 2 if not target.ext else 0  # README, LICENSE...: text beats hex

    @classmethod
    def prepare(cls, target: Target, budget: Budget, token: Any) -> TextChunk:
        """The first ``FIRST_READ`` bytes (all of it after "load full")."""
        asked_for_all = budget.max_bytes >= Budget().unlimited().max_bytes
        chunk = read_text(target, budget.max_bytes if asked_for_all else min(FIRST_READ, budget.max_bytes))
        chunk.limit = budget.max_bytes
        return chunk

    def display(self, payload: TextChunk) -> None:
        """Show the text (and the JSON tree when the document is complete)."""
        self._chunk = payload
        self.budget = Budget(payload.limit)
        pretty = payload.text
        if isinstance(payload.tree, (dict, list)) and payload.target.ext == ".json":
            pretty = json.dumps(payload.tree, indent=2, ensure_ascii=False)
        self.edit.setPlainText(pretty)
        self._show_tree(payload)
        self._update_info()
        self.ready.emit()

    def _show_tree(self, chunk: TextChunk) -> None:
        has_tree = chunk.tree is not None
        index = self.tabs.indexOf(self.tree)
        if has_tree:
            self.tree.set_document(chunk.tree)
            if index < 0:
                self.tabs.insertTab(0, self.tree, "Tree")
            self.tabs.setCurrentWidget(self.tree)
        elif index >= 0:
            self.tabs.removeTab(index)

    def _update_info(self) -> None:
        c = self._chunk
        if c is None:
            return
        parts = [f"{human_size(c.loaded)} of {human_size(c.size)}"]
        if c.bad_bytes:
            parts.append(f"⚠ {c.bad_bytes} bytes are not valid UTF-8 (shown as \ufffd)")
        if c.tree_error:
            parts.append(c.tree_error)
        self.info.setText("  ·  ".join(parts))
        complete = c.size is not None and c.loaded >= c.size
        self.more.setVisible(not complete and c.loaded < self.budget.max_bytes)
        if not complete and c.loaded >= self.budget.max_bytes:
            self.guard.offer(f"Showing the first {human_size(c.loaded)} (preview budget).", f"Load full ({human_size(c.size)})")
        else:
            self.guard.hide()

    def _load_more(self) -> None:
        c = self._chunk
        if c is None:
            return
        limit = min(max(c.loaded * 4, FIRST_READ), self.budget.max_bytes)
        self.more.setEnabled(False)
        self.info.setText("Loading …")
        self._slot.submit(read_text, c.target, limit, on_done=self._on_more, on_error=self._on_error)

    def _on_more(self, chunk: TextChunk) -> None:
        self.more.setEnabled(True)
        chunk.limit = self.budget.max_bytes
        self.display(chunk)
        self.status.emit(f"loaded {human_size(chunk.loaded)}")

    def _on_error(self, message: str, exc: BaseException) -> None:
        self.more.setEnabled(True)
        self.info.setText(message)
        self.status.emit(message)

    def stop(self) -> None:
        """Cancel a running "load more"."""
        self._slot.cancel()
        self.more.setEnabled(True)


VIEWER = TextViewer
