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


def _series(name: str, values: Any, labels: dict[int, str] | None = None) -> Any:
    """One column: numbers stay numbers (they sort as numbers); everything else is text."""
    import polars as pl

    from storecore.containers.values import format_value

    arr = np.asarray(values)
    if labels is None and arr.ndim == 1 and arr.dtype.kind in "biuf" and arr.dtype.itemsize <= 8:
        return pl.Series(name, arr.astype(arr.dtype.newbyteorder("=")))
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
