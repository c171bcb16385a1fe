"""Tables (parquet, CSV, table datasets, compound HDF5 / structured arrays) over a lazy polars query."""

from __future__ import annotations

import io
import posixpath
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QTableView, QVBoxLayout

from ..formatting import human_size
from ..models.table_model import LazyTableModel, TableState, build_state
from .base import TABLE_EXTS, Target, Viewer
from .budget import Budget
from .widgets import GuardBar

#: rows shown from a CSV larger than the budget (polars stops reading after them)
CSV_HEAD_ROWS = 100_000
#: bytes read to sniff a text table's header (its width) before polars parses anything
CSV_SNIFF_BYTES = 256 * 1024
#: block size of the bounded read of a very wide text table
_WIDE_BLOCK = 1024 * 1024
#: how the note on a very wide text table ends (such a table is always cut: "load full" shows no more columns)
WIDE_NOTE = "a table this wide is not parsed whole."


@dataclass
class TablePayload:
    """A lazy query and its first state; ``guard`` explains a bounded overview."""

    base: Any
    state: TableState
    guard: str = ""
    full_size: int | None = None
    loadable: bool = True  # whether "load full" can show more (a very wide table is always cut)


def _scan_local(path: str, ext: str) -> Any:
    import polars as pl

    if ext in (".parquet", ".pq"):
        return pl.scan_parquet(path)
    if ext in (".arrow", ".feather", ".ipc"):
        return pl.scan_ipc(path)
    return pl.scan_csv(path, separator="\t" if ext == ".tsv" else ",", infer_schema_length=10_000)


def _read_bytes(data: bytes, ext: str) -> Any:
    import polars as pl

    buf = io.BytesIO(data)
    if ext in (".parquet", ".pq"):
        return pl.read_parquet(buf).lazy()
    if ext in (".arrow", ".feather", ".ipc"):
        return pl.read_ipc(buf).lazy()
    return pl.read_csv(buf, separator="\t" if ext == ".tsv" else ",", infer_schema_length=10_000).lazy()


def _structured(target: Target, budget: Budget) -> tuple[Any, str]:
    """A container node's or a structured ``.npy`` file's values as a table: both through
    :func:`~.values_table.values_frame`, so their fields read alike (bytes as text, times as times)."""
    from .values_table import values_frame

    node = target.node
    if node is None:  # a structured .npy file
        from ..plot.source import open_npy

        node = open_npy(target.backend, target.location, target.size)
        node.read_slice = node.read  # type: ignore[attr-defined]
    return values_frame(node, budget)


def _csv_head(
    blocks: Any, sep: bytes, max_columns: int, max_bytes: int, max_rows: int
) -> tuple[list[bytes], int, bool]:
    """The first ``max_columns`` fields of a text table's first records, from a bounded read.

    ``blocks`` yields the table's bytes; reading stops after ``max_bytes`` or
    ``max_rows`` data records.  Quotes are honoured (separators and newlines
    inside them belong to the field).  Fields past ``max_columns`` are
    skipped with C-speed scans (only quotes and newlines are looked at), so
    a 10-million-column header costs its bytes, never 10 million parsed names.
    Returns (records cut to ``max_columns`` fields, header width counted,
    whether the header was read to its end).
    """
    import re

    every, tail = re.compile(b'["\n' + re.escape(sep) + b"]"), re.compile(b'["\n]')
    records: list[bytes] = []
    cur, fields, in_quotes, keeping, width, seen = bytearray(), 1, False, True, 0, 0
    for block in blocks:
        seen += len(block)
        pos, start = 0, 0
        while True:
            m = (every if keeping else tail).search(block, pos)
            end = len(block) if m is None else m.start()
            if not keeping and not in_quotes and not records:  # count the header's skipped fields
                fields += block.count(sep, pos, end)
            if m is None:
                break
            ch = block[end : end + 1]
            if ch == b'"':
                in_quotes = not in_quotes
            elif in_quotes:
                pass
            elif ch == b"\n":
                if keeping:
                    cur += block[start:end]
                if not records:
                    width = fields
                records.append(bytes(cur).rstrip(b"\r"))
                if len(records) > max_rows:
                    return records, width, True
                cur, fields, keeping, start = bytearray(), 1, True, m.end()
            else:
                fields += 1
                if keeping and fields > max_columns:
                    cur += block[start:end]
                    keeping = False
            pos = m.end()
        if keeping:
            cur += block[start:]
        if seen >= max_bytes:
            break
    if not records:  # the header did not end within the read: what was read of it
        return [bytes(cur).rstrip(b"\r")], fields, False
    return records, width, True


