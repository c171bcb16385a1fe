"""What a find matches: the criteria, how each one is tested, and parsers for their text forms.

Every criterion is optional and they combine with AND.  Files and folders
carry a name, path, size and modification time; container nodes (groups and
arrays inside Zarr stores and HDF5 files) add shape, dtype and attributes.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import functools
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgument
from ..logs import describe

logger = logging.getLogger(__name__)

KINDS = ("file", "dir", "group", "array")
NODE_KINDS = frozenset({"group", "array"})
_GLOB_CHARS = re.compile(r"[*?\[]")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([kmgtp]?)(i?b?)\s*$", re.I)


def json_safe(value: Any) -> Any:
    """Turn attribute values (numpy scalars/arrays, bytes, tuples) into plain JSON-safe Python."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return json_safe(tolist())
    return str(value)


def parse_size(text: str | int | float | None) -> int | None:
    """``"10k"``/``"5MiB"``/``"1.5G"``/``1024`` → bytes (binary multiples); ``None`` stays ``None``."""
    if text is None or isinstance(text, int | float):
        return None if text is None else int(text)
    m = _SIZE_RE.match(str(text))
    if not m:
        raise InvalidArgument(f"invalid size {text!r} (use e.g. 512, 10k, 5M, 1.5G)")
    factor = 1024 ** "_kmgtp".index(m.group(2).lower() or "_")
    return int(float(m.group(1)) * factor)


def parse_shape(text: str | tuple | list | None) -> tuple | None:
    """Parse a shape pattern: ``"(…, 2048, 2048)"``, ``"*,2048,2048"``, ``"None,3"``.

    ``*``/``None``/``?`` is one dimension of any length; ``...``/``…`` any
    number of dimensions (at most one).  Tuples pass through after checking.
    """
    if text is None:
        return None
    if isinstance(text, tuple | list):
        return _check_shape(tuple(text))
    body = str(text).strip().strip("()[]").strip()
    if not body:
        return ()
    out: list[Any] = []
    for part in body.split(","):
        part = part.strip()
        if part == "" and len(out) > 0:
            continue  # trailing comma, as in "(3,)"
        if part in ("*", "?", "None", "none", "_"):
            out.append(None)
        elif part in ("...", "…", "Ellipsis"):
            out.append(Ellipsis)
        else:
            try:
                out.append(int(part))
            except ValueError:
                raise InvalidArgument(f"invalid shape pattern {text!r}: {part!r} is not a length, '*' or '...'") from None
    return _check_shape(tuple(out))


def _check_shape(shape: tuple) -> tuple:
    if sum(1 for s in shape if s is Ellipsis) > 1:
        raise InvalidArgument(f"shape pattern {shape!r} has more than one '...'")
    for s in shape:
        if not (s is None or s is Ellipsis or (isinstance(s, int) and not isinstance(s, bool) and s >= 0)):
            raise InvalidArgument(f"invalid shape pattern {shape!r}: use lengths, None or ...")
    return shape


def shape_matches(pattern: tuple, shape: tuple) -> bool:
    """True when ``shape`` fits ``pattern`` (``None`` = any length, ``...`` = any dimensions)."""
    if Ellipsis in pattern:
        i = pattern.index(Ellipsis)
        head, tail = pattern[:i], pattern[i + 1 :]
        if len(shape) < len(head) + len(tail):
            return False
        return shape_matches(head, shape[: len(head)]) and shape_matches(tail, shape[len(shape) - len(tail) :])
    return len(pattern) == len(shape) and all(p is None or p == s for p, s in zip(pattern, shape, strict=True))


def parse_attr_value(text: str) -> Any:
    """A command-line attribute value: JSON when it parses (``5``, ``true``, ``[1,2]``), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_attrs(items: Iterable[str]) -> dict[str, Any]:
    """``["sample=LK-*", "exposure=0.5"]`` → ``{"sample": "LK-*", "exposure": 0.5}``; ``key`` alone = present."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key.strip():
            raise InvalidArgument(f"invalid attribute criterion {item!r} (use key=value)")
        out[key.strip()] = parse_attr_value(value) if sep else ...
    return out


def value_matches(want: Any, value: Any) -> bool:
    """One attribute test: predicate, ``...`` (present), glob for strings, else equality."""
    if want is ...:
        return True
    if callable(want):
        try:
            return bool(want(value))
        except Exception as exc:  # a predicate that cannot handle this value does not match
            logger.debug("value_matches: caught %s", describe(exc))
            return False
    if isinstance(want, str):
        text = value if isinstance(value, str) else json.dumps(value) if not isinstance(value, float) else repr(value)
        if _GLOB_CHARS.search(want):
            return fnmatch.fnmatchcase(text, want)
        return text == want
    if isinstance(want, bool) or isinstance(value, bool):
        return type(want) is type(value) and want == value
    if isinstance(want, int | float) and isinstance(value, int | float):
        return want == value
    return json_safe(want) == value


def _to_timestamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.astimezone()
        return value.timestamp()
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day).astimezone().timestamp()
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return _to_timestamp(_dt.datetime.fromisoformat(value))
        except ValueError:
            raise InvalidArgument(f"invalid date {value!r} (use ISO 8601, e.g. 2024-05-01 or 2024-05-01T12:00)") from None
    raise InvalidArgument(f"invalid modified_after {value!r}: a datetime, date, ISO text or POSIX seconds")


