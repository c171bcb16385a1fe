"""The size guard: what a preview may read without the user asking, and what a load would cost."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from storecore.tuning import parse_size

log = logging.getLogger(__name__)

#: Default byte budget of one preview (overridable with ``STORESCOPE_PREVIEW_BUDGET``: ``1GiB``, ``500MB``, bytes).
DEFAULT_BUDGET = 64 * 1024 * 1024
#: the smallest budget taken from the environment
MIN_BUDGET = 4096
BUDGET_ENV = "STORESCOPE_PREVIEW_BUDGET"
#: the frame budget (see :class:`Budget`) is this many preview budgets unless set (64 MiB -> 512 MiB)
FRAME_FACTOR = 8
#: most tiles (chunks) a frame may stream without a click
FRAME_TILES = 64
#: frame budget from the environment (``STORESCOPE_FRAME_BUDGET``: ``1GiB``, ``500MB``, bytes)
FRAME_ENV = "STORESCOPE_FRAME_BUDGET"
@dataclass
class Budget:
    """A byte budget shared by every viewer (text, tables, images, arrays).

    ``warning`` says why a value from the environment was not used (empty when it was, or none was set).

    ``frame_bytes`` / ``frame_tiles``: a plane whose chunks decode past
    ``max_bytes`` but within these keeps streaming tile by tile until the
    frame is complete, without a click; beyond them the size guard offers
    "Load full plane".  When not given, ``frame_bytes`` is ``FRAME_FACTOR``
    times the default (or environment) budget, and equal to any other
    explicit ``max_bytes`` (an explicit small budget means small reads).
    """

    max_bytes: int = DEFAULT_BUDGET
    warning: str = ""
    frame_bytes: int | None = None
    frame_tiles: int = FRAME_TILES

    def __post_init__(self) -> None:
        if self.frame_bytes is None:
            self.frame_bytes = self.max_bytes * FRAME_FACTOR if self.max_bytes == DEFAULT_BUDGET else self.max_bytes
        self.frame_bytes = max(self.frame_bytes, self.max_bytes)

    def frame_fits(self, nbytes: int, tiles: int) -> bool:
        """True when a frame decoding ``nbytes`` in ``tiles`` reads may stream to completion without asking."""
        return nbytes <= (self.frame_bytes or 0) and tiles <= self.frame_tiles

    @classmethod
    def from_env(cls) -> Budget:
        """The budget from ``STORESCOPE_PREVIEW_BUDGET`` (``1GiB``, ``500MB``, bytes), else the default.

        An unreadable value is not silently dropped: it is logged and kept in ``warning`` (the window
        shows it in the status bar).
        """
        raw = os.environ.get(BUDGET_ENV, "").strip()
        frame = _frame_from_env()
        if not raw:
            return cls() if frame is None else cls(frame_bytes=frame)
        try:
            wanted = parse_size(raw)
        except ValueError as e:
            warning = f"{BUDGET_ENV} ignored: {e}; using {DEFAULT_BUDGET // 1024**2} MiB"
            log.warning("%s", warning)
            return cls(DEFAULT_BUDGET, warning, frame)
        if wanted < MIN_BUDGET:
            warning = f"{BUDGET_ENV}={raw} is below the minimum: using {MIN_BUDGET} bytes"
            log.warning("%s", warning)
            return cls(MIN_BUDGET, warning, frame)
        return cls(wanted, "", wanted * FRAME_FACTOR if frame is None else frame)

    def fits(self, cost: int | None) -> bool:
        """True when a load of ``cost`` bytes may run without asking (unknown cost never fits)."""
        return cost is not None and cost <= self.max_bytes

    def unlimited(self) -> Budget:
        """The budget of a load the user asked for explicitly ("load full")."""
        return Budget(1 << 62)


def _frame_from_env() -> int | None:
    """``STORESCOPE_FRAME_BUDGET`` in bytes, None when unset or unreadable (logged)."""
    raw = os.environ.get(FRAME_ENV, "").strip()
    if not raw:
        return None
    try:
        return max(MIN_BUDGET, parse_size(raw))
    except ValueError as e:
        log.warning("%s ignored: %s", FRAME_ENV, e)
        return None


def array_bytes(shape: Sequence[int], itemsize: int) -> int:
    """In-memory bytes of an array of ``shape``."""
    return int(math.prod(shape)) * int(itemsize)


def touched_chunks(shape: Sequence[int], chunks: Sequence[int] | None, selection: Sequence[object]) -> list[tuple]:
    """The chunk grid coordinates a selection of ints and slices touches.

    Contiguous arrays (``chunks`` None) count as one chunk per selection.
    """
    if not chunks:
        return [()]
    ranges: list[range] = []
    for dim, chunk, sel in zip(shape, chunks, selection, strict=False):
        chunk = max(1, int(chunk))
        if isinstance(sel, slice):
            start, stop, step = sel.indices(dim)
            if stop <= start:
                return []
            if step >= chunk:
                ranges.append(sorted({i // chunk for i in range(start, stop, step)}))  # type: ignore[arg-type]
            else:
                ranges.append(range(start // chunk, (stop - 1) // chunk + 1))
        else:
            ranges.append(range(int(sel) // chunk, int(sel) // chunk + 1))  # type: ignore[call-overload]
    for dim, chunk in list(zip(shape, chunks, strict=False))[len(selection) :]:
        ranges.append(range(0, math.ceil(dim / max(1, chunk))))
    out: list[tuple] = [()]
    for r in ranges:
        out = [t + (i,) for t in out for i in r]
    return out


def touched_chunk_count(shape: Sequence[int], chunks: Sequence[int] | None, selection: Sequence[object]) -> int:
    """How many chunks a selection touches, counted in O(1) per axis (never enumerated, unlike :func:`touched_chunks`)."""
    if not chunks:
        return 1
    count = 1
    for ax, (dim, chunk) in enumerate(zip(shape, chunks, strict=False)):
        chunk = max(1, int(chunk))
        sel = selection[ax] if ax < len(selection) else slice(None)
        if not isinstance(sel, slice):
            continue
        r = range(*sel.indices(dim))
        if not len(r):
            return 0
        count *= len(r) if r.step >= chunk else r[-1] // chunk - r.start // chunk + 1
    return count


def selection_cost(shape: Sequence[int], chunks: Sequence[int] | None, itemsize: int, selection: Sequence[object]) -> int:
    """Bytes decoded to read ``selection``: whole chunks for chunked arrays, else the selected items."""
    if chunks:
        return touched_chunk_count(shape, chunks, selection) * array_bytes(chunks, itemsize)
    sizes = []
    for dim, sel in zip(shape, selection, strict=False):
        sizes.append(len(range(*sel.indices(dim))) if isinstance(sel, slice) else 1)
    sizes.extend(shape[len(selection) :])
    return array_bytes(sizes, itemsize)
