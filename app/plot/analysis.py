"""Analysis helpers of the slice plot, free of Qt: colour scales, line profiles, statistics, copy as text.

Everything here is plain numpy.  :func:`array_stats` is the only one that
reads: it runs on a worker, block by block, within a byte budget, and can be
cancelled between blocks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCALES = ["linear", "log", "sqrt", "symlog"]
#: ``array_stats`` reads blocks of about this many bytes (whole chunks, merged along the last axes)
BLOCK_BYTES = 4 * 1024 * 1024
#: a slice copied as text holds at most this many values (a spreadsheet takes no more anyway)
MAX_COPY_VALUES = 1_000_000


# -- colour scales -------------------------------------------------------------------------
def apply_scale(values: np.ndarray, scale: str, threshold: float = 1.0) -> tuple[np.ndarray, int]:
    """``values`` mapped for display by ``scale``, and how many finite values the scale cannot show.

    ``log`` is ``log10`` with values ≤ 0 as NaN (counted); ``sqrt`` is the square root
    with negative values as NaN (counted); ``symlog`` is ``sign(v)·log10(1 + |v|/threshold)``:
    linear within ±threshold, logarithmic beyond, defined everywhere.
    """
    if scale == "linear":
        return values, 0
    v = np.asarray(values, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        if scale == "log":
            bad = v <= 0
            out = np.log10(np.where(bad, np.nan, v))
        elif scale == "sqrt":
            bad = v < 0
            out = np.sqrt(np.where(bad, np.nan, v))
        elif scale == "symlog":
            t = float(threshold) if threshold and threshold > 0 else 1.0
            return (np.sign(v) * np.log10(1.0 + np.abs(v) / t)).astype(np.float32), 0
        else:
            raise ValueError(f"unknown colour scale {scale!r}")
    return out.astype(np.float32, copy=False), int(np.count_nonzero(bad))


def scale_label(scale: str, label: str, threshold: float = 1.0) -> str:
    """The colour bar's title under ``scale`` (``log10(counts)``)."""
    name = label or "value"
    return {"linear": label, "log": f"log10({name})", "sqrt": f"sqrt({name})",
            "symlog": f"symlog({name}, {threshold:g})"}.get(scale, label)  # fmt: skip


# -- line profile ----------------------------------------------------------------------------
def sample_line(values: np.ndarray, p0: Sequence[float], p1: Sequence[float], n: int | None = None,
                method: str = "nearest") -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Values of a 2-D array sampled along the segment ``p0 → p1`` (``(row, col)`` in pixel-centre units).

    Returns ``(distance, values)``: ``n`` samples (one per pixel of length when
    None, at most 10,000), ``nearest`` or ``bilinear``; samples outside the array are NaN.
    """
    (r0, c0), (r1, c1) = (float(p0[0]), float(p0[1])), (float(p1[0]), float(p1[1]))
    length = math.hypot(r1 - r0, c1 - c0)
    if n is None:
        n = int(math.ceil(length)) + 1
    n = max(2, min(int(n), 10_000))
    t = np.linspace(0.0, 1.0, n)
    rows, cols = r0 + t * (r1 - r0), c0 + t * (c1 - c0)
    distance = t * length
    a = np.asarray(values, dtype=np.float64)
    h, w = a.shape
    out = np.full(n, np.nan)
    if method == "nearest":
        ri, ci = np.floor(rows + 0.5).astype(np.int64), np.floor(cols + 0.5).astype(np.int64)
        ok = (ri >= 0) & (ri < h) & (ci >= 0) & (ci < w)
        out[ok] = a[ri[ok], ci[ok]]
        return distance, out
    if method != "bilinear":
        raise ValueError(f"unknown interpolation {method!r}")
    ok = (rows >= 0) & (rows <= h - 1) & (cols >= 0) & (cols <= w - 1)
    r, c = rows[ok], cols[ok]
    ra, ca = (
        np.minimum(np.floor(r).astype(np.int64), max(0, h - 2)),
        np.minimum(np.floor(c).astype(np.int64), max(0, w - 2)),
    )
    rb, cb = np.minimum(ra + 1, h - 1), np.minimum(ca + 1, w - 1)
    fr, fc = r - ra, c - ca
    top = a[ra, ca] * (1 - fc) + a[ra, cb] * fc
    bottom = a[rb, ca] * (1 - fc) + a[rb, cb] * fc
    out[ok] = top * (1 - fr) + bottom * fr
    return distance, out


# -- statistics ---------------------------------------------------------------------------------
@dataclass
class Stats:
    """Summary of a set of values (NaN and ±inf counted apart, the rest over the finite values)."""

    count: int = 0  #: all values, NaN and inf included
    finite: int = 0
    nan: int = 0
    inf: int = 0
    min: float = math.nan
    max: float = math.nan
    sum: float = 0.0
    mean: float = math.nan
    m2: float = 0.0  #: sum of squared deviations from the mean (merged as Chan et al.)
    #: for whole-array statistics: elements read, of how many, and why it stopped early
    read: int = 0
    total: int = 0
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def std(self) -> float:
        """Population standard deviation of the finite values."""
        return math.sqrt(self.m2 / self.finite) if self.finite else math.nan

    @property
    def bounded(self) -> bool:
        """True when only part of the values were read."""
        return self.total > 0 and self.read < self.total

    def merge(self, other: Stats) -> None:
        """Add ``other``'s values to these (parallel variance merge: no catastrophic cancellation)."""
        self.count += other.count
        self.nan += other.nan
        self.inf += other.inf
        if other.finite:
            if self.finite:
                n = self.finite + other.finite
                delta = other.mean - self.mean
                self.mean += delta * other.finite / n
                self.m2 += other.m2 + delta * delta * self.finite * other.finite / n
                self.min, self.max = min(self.min, other.min), max(self.max, other.max)
                self.finite = n
            else:
                self.finite, self.mean, self.m2, self.min, self.max = (
                    other.finite,
                    other.mean,
                    other.m2,
                    other.min,
                    other.max,
                )
            self.sum += other.sum

    def rows(self) -> list[tuple[str, str]]:
        """``(name, value)`` rows as shown (values as a person reads them)."""
        return [("min", fmt_number(self.min)), ("max", fmt_number(self.max)), ("mean", fmt_number(self.mean)),
                ("std", fmt_number(self.std)), ("sum", fmt_number(self.sum)), ("count", f"{self.count:,}"),
                ("NaN", f"{self.nan:,}"), ("inf", f"{self.inf:,}")]  # fmt: skip

    def text(self) -> str:
        """One line: ``min 0  max 65535  mean …``."""
        return "  ".join(f"{k} {v}" for k, v in self.rows())