def _dtype_test(spec: Any) -> Callable[[Any], bool] | None:
    """Turn a dtype criterion into a test on a numpy dtype (or None when the node has none)."""
    if spec is None:
        return None
    if callable(spec) and not isinstance(spec, type):
        return lambda dt: dt is not None and bool(spec(dt))
    specs = list(spec) if isinstance(spec, list | tuple | set | frozenset) else [spec]
    tests: list[Callable[[Any], bool]] = []
    for s in specs:
        want = _as_dtype(s)
        if want is None and isinstance(s, str) and _GLOB_CHARS.search(s):
            # the name numpy gives too: a big-endian float64 is '>f8' as text, 'float64' by name
            tests.append(functools.partial(_glob_matches, s))
            continue
        if want is None:
            raise InvalidArgument(f"invalid dtype criterion {s!r} (use e.g. float32, '<f4', 'int*')")
        if isinstance(s, str) and s[:1] in "<>":  # a byte order spelled out: that one only
            tests.append(functools.partial(_same_dtype, want))
        else:  # float64 finds big-endian float64 too (HDF5 and v2 Zarr files written on such machines)
            tests.append(functools.partial(_same_dtype_in_any_order, want))
    return lambda dt: dt is not None and any(t(dt) for t in tests)


def _glob_matches(pattern: str, dt: Any) -> bool:
    """A dtype by any of its names: a big-endian float64 is '>f8' as text, 'float64' by name."""
    return any(fnmatch.fnmatchcase(t, pattern) for t in (str(dt), dt.str, dt.name))


def _same_dtype(want: Any, dt: Any) -> bool:
    return bool(dt == want)


def _same_dtype_in_any_order(want: Any, dt: Any) -> bool:
    return bool(dt == want or (dt.byteorder in "<>" and dt.newbyteorder("=") == want))


def _as_dtype(spec: Any) -> Any:
    """``spec`` as a numpy dtype, or None when numpy reads no dtype in it (then it may be a glob: ``int*``).

    Tried before the glob: ``datetime64[s]`` is a dtype, not ``datetime64`` followed by a class of one letter."""
    import numpy as np

    try:
        return np.dtype(spec)
    except (TypeError, ValueError, SyntaxError):
        return None


@dataclass
class Criteria:
    """The parsed criteria of one :func:`storecore.find` call; :meth:`match` tests one candidate."""

    name: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    kinds: frozenset[str] = frozenset(KINDS)
    min_size: int | None = None
    max_size: int | None = None
    modified_after: float | None = None
    dtype: Callable[[Any], bool] | None = None
    shape: tuple | Callable[[tuple], bool] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        name: str | Iterable[str] | None = None,
        path: str | Iterable[str] | None = None,
        kind: str | Iterable[str] | None = None,
        min_size: int | str | None = None,
        max_size: int | str | None = None,
        modified_after: Any = None,
        dtype: Any = None,
        shape: Any = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> Criteria:
        """Check and normalise the keyword arguments of ``find``; bad ones raise ``InvalidArgument``."""
        kinds = frozenset(KINDS)
        if kind is not None:
            kinds = frozenset([kind] if isinstance(kind, str) else kind)
            bad = kinds - set(KINDS)
            if bad or not kinds:
                raise InvalidArgument(f"invalid kind {sorted(bad) or kind!r}: choose from {', '.join(KINDS)}")
        if attrs is not None and not isinstance(attrs, Mapping):
            raise InvalidArgument("attrs must be a mapping of attribute name to value, glob or predicate")
        if shape is not None and not callable(shape):
            shape = parse_shape(shape)
        lo, hi = parse_size(min_size), parse_size(max_size)
        if lo is not None and hi is not None and lo > hi:
            raise InvalidArgument(f"min_size {lo} is larger than max_size {hi}")
        return cls(
            name=_patterns(name),
            path=_patterns(path),
            kinds=kinds,
            min_size=lo,
            max_size=hi,
            modified_after=_to_timestamp(modified_after),
            dtype=_dtype_test(dtype),
            shape=shape,
            attrs=dict(attrs or {}),
        )

    # what the walk may skip --------------------------------------------------
    @property
    def nodes_only(self) -> bool:
        """True when only groups/arrays can match (shape, dtype or attributes asked for)."""
        return bool(self.attrs) or self.shape is not None or self.dtype is not None or not (self.kinds - NODE_KINDS)

    @property
    def wants_nodes(self) -> bool:
        """True when container nodes can match at all."""
        return bool(self.kinds & NODE_KINDS)

    @property
    def wants_attrs(self) -> bool:
        """True when attribute values must be read."""
        return bool(self.attrs)

    # the test ----------------------------------------------------------------
    def match(
        self,
        *,
        kind: str,
        name: str,
        relpath: str,
        size: int | None,
        mtime: float | None,
        shape: tuple | None = None,
        dtype: Any = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """The matching attributes (``{}`` when none were asked for) if everything matches, else ``None``."""
        if kind not in self.kinds:
            return None
        if self.name and not any(fnmatch.fnmatchcase(name, p) for p in self.name):
            return None
        if self.path and not any(fnmatch.fnmatchcase(relpath, p) for p in self.path):
            return None
        if self.min_size is not None and (size is None or size < self.min_size):
            return None
        if self.max_size is not None and (size is None or size > self.max_size):
            return None
        if self.modified_after is not None and (mtime is None or mtime <= self.modified_after):
            return None
        if self.shape is not None:
            if kind != "array" or shape is None:
                return None
            ok = self.shape(shape) if callable(self.shape) else shape_matches(self.shape, tuple(shape))
            if not ok:
                return None
        if self.dtype is not None and (kind != "array" or not self.dtype(dtype)):
            return None
        if not self.attrs:
            return {}
        if kind not in NODE_KINDS or attrs is None:
            return None
        matched: dict[str, Any] = {}
        for key, want in self.attrs.items():
            if key not in attrs or not value_matches(want, attrs[key]):
                return None
            matched[key] = attrs[key]
        return matched


def _patterns(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)
