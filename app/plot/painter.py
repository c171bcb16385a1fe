"""Chunk-by-chunk plane reading: which chunks a view needs, a decoded-chunk cache, pyramid levels.

The slice plot never asks for "the plane" in one call: it reads the chunks
the plane touches one by one (on a worker) and paints each as it decodes, so
the first pixels show after one chunk, not after the whole plane.  Decoded
chunk boxes are kept in a byte-bounded LRU, so a slider step to a frame in
chunks already read is a memory copy, and moving back is instant.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .source import ArraySource

#: bytes of decoded chunks kept for instant slider steps
CHUNK_CACHE_BYTES = 256 * 1024 * 1024
#: longest side a plane is shown at before a stride (or a coarser pyramid level) is used
TARGET_SIDE = 2048


class ChunkCache:
    """A thread-safe, byte-bounded LRU of decoded arrays."""

    def __init__(self, max_bytes: int = CHUNK_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> np.ndarray | None:
        """The cached array or None."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self.hits += 1
            self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: np.ndarray) -> None:
        """Keep ``value`` (dropping the least recently used beyond the byte bound)."""
        if value.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = value
            self._bytes += value.nbytes
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return self._bytes


#: the process-wide decoded-chunk cache
CACHE = ChunkCache()


@dataclass(frozen=True)
class PlaneRequest:
    """A 1-D or 2-D view of an N-d array.

    ``axes`` are the shown axes (in display order: y, x); ``index`` has one
    entry per array axis (ignored on shown axes); ``step`` the stride per shown
    axis; ``region`` optional (start, stop) per shown axis in array coordinates.
    """

    axes: tuple[int, ...]
    index: tuple[int, ...]
    step: tuple[int, ...] = ()
    region: tuple[tuple[int, int], ...] = ()

    def ranges(self, shape: Sequence[int]) -> list[range]:
        """The array indices shown along each shown axis."""
        out = []
        for k, ax in enumerate(self.axes):
            step = self.step[k] if self.step else 1
            lo, hi = self.region[k] if self.region else (0, shape[ax])
            lo = int(math.ceil(lo / step) * step)
            out.append(range(lo, max(lo, min(hi, shape[ax])), step))
        return out

    def out_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Shape of the result."""
        return tuple(len(r) for r in self.ranges(shape))

    def selection(self, shape: Sequence[int]) -> tuple:
        """The full selection tuple (ints on hidden axes, slices on shown ones)."""
        sel: list[Any] = [int(i) for i in self.index]
        for ax, r in zip(self.axes, self.ranges(shape), strict=True):
            sel[ax] = slice(r.start, r.stop, r.step)
        return tuple(sel)


@dataclass
class Tile:
    """One chunk box and where its part of the plane goes."""

    key: tuple  # chunk grid coordinates
    box: tuple[slice, ...]  # the chunk's extent, all axes
    inner: tuple  # selection inside the box giving the tile's plane part
    out: tuple[slice, ...]  # where that part goes in the output plane
    nbytes: int


def plan_tiles(shape: Sequence[int], chunks: Sequence[int], req: PlaneRequest, itemsize: int) -> list[Tile]:
    """The chunk boxes a request touches, with their place in the output (row-major order)."""
    ranges = req.ranges(shape)
    per_axis: list[list[tuple[int, slice, Any, slice]]] = []
    for ax in range(len(shape)):
        c = max(1, int(chunks[ax]))
        if ax in req.axes:
            r = ranges[req.axes.index(ax)]
            parts = []
            if len(r):
                for g in range(r.start // c, (r[-1]) // c + 1):
                    lo, hi = g * c, min((g + 1) * c, shape[ax])
                    first = r.start + math.ceil(max(0, lo - r.start) / r.step) * r.step
                    if first >= hi or first >= r.stop:
                        continue
                    last = min(hi, r.stop)
                    n = len(range(first, last, r.step))
                    o0 = (first - r.start) // r.step
                    parts.append((g, slice(lo, hi), slice(first - lo, last - lo, r.step), slice(o0, o0 + n)))
            per_axis.append(parts)
        else:
            i = int(req.index[ax])
            g = i // c
            per_axis.append([(g, slice(g * c, min((g + 1) * c, shape[ax])), i - g * c, None)])
    tiles: list[Tile] = []
    combos: list[list] = [[]]
    for parts in per_axis:
        combos = [prev + [p] for prev in combos for p in parts]
    order = {ax: k for k, ax in enumerate(req.axes)}
    for combo in combos:
        key = tuple(p[0] for p in combo)
        box = tuple(p[1] for p in combo)
        inner = tuple(p[2] for p in combo)
        out = [slice(None)] * len(req.axes)
        for ax, p in enumerate(combo):
            if ax in order:
                out[order[ax]] = p[3]
        nbytes = math.prod(s.stop - s.start for s in box) * itemsize
        tiles.append(Tile(key, box, inner, tuple(out), nbytes))
    return tiles


def _place(part: np.ndarray, req: PlaneRequest) -> np.ndarray:
    """Reorder the shown axes of a tile part (array order) into display order."""
    kept = sorted(req.axes)
    perm = [kept.index(ax) for ax in req.axes]
    return part.transpose(perm) if perm != sorted(perm) else part


@dataclass
class PlaneResult:
    """A read plane (possibly partial when the budget stopped it)."""

    request: PlaneRequest
    data: np.ndarray
    complete: bool
    read_bytes: int
    needed_bytes: int
    level: int = 0
    chunks_read: list = field(default_factory=list)


def read_plane(
    source: ArraySource,
    req: PlaneRequest,
    *,
    budget: int,
    token: Callable[[], bool] | None = None,
    emit: Callable[[tuple, np.ndarray], None] | None = None,
    cache: ChunkCache | None = CACHE,
    level: int = 0,
) -> PlaneResult:
    """Read a plane tile by tile; ``emit(out_slices, part)`` after each tile (worker).

    Stops early when ``token()`` becomes true, or when the decoded bytes
    would pass ``budget`` (the result is then marked incomplete).
    """
    shape, dtype = source.shape, source.dtype
    out_shape = req.out_shape(shape)
    if not source.chunks:
        key = ("plane", source.cache_key, req)
        data = cache.get(key) if cache is not None else None
        need = math.prod(out_shape) * dtype.itemsize
        if data is None:
            if need > budget:
                return PlaneResult(req, np.zeros(out_shape, dtype), False, 0, need, level)
            data = _place(np.asarray(source.read(req.selection(shape))), req)
            if cache is not None:
                cache.put(key, data)
        if emit is not None:
            emit(tuple(slice(None) for _ in out_shape), data)
        return PlaneResult(req, data, True, need, need, level)
    tiles = plan_tiles(shape, source.chunks, req, dtype.itemsize)
    out = np.zeros(out_shape, dtype)
    spent, needed, complete, touched = 0, 0, True, []
    for t in tiles:
        ck = ("chunk", source.cache_key, t.key)
        box = cache.get(ck) if cache is not None else None
        if box is None:
            needed += t.nbytes
            if spent + t.nbytes > budget:
                complete = False
                continue
            if token is not None and token():
                return PlaneResult(req, out, False, spent, needed, level, touched)
            box = np.asarray(source.read(t.box))
            spent += t.nbytes
            touched.append(t.key)
            if cache is not None:
                cache.put(ck, box)
        part = _place(np.asarray(box[t.inner]), req)
        out[t.out] = part
        if emit is not None:
            emit(t.out, part)
    return PlaneResult(req, out, complete, spent, needed, level, touched)


def plane_cost(source: ArraySource, req: PlaneRequest, cache: ChunkCache | None = CACHE, level: int = 0) -> int:
    """Bytes that reading ``req`` would decode now (chunks in the cache are free)."""
    if not source.chunks:
        return math.prod(req.out_shape(source.shape)) * source.dtype.itemsize
    total = 0
    for t in plan_tiles(source.shape, source.chunks, req, source.dtype.itemsize):
        if cache is None or cache.get(("chunk", source.cache_key, t.key)) is None:
            total += t.nbytes
    return total


def default_step(shape: Sequence[int], axes: Sequence[int], chunks: Sequence[int] | None, itemsize: int, budget: int) -> tuple[int, ...]:
    """Stride per shown axis for an overview.

    Unchunked arrays get the stride ``storecore.containers.display_selection``
    picks (at most ``TARGET_SIDE`` samples per axis and ``budget`` bytes);
    chunked arrays are read at full resolution (a stride decodes the same
    chunks) and bounded by the budget tile by tile instead.
    """
    if chunks or not shape:
        return tuple(1 for _ in axes)
    from storecore.containers import display_selection

    sel = display_selection(shape, axes=tuple(axes), index=[0] * len(shape), target=(TARGET_SIDE, TARGET_SIDE),
                            max_bytes=budget, itemsize=itemsize)  # fmt: skip
    return tuple(int(sel[a].step or 1) if isinstance(sel[a], slice) else 1 for a in axes)


def choose_level(levels: Sequence[ArraySource], axes: Sequence[int], budget: int) -> int:
    """The finest pyramid level whose shown plane fits ``TARGET_SIDE`` and the budget (index into ``levels``)."""
    for i, src in enumerate(levels):
        sides = [src.shape[a] for a in axes if a < len(src.shape)]
        cost = math.prod(sides) * src.dtype.itemsize
        if max(sides, default=0) <= TARGET_SIDE and cost <= budget:
            return i
    return len(levels) - 1
