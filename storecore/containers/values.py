"""Values as a person reads them: what kind of values an array holds, and how one value is written as text.

Shared by the CLI (``storescope cat``), the preview pane's readouts and tables,
and copy/paste: ``65535``, not ``np.uint16(65535)``; ``true``, not ``np.True_``;
bytes decoded (UTF-8, then Latin-1); enums by label; compound values field by field.
"""

from __future__ import annotations

from typing import Any

#: what an array's values are, for choosing how to show them
VALUE_KINDS = (
    "numeric", "bool", "string", "enum", "compound", "reference", "vlen", "datetime", "opaque", "object",
)  # fmt: skip


def value_kind_of_dtype(dtype: Any) -> str:
    """The :data:`VALUE_KINDS` entry for a numpy dtype (formats with richer type info refine it)."""
    if dtype is None:
        return "object"
    if dtype.names:
        return "compound"
    return {
        "b": "bool", "i": "numeric", "u": "numeric", "f": "numeric", "c": "numeric", "S": "string", "U": "string",
        "T": "string", "M": "datetime", "m": "datetime", "V": "opaque",
    }.get(dtype.kind, "object")  # fmt: skip


def is_plottable(kind: str) -> bool:
    """True for values a plot can show as numbers."""
    return kind in ("numeric", "bool", "enum")


def decode_legacy(raw: bytes) -> str:
    """Text that is not UTF-8 as Western systems write it: Windows-1252 (Latin-1 with ``€``, curly quotes… in
    0x80–0x9F), else Latin-1 (a byte Windows-1252 leaves undefined; Latin-1 never fails)."""
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def decode_text(data: bytes | bytearray | memoryview) -> str:
    """Bytes as text: UTF-8 when valid, else :func:`decode_legacy`; trailing NULs dropped."""
    raw = bytes(data).rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return decode_legacy(raw)


def format_value(value: Any, *, enum_labels: dict[int, str] | None = None, precision: int | None = None) -> str:
    """One value as text: numbers plainly, booleans as ``true``/``false``, bytes decoded, records field by field."""
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return format_value(value[()], enum_labels=enum_labels, precision=precision)
        return "[" + ", ".join(format_value(v, enum_labels=enum_labels, precision=precision) for v in value) + "]"
    if isinstance(value, np.void) and value.dtype.names:
        fields = (f"{name}: {format_value(value[name], precision=precision)}" for name in value.dtype.names)
        return "{" + ", ".join(fields) + "}"
    if isinstance(value, bytes | bytearray | memoryview):
        return decode_text(value)
    if isinstance(value, np.void):
        return bytes(value).hex()
    if isinstance(value, np.datetime64 | np.timedelta64):
        # .item() gives nanosecond times as bare integers (and NaT as None): numpy's own text says what they are
        if np.isnat(value):
            return "NaT"
        return np.datetime_as_string(value) if isinstance(value, np.datetime64) else str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if enum_labels is not None and isinstance(value, int) and value in enum_labels:
        return enum_labels[value]
    if isinstance(value, float):
        return repr(value) if precision is None else f"{value:.{precision}g}"
    if isinstance(value, complex):
        return str(value) if precision is None else f"{value:.{precision}g}"
    if isinstance(value, bytes):
        return decode_text(value)
    return str(value)


__all__ = ["VALUE_KINDS", "decode_legacy", "decode_text", "format_value", "is_plottable", "value_kind_of_dtype"]
