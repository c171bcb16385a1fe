"""Non-numeric arrays as tables a person reads: strings, records, enums, references, variable-length sequences.

Runs on a worker.  Compound records get one column per field (nested fields
as ``pos.x``), every value is written as text by storecore's
:func:`~storecore.containers.values.format_value` (bytes decoded, enums by
label, booleans as true/false), and no more rows than the budget allows are read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .budget import Budget

#: columns shown for a 2-D array of strings/records (one per index of the last axis)
MAX_COLUMNS = 256
#: bytes one object value (a string, a sequence) is assumed to take, for the row budget
OBJECT_ITEM_BYTES = 64


def _flat_fields(dtype: np.dtype, prefix: str = "") -> list[tuple[str, tuple[str, ...]]]:
    """``(column name, field path)`` for every leaf field of a (nested) compound dtype."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for name in dtype.names or ():
        sub = dtype.fields[name][0]
        if sub.names:
            out += [(f"{prefix}{name}.{label}", (name, *path)) for label, path in _flat_fields(sub)]
        else:
            out.append((f"{prefix}{name}", (name,)))
    return out


#: the numpy unit each datetime64/timedelta64 unit is converted to for polars (which takes D, ms, us and ns only):
#: exact for every unit listed; others (ps, fs, as, and months or years of a duration) are shown as text
_POLARS_TIME_UNITS = {"M": {"Y": "D", "M": "D", "W": "D", "D": "D", "h": "ms", "m": "ms", "s": "ms"},
                      "m": {"W": "ms", "D": "ms", "h": "ms", "m": "ms", "s": "ms"}}


def _python_dates(arr: np.ndarray) -> bool:
    """Whether every datetime in ``arr`` lies in years 1–9999, which Python's ``datetime`` (and so polars, when a
    cell is shown) can hold: polars panics on years outside them."""
    if arr.dtype.kind != "M":
        return True
    years = arr[~np.isnat(arr)].astype("M8[Y]")  # (to years: a cast that never overflows, unlike one to finer units)
    return not years.size or (years.min() >= np.datetime64("0001", "Y") and years.max() <= np.datetime64("9999", "Y"))


def _temporal_series(name: str, arr: np.ndarray) -> Any:
    """A datetime64/timedelta64 column as polars dates, datetimes or durations (NaT as null), sortable as times.

    Written as text by ``format_value`` they came out as integers (``datetime64[ns]`` items are ints) and NaT as
    ``None``; units polars cannot hold, or values that do not survive the unit change, are shown as numpy's text.
    """
    import polars as pl

    arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)
    unit = np.datetime_data(arr.dtype)[0]
    target = unit if unit in ("ms", "us", "ns") else _POLARS_TIME_UNITS[arr.dtype.kind].get(unit)
    if target is not None and _python_dates(arr):
        converted = arr.astype(f"{arr.dtype.kind}8[{target}]")
        if np.array_equal(converted.astype(arr.dtype).view(np.int64), arr.view(np.int64)):
            return pl.Series(name, converted)
    text = np.datetime_as_string(arr) if arr.dtype.kind == "M" else np.array([str(v) for v in arr], dtype=object)
    return pl.Series(name, [str(v) for v in text], dtype=pl.String)


def _series(name: str, values: Any, labels: dict[int, str] | None = None) -> Any:
    """One column: numbers stay numbers (they sort as numbers), times stay times; everything else is text."""
    import polars as pl

    from storecore.containers.values import format_value

    arr = np.asarray(values)
    if labels is None and arr.ndim == 1 and arr.dtype.kind in "biuf" and arr.dtype.itemsize <= 8:
        return pl.Series(name, arr.astype(arr.dtype.newbyteorder("=")))
    if arr.ndim == 1 and arr.dtype.kind in "mM":
        return _temporal_series(name, arr)
    return pl.Series(name, [format_value(v, enum_labels=labels) for v in arr], dtype=pl.String)


def rows_that_fit(node: Any, budget: Budget) -> int:
    """How many leading rows of ``node`` fit the preview budget."""
    shape = node.shape or ()
    row_items = math.prod(shape[1:]) if len(shape) > 1 else 1
    itemsize = max(node.dtype.itemsize if node.dtype is not None else 8, OBJECT_ITEM_BYTES)
    return max(1, budget.max_bytes // max(1, row_items * itemsize))


def values_frame(node: Any, budget: Budget) -> tuple[Any, str]:
    """A polars LazyFrame of ``node``'s values as text columns, and a note when rows were left out."""
    import polars as pl

    shape = tuple(node.shape or ())
    labels = getattr(node, "enum_labels", None)
    if not shape:
        data = np.asarray(node.read_slice(()))
        n, rows, guard = 1, 1, ""
        data = data.reshape(1)
    else:
        n = shape[0]
        rows = min(n, rows_that_fit(node, budget))
        sel: tuple = (slice(0, rows),)
        if len(shape) > 1:
            sel += (slice(0, min(shape[1], MAX_COLUMNS)),) + (0,) * (len(shape) - 2)
        data = np.asarray(node.read_slice(sel))
        guard = f"Showing the first {rows:,} of {n:,} rows." if rows < n else ""
        if len(shape) > 2:
            guard = (guard + " " if guard else "") + "Showing the plane at index 0 of the axes past the second."
        if len(shape) > 1 and shape[1] > MAX_COLUMNS:
            guard = (guard + " " if guard else "") + f"Showing the first {MAX_COLUMNS} of {shape[1]:,} columns."
    columns: list[Any] = []
    if data.dtype.names:
        flat = data.reshape(data.shape[0], -1)[:, 0] if data.ndim > 1 else data
        for label, path in _flat_fields(data.dtype):
            values = flat
            for part in path:
                values = values[part]
            columns.append(_series(label, values))
    elif data.ndim == 1:
        columns.append(_series("value", data, labels))
    else:
        columns += [_series(str(j), data[:, j], labels) for j in range(data.shape[1])]
    return pl.DataFrame(columns).lazy(), guard