def _wide_csv(target: Target, budget: Budget, sep: str | None) -> tuple[Any, str] | None:
    """A very wide text table cut to its first ``MAX_COLUMNS`` columns, or None when it is not wide; ``sep``:
    its field separator (None: found from its head, as storecore's CSV reading finds it).

    The header is sniffed with one bounded read first; only when it holds
    more than ``MAX_COLUMNS`` fields (or does not end within the sniff) is
    the table read here, block by block up to the budget, keeping the first
    columns of each record, instead of letting polars parse the whole schema.
    """
    import polars as pl

    from ..models.table_model import MAX_COLUMNS

    loc, backend, size = target.location, target.backend, target.size
    sniff = backend.read_bytes(loc.path, 0, CSV_SNIFF_BYTES if size is None else min(size, CSV_SNIFF_BYTES))
    if sep is None:
        from storecore.formats.tables import csv_dialect

        sep = str(csv_dialect(sniff)["separator"])
    _, width, complete = _csv_head([sniff], sep.encode(), MAX_COLUMNS + 1, len(sniff), 0)
    if (complete or (size is not None and len(sniff) >= size)) and width <= MAX_COLUMNS:
        return None

    def blocks() -> Any:
        with backend.open(loc.path, "rb") as f:
            while block := f.read(_WIDE_BLOCK):
                yield block

    limit = max(budget.max_bytes, CSV_SNIFF_BYTES)
    records, width, complete = _csv_head(blocks(), sep.encode(), MAX_COLUMNS, limit, CSV_HEAD_ROWS)
    from storecore.formats.tables import as_utf8

    text = as_utf8(b"\n".join(records) + b"\n")  # (a spreadsheet's Windows-1252 read as such, as storecore reads it)
    frame = pl.read_csv(io.BytesIO(text), separator=sep, infer_schema_length=1000, truncate_ragged_lines=True)
    total = f"{width:,}" if complete else f"more than {width:,}"
    rows = f"{frame.height:,} row{'s' if frame.height != 1 else ''}"
    note = (f"Showing the first {min(width, MAX_COLUMNS):,} of {total} columns and {rows} "
            f"(read {human_size(min(limit, size or limit))} of {human_size(size)}): {WIDE_NOTE}")  # fmt: skip
    return frame.lazy(), note


def open_table(target: Target, budget: Budget) -> tuple[Any, str]:
    """A lazy frame for ``target`` within ``budget``, and a guard note when it is bounded.

    Local files and S3 objects are scanned lazily (polars reads only the row
    groups and ranges a window needs); other stores are read into memory, so
    they must fit the budget.
    """
    if target.kind == "array" or target.is_structured:
        return _structured(target, budget)
    loc, ext = target.location, target.ext
    files = [e for e in target.first_page if not e.is_dir and not e.name.startswith(("_", "."))]
    if target.kind == "dataset":
        ext = posixpath.splitext(files[0].name)[1].lower() if files else ".parquet"
        size = sum(e.size or 0 for e in files)
    else:
        size = target.size or 0
    lazy_store = loc.is_local or loc.base_scheme == "s3"
    if not lazy_store and not budget.fits(size):
        return None, f"This table is {human_size(size)} in a store that cannot be scanned lazily."
    if ext in (".csv", ".tsv") and target.kind == "file":
        wide = _wide_csv(target, budget, "\t" if ext == ".tsv" else None)  # before polars parses any schema
        if wide is not None:
            return wide
    if ext in (".arrow", ".feather", ".ipc") and target.kind == "file":
        from storecore.errors import FormatError
        from storecore.formats.tables import ipc_kind

        try:  # a Feather v1 file is named as such (polars reads none: "out-of-spec: InvalidFooter")
            ipc_kind(target.backend.read_bytes(loc.path, 0, 6))
        except FormatError as e:
            raise FormatError(f"{target.name}: {e}", path=target.uri) from e
    if ext in (".parquet", ".pq", ".csv", ".tsv") or target.kind == "dataset":  # (storecore: dialect, Latin-1)
        from storecore.formats import scan

        frame = scan(target.uri)
    elif loc.is_local:
        frame = _scan_local(loc.path, ext)
    elif budget.fits(size):
        frame = _read_bytes(target.backend.read_bytes(loc.path), ext)
    else:
        return None, f"This table is {human_size(size)} on remote storage."
    if ext in (".csv", ".tsv") and not budget.fits(size):
        # counting rows of a big text table means reading all of it: show the head only
        return frame.head(CSV_HEAD_ROWS), f"Showing the first {CSV_HEAD_ROWS:,} rows of a {human_size(size)} text table."
    return frame, ""


