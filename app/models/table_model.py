"""A table model over a polars ``LazyFrame`` that fetches row windows on demand.

Nothing is collected up front except the schema and the row count: rows come
in windows (``WINDOW`` rows) fetched on a worker when the view first asks for
them, and a small LRU keeps the windows around the viewport.  Sorting and a
simple filter expression are pushed down into the lazy query, so polars does
the work (and skips row groups it can).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from ..workers import LatestOnly, submit

WINDOW = 512
MAX_WINDOWS = 16
#: most columns a table model shows (wider tables show their first columns and a note)
MAX_COLUMNS = 10_000

_Index = QModelIndex | QPersistentModelIndex


@dataclass
class TableState:
    """A query with what the model needs to show it: columns, dtypes, count, first window."""

    frame: Any  # polars LazyFrame (the query as sorted/filtered)
    columns: list[str]
    dtypes: list[str]
    count: int
    first: list[tuple]
    total_columns: int = 0  # columns of the query before the model's bound (0: as many as shown)

    @property
    def note(self) -> str:
        """Why fewer columns than the query has are shown ("" when all are)."""
        if self.total_columns <= len(self.columns):
            return ""
        return f"Showing the first {len(self.columns):,} of {self.total_columns:,} columns."


class FilterSyntaxError(ValueError):
    """The filter text is not a valid expression (message says where)."""


_TOKEN = re.compile(
    r"""\s*(?:(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<str>"[^"]*"|'[^']*')|(?P<op>==|!=|<=|>=|<|>|=)"""
    r"""|(?P<col>`[^`]+`|[A-Za-z_][\w.]*)|(?P<paren>[()]))"""
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterSyntaxError(f"cannot read the filter at {text[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_filter(text: str, columns: list[str]) -> Any:
    """A polars expression from ``col op value`` terms joined by ``and``/``or`` (and binds tighter).

    Operators: ``== != < <= > >=`` and the words ``contains``, ``startswith``,
    ``is null``, ``is not null``; values are numbers, quoted strings,
    ``true``/``false``/``null``; column names may be back-quoted.
    """
    return _FilterParser(_tokens(text), columns).parse()


class _FilterParser:
    """Recursive descent over the tokens of one filter: ``or`` of ``and`` of terms."""

    def __init__(self, toks: list[tuple[str, str]], columns: list[str]) -> None:
        self.toks = toks
        self.columns = columns
        self.pos = 0

    def parse(self) -> Any:
        """The expression of the whole filter (every token used)."""
        if not self.toks:
            raise FilterSyntaxError("empty filter")
        expr = self.disjunction()
        if self.pos != len(self.toks):
            raise FilterSyntaxError(f"unexpected {self.toks[self.pos][1]!r}")
        return expr

    def next_is(self, word: str) -> bool:
        """Whether the next token is ``word`` (any case)."""
        return self.pos < len(self.toks) and self.toks[self.pos][1].lower() == word

    def take(self) -> tuple[str, str]:
        """The next token, consumed."""
        if self.pos >= len(self.toks):
            raise FilterSyntaxError("the filter ends too early")
        self.pos += 1
        return self.toks[self.pos - 1]

    def disjunction(self) -> Any:
        """Conjunctions joined by ``or``."""
        expr = self.conjunction()
        while self.next_is("or"):
            self.take()
            expr = expr | self.conjunction()
        return expr

    def conjunction(self) -> Any:
        """Terms joined by ``and``."""
        expr = self.term()
        while self.next_is("and"):
            self.take()
            expr = expr & self.term()
        return expr

    def term(self) -> Any:
        """A parenthesised disjunction or one ``col op value`` condition."""
        tok = self.take()
        if tok == ("paren", "("):
            expr = self.disjunction()
            if self.take() != ("paren", ")"):
                raise FilterSyntaxError("missing ')'")
            return expr
        return self.condition(self.column(tok))

    def column(self, tok: tuple[str, str]) -> Any:
        """The polars column a (possibly back-quoted) name token names."""
        import polars as pl

        if tok[0] != "col":
            raise FilterSyntaxError(f"expected a column name, got {tok[1]!r}")
        name = tok[1].strip("`")
        if name not in self.columns:
            raise FilterSyntaxError(f"no column {name!r} (columns: {', '.join(self.columns[:12])})")
        return pl.col(name)

    def condition(self, col: Any) -> Any:
        """The operator and value after a column, applied to it."""
        import polars as pl

        op = self.take()
        if op[0] == "op":
            v = self.value(self.take())
            sym = "==" if op[1] == "=" else op[1]
            return {"==": col.eq, "!=": col.ne, "<": col.lt, "<=": col.le, ">": col.gt, ">=": col.ge}[sym](v)
        word = op[1].lower()
        if word == "contains":
            return col.cast(pl.String).str.contains(str(self.value(self.take())), literal=True)
        if word == "startswith":
            return col.cast(pl.String).str.starts_with(str(self.value(self.take())))
        if word == "is":
            nxt = self.take()[1].lower()
            if nxt == "not" and self.take()[1].lower() == "null":
                return col.is_not_null()
            if nxt == "null":
                return col.is_null()
        raise FilterSyntaxError(f"unknown operator {op[1]!r}")

    @staticmethod
    def value(tok: tuple[str, str]) -> Any:
        """A literal: number, quoted string, true/false/null."""
        kind, text = tok
        if kind == "num":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "str":
            return text[1:-1]
        if kind == "col" and text.lower() in ("true", "false", "null", "none"):
            return {"true": True, "false": False}.get(text.lower())
        raise FilterSyntaxError(f"expected a value, got {text!r}")


_TIME_DTYPE = re.compile(r"(Datetime|Duration)\(time_unit='(\w+)'(?:, time_zone=(?:None|'([^']*)'))?\)")


def dtype_label(dtype: Any) -> str:
    """A short header label for a polars dtype (``Datetime[us, UTC]`` rather than its repr)."""
    text = str(dtype)
    m = _TIME_DTYPE.fullmatch(text)
    if m:
        return f"{m.group(1)}[{m.group(2)}{', ' + m.group(3) if m.group(3) else ''}]"
    return text if len(text) <= 40 else text[:39] + "…"


def _rows(frame: Any) -> list[tuple]:
    return frame.rows()


def build_state(base: Any, sort: tuple[str, bool] | None = None, filter_text: str = "", window: int = WINDOW) -> TableState:
    """Apply sort/filter to ``base`` lazily; collect the schema, the row count and the first window.

    Runs on a worker.  Raises :class:`FilterSyntaxError` for a bad filter.
    """
    import polars as pl

    schema = base.collect_schema()  # bounded by the caller: very wide text tables arrive cut (table_viewer)
    names = schema.names()
    total = len(names)
    columns = list(names[:MAX_COLUMNS])
    frame = base if total <= MAX_COLUMNS else base.select(columns)
    if filter_text.strip():
        frame = frame.filter(parse_filter(filter_text, columns))
    if sort is not None:
        frame = frame.sort(sort[0], descending=sort[1], nulls_last=True)
    count = int(frame.select(pl.len()).collect().item())
    first = _rows(frame.slice(0, window).collect()) if count else []
    return TableState(frame, columns, [dtype_label(schema[c]) for c in columns], count, first, total)


def fetch_window(frame: Any, start: int, size: int) -> list[tuple]:
    """Rows ``[start, start+size)`` of the query (worker)."""
    return _rows(frame.slice(start, size).collect())


def format_cell(value: Any) -> str:
    """Display text of one cell (floats trimmed, long text cut)."""
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "…"


class LazyTableModel(QAbstractTableModel):
    """Rows of a polars query, fetched in windows on demand; headers show dtypes."""

    #: emitted after a (re)query: the new row count
    count_changed = Signal(int)
    #: emitted when a window of rows arrives (its first row)
    window_loaded = Signal(int)
    #: a query failed (readable message)
    failed = Signal(str)

    def __init__(self, parent: Any = None, window: int = WINDOW) -> None:
        super().__init__(parent)
        self.window = window
        self.base: Any = None
        self.state: TableState | None = None
        self.sort_key: tuple[str, bool] | None = None
        self.filter_text = ""
        self._windows: OrderedDict[int, list[tuple]] = OrderedDict()
        self._pending: set[int] = set()
        self._generation = 0
        self._query = LatestOnly(owner=self)

    # -- query -------------------------------------------------------------------
    def set_state(self, base: Any, state: TableState) -> None:
        """Show ``state`` (built on a worker by :func:`build_state` from ``base``)."""
        self.beginResetModel()
        self.base = base
        self.state = state
        self._generation += 1
        self._windows.clear()
        self._pending.clear()
        if state.first:
            self._windows[0] = state.first
        self.endResetModel()
        self.count_changed.emit(state.count)

    def requery(self) -> None:
        """Re-run the query with the current sort and filter (on a worker)."""
        if self.base is None:
            return
        base = self.base
        self._query.submit(
            build_state, base, self.sort_key, self.filter_text, self.window,
            on_done=lambda st: self.set_state(base, st),
            on_error=lambda msg, exc: self.failed.emit(msg),
        )  # fmt: skip

    def set_filter(self, text: str) -> None:
        """Filter rows by a simple expression (see :func:`parse_filter`); empty text clears it."""
        self.filter_text = text
        self.requery()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by ``column`` (pushed down into polars, on a worker)."""
        if self.state is None or not 0 <= column < len(self.state.columns):
            return
        self.sort_key = (self.state.columns[column], order == Qt.SortOrder.DescendingOrder)
        self.requery()

    # -- rows --------------------------------------------------------------------
    def row_values(self, row: int) -> tuple | None:
        """The values of ``row`` if its window is loaded (else schedules it and returns None)."""
        start = row - row % self.window
        rows = self._windows.get(start)
        if rows is None:
            self._request(start)
            return None
        self._windows.move_to_end(start)
        offset = row - start
        return rows[offset] if offset < len(rows) else None

    def _request(self, start: int) -> None:
        if start in self._pending or self.state is None:
            return
        self._pending.add(start)
        gen = self._generation
        submit(
            fetch_window, self.state.frame, start, self.window,
            on_done=lambda rows, s=start, g=gen: self._arrived(g, s, rows),
            on_error=lambda msg, exc, s=start: (self._pending.discard(s), self.failed.emit(msg)),
            owner=self,
        )  # fmt: skip

    def _arrived(self, generation: int, start: int, rows: list[tuple]) -> None:
        if generation != self._generation:
            return
        self._pending.discard(start)
        self._windows[start] = rows
        while len(self._windows) > MAX_WINDOWS:
            self._windows.popitem(last=False)
        last = min(start + len(rows), self.rowCount()) - 1
        if last >= start:
            self.dataChanged.emit(self.index(start, 0), self.index(last, self.columnCount() - 1))
        self.window_loaded.emit(start)

    @property
    def windows_loaded(self) -> list[int]:
        """First rows of the windows held in memory."""
        return list(self._windows)

    # -- Qt model ----------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        """Rows of the query (all of them; cells load on demand)."""
        return 0 if parent.isValid() or self.state is None else self.state.count

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        """Columns of the query."""
        return 0 if parent.isValid() or self.state is None else len(self.state.columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text ("…" until its window arrives); numbers right-aligned."""
        if not index.isValid() or self.state is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            values = self.row_values(index.row())
            return "…" if values is None else format_cell(values[index.column()])
        if role == Qt.ItemDataRole.TextAlignmentRole:
            dtype = self.state.dtypes[index.column()]
            if dtype.startswith(("Int", "UInt", "Float", "Decimal")):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column name and dtype; row numbers."""
        if role != Qt.ItemDataRole.DisplayRole or self.state is None:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if 0 <= section < len(self.state.columns):
                return f"{self.state.columns[section]}\n{self.state.dtypes[section]}"
            return None
        return str(section)
