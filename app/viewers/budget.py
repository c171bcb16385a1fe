"""The size guard: what a preview may read without the user asking, and what a load would cost."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ..formatting import human_size as _human_size

#: Default byte budget of one preview (overridable with ``STORESCOPE_PREVIEW_BUDGET`` in bytes).
DEFAULT_BUDGET = 64 * 1024 * 1024


def human_size(n: int | float | None) -> str:
    """``2469606195`` → ``"2.3 GiB"``; ``None`` → ``"?"``."""
    return _human_size(n, unknown="?")


@dataclass
class Budget:
    """A byte budget shared by every viewer (text, tables, images, arrays)."""

    max_bytes: int = DEFAULT_BUDGET

    @classmethod
    def from_env(cls) -> Budget:
        """The budget from ``STORESCOPE_PREVIEW_BUDGET`` (bytes), else the default."""
        raw = os.environ.get("STORESCOPE_PREVIEW_BUDGET", "")
        try:
            return cls(max(4096, int(raw)))
        except ValueError:
            return cls()

    def fits(self, cost: int | None) -> bool:
        """True when a load of ``cost`` bytes may run without asking (unknown cost never fits)."""
        return cost is not None and cost <= self.max_bytes

    def unlimited(self) -> Budget:
        """The budget of a load the user asked for explicitly ("load full")."""
        return Budget(1 << 62)


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


class TaskKeeper:
    """Holds worker tasks until they have finished, and releases them on the GUI thread.

    A task whose last reference goes away on its worker thread would delete its
    Qt signal object there, while queued deliveries may still point at it;
    keeping the reference here makes the release happen on the GUI thread, at
    the next submit after the task finished.
    """

    def __init__(self) -> None:
        self._tasks: list = []

    def keep(self, task: object) -> object:
        """Hold ``task`` (returned) and drop the finished ones held before."""
        self._tasks = [t for t in self._tasks if not t.finished.is_set()]  # type: ignore[attr-defined]
        self._tasks.append(task)
        return task


#: the keeper the preview's viewers share
KEEPER = TaskKeeper()