def table_error(target: Target, exc: BaseException) -> Exception:
    """One line for a table polars cannot read: the file and the cause (never a raw ``ComputeError``)."""
    from storecore.errors import CorruptData

    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    cause = lines[0] if lines else type(exc).__name__
    for prefix in ("parquet: ", "parquet error: "):
        if cause.lower().startswith(prefix):
            cause = cause[len(prefix):]
    what = {".parquet": "parquet", ".pq": "parquet", ".csv": "CSV", ".tsv": "TSV"}.get(target.ext, "table")
    return CorruptData(f"{target.name}: not a readable {what} file: {cause}", path=target.uri)


class TableViewer(Viewer):
    """A lazily loaded table: sortable columns, a filter line, row count, dtypes in headers."""

    title = "Table"

    def __init__(self) -> None:
        super().__init__()
        self.model = LazyTableModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setDefaultSectionSize(22)
        # fixed row heights: Qt never measures ten million rows
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter, e.g.  price > 10 and name contains \"abc\"   (Enter to apply)")
        self.filter.returnPressed.connect(lambda: self.model.set_filter(self.filter.text()))
        self.count = QLabel()
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()
        self.guard = GuardBar()
        self.guard.clicked.connect(self.load_full)
        self.model.count_changed.connect(self._on_count)
        self.model.failed.connect(self._on_failed)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.error)
        layout.addWidget(self.guard)
        layout.addWidget(self.view, 1)

    @classmethod
    def priority(cls, target: Target) -> int:
        """Table files and datasets; compound/structured arrays."""
        if target.kind == "file" and target.ext in TABLE_EXTS:
            return 40
        if target.kind == "dataset":
            return 40
        if target.is_structured:
            return 50  # records read better as rows than as a curve
        return 0

    @classmethod
    def prepare(cls, target: Target, budget: Budget, token: Any) -> TablePayload:
        """Open the query lazily and fetch its schema, count and first window."""
        import polars as pl

        try:
            base, guard = open_table(target, budget)
            full = target.size
            if base is None:  # over budget and nothing cheap to show
                empty = pl.DataFrame().lazy()
                return TablePayload(empty, build_state(empty), guard, full)
            state = build_state(base)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] != "polars":
                raise
            raise table_error(target, exc) from exc
        if state.total_columns > len(state.columns):  # wider than the model shows: say so
            guard = " ".join(t for t in (guard, state.note) if t)
        return TablePayload(base, state, guard, full, loadable=WIDE_NOTE not in guard)

    def display(self, payload: TablePayload) -> None:
        """Show the first window; the rest loads while scrolling."""
        self.filter.clear()
        self.error.hide()
        self.model.sort_key, self.model.filter_text = None, ""
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.model.set_state(payload.base, payload.state)
        if payload.guard:
            label = f"Load full ({human_size(payload.full_size)})" if payload.full_size else "Load all"
            self.guard.offer(payload.guard, label if payload.loadable else "")
        else:
            self.guard.hide()
        self._fit_columns(payload.state)
        self.ready.emit()

    def _fit_columns(self, state: TableState) -> None:
        """Column widths from the header and the first rows (QTableView's own size hints are slow)."""
        from ..models.table_model import format_cell

        fm = self.view.fontMetrics()
        header = self.view.horizontalHeader()
        sample = state.first[:50]
        for col, name in enumerate(state.columns[:200]):
            texts = [name, state.dtypes[col]] + [format_cell(row[col]) for row in sample]
            width = max(fm.horizontalAdvance(t) for t in texts) + 18
            header.resizeSection(col, max(60, min(260, width)))

    def _on_count(self, n: int) -> None:
        self.error.hide()
        cols = self.model.columnCount()
        self.count.setText(f"{n:,} rows × {cols} columns")
        self.status.emit(self.count.text())

    def _on_failed(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.status.emit(message)


VIEWER = TableViewer
