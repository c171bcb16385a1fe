"""Single values and empty datasets as text: a scalar string, a record, an enum by label, a reference as its path.

A plot of one point says nothing; silx view and h5web show such datasets as
text, with the type beside it.  Long strings are cut at the preview budget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtWidgets import QLabel, QPlainTextEdit, QSplitter, QVBoxLayout

from ..formatting import human_size
from .base import Target, Viewer
from .budget import Budget
from .widgets import fill_kv, kv_table


@dataclass
class ValuePayload:
    """The value as text, and what to say about it."""

    target: Target
    text: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    note: str = ""


def read_value(target: Target, budget: Budget) -> ValuePayload:
    """Read and format a scalar (or describe an empty dataset) on a worker."""
    from storecore.containers.values import format_value

    node = target.node
    facts = [("Type", node.type_text or str(node.dtype)), ("Kind", node.value_kind or "value")]
    if node.is_empty:
        facts.insert(0, ("Shape", "empty (no dataspace)"))
        return ValuePayload(target, "", facts, node.attrs, "This dataset is empty: it holds no values, only a type.")
    facts.insert(0, ("Shape", "scalar"))
    text = format_value(node.read_slice(()), enum_labels=node.enum_labels)
    note = ""
    if len(text) > budget.max_bytes:
        note = f"Showing the first {human_size(budget.max_bytes)} of a {human_size(len(text))} value."
        text = text[: budget.max_bytes]
    facts.append(("URI", target.uri))
    return ValuePayload(target, text, facts, node.attrs, note)


class ValueViewer(Viewer):
    """A read-only text view of one value, its type and its attributes."""

    title = "Value"

    def __init__(self) -> None:
        super().__init__()
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.facts = kv_table([])
        self.attrs = QPlainTextEdit()
        self.attrs.setReadOnly(True)
        split = QSplitter()
        split.setOrientation(split.orientation().Vertical)
        split.addWidget(self.text)
        split.addWidget(self.facts)
        split.addWidget(self.attrs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(split, 1)

    @classmethod
    def priority(cls, target: Target) -> int:
        """Scalars and empty datasets; above the array viewer, which has nothing to plot there."""
        node = target.node
        if target.kind != "array" or node is None:
            return 0
        if node.is_empty:
            return 70
        return 60 if node.shape == () else 0

    @classmethod
    def prepare(cls, target: Target, budget: Budget, token: Any) -> ValuePayload:
        """Read the value (worker)."""
        return read_value(target, budget)

    def display(self, payload: ValuePayload) -> None:
        """Show the value, its type and attributes."""
        self.text.setPlainText(payload.text)
        self.text.setVisible(not payload.target.node.is_empty)
        self.note.setText(payload.note)
        self.note.setVisible(bool(payload.note))
        fill_kv(self.facts, payload.facts)
        self.attrs.setPlainText(json.dumps(payload.attrs, indent=2, ensure_ascii=False) if payload.attrs else "")
        self.attrs.setVisible(bool(payload.attrs))
        self.status.emit(payload.text[:80].replace("\n", " ") if payload.text else payload.note)
        self.ready.emit()


VIEWER = ValueViewer