def stats_of(values: np.ndarray) -> Stats:
    """:class:`Stats` of real (or bool/int) values; complex values must be reduced first."""
    a = np.asarray(values)
    if a.dtype == bool:
        a = a.astype(np.uint8)
    s = Stats(count=int(a.size))
    if a.dtype.kind == "f":
        finite_mask = np.isfinite(a)
        s.nan = int(np.count_nonzero(np.isnan(a)))
        s.inf = int(a.size - np.count_nonzero(finite_mask) - s.nan)
        f = a[finite_mask] if s.nan or s.inf else a.ravel()
    else:
        f = a.ravel()
    s.finite = int(f.size)
    if f.size:
        f64 = f.astype(np.float64, copy=False)
        s.min, s.max = float(f.min()), float(f.max())
        s.sum = float(f64.sum())
        s.mean = s.sum / f.size
        s.m2 = float(np.square(f64 - s.mean).sum())
    return s


def fmt_number(v: float) -> str:
    """``65535``, ``0.1234568``, ``nan``: integers without a decimal point, others to 7 digits."""
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.7g}"


def iter_blocks(shape: Sequence[int], chunks: Sequence[int] | None, itemsize: int,
                target: int = BLOCK_BYTES) -> Iterator[tuple[slice, ...]]:  # fmt: skip
    """Selections covering ``shape`` in C order: whole chunks, merged along the last axes up to ``target`` bytes."""
    shape = [int(s) for s in shape]
    if not shape:
        yield ()
        return
    if any(s == 0 for s in shape):
        return
    block = [max(1, int(c)) for c in chunks] if chunks and len(chunks) == len(shape) else [1] * len(shape)
    block = [min(b, s) for b, s in zip(block, shape, strict=True)]
    for ax in range(len(shape) - 1, -1, -1):  # grow from the last axis while within the target
        per = math.prod(block) * itemsize
        if per >= target:
            break
        block[ax] = min(shape[ax], block[ax] * max(1, target // per))
        if block[ax] < shape[ax]:
            break
    grid = [range(0, s, b) for s, b in zip(shape, block, strict=True)]

    def rec(ax: int, prefix: tuple[slice, ...]) -> Iterator[tuple[slice, ...]]:
        if ax == len(shape):
            yield prefix
            return
        for start in grid[ax]:
            yield from rec(ax + 1, (*prefix, slice(start, min(shape[ax], start + block[ax]))))

    yield from rec(0, ())


def array_stats(source: Any, budget: int, convert: Callable[[np.ndarray], np.ndarray] | None = None,
                token: Any = None) -> Stats:  # fmt: skip
    """Statistics of the whole array, read block by block (worker); stops after ``budget`` bytes.

    ``convert`` turns raw blocks into real values (complex mode, fill values);
    ``token`` (a :class:`~app.workers.CancelToken`) cancels between blocks and
    receives progress as ``(elements read, total)``.
    """
    shape = tuple(int(s) for s in source.shape)
    itemsize = int(source.dtype.itemsize) or 1
    total = math.prod(shape)
    result = Stats(total=total)
    read_bytes = 0
    for sel in iter_blocks(shape, source.chunks, itemsize, target=max(1, min(BLOCK_BYTES, budget // 4))):
        if token is not None and token.cancelled:
            result.note = "cancelled"
            break
        n = math.prod(s.stop - s.start for s in sel)
        if read_bytes and read_bytes + n * itemsize > budget:
            result.note = f"bounded by the budget: the first {result.read:,} of {total:,} values"
            break
        block = np.asarray(source.read(sel))
        read_bytes += n * itemsize
        result.merge(stats_of(convert(block) if convert is not None else block))
        result.read += n
        if token is not None:
            token.report((result.read, total))
    return result


# -- copy as text ----------------------------------------------------------------------------
def slice_text(values: np.ndarray, sep: str = "\t") -> str:
    """A 1-D or 2-D slice as delimited text, one row per line (``65535``, not ``65535.0``)."""
    a = np.asarray(values)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.dtype.kind in "iub":
        fmt = "%d"
        a = a.astype(np.int64) if a.dtype.kind == "b" else a
    elif a.dtype.kind == "f":
        fmt = "%.10g"
    else:
        return "\n".join(sep.join(str(v) for v in row) for row in a.tolist()) + "\n"
    import io

    buf = io.StringIO()
    np.savetxt(buf, a, delimiter=sep, fmt=fmt)
    return buf.getvalue()
