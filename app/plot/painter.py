"""Chunk-by-chunk plane reading: which chunks a view needs, a decoded-chunk cache, pyramid levels.

The slice plot never asks for "the plane" in one call: it reads the chunks
the plane touches one by one (on a worker) and paints each as it decodes, so
the first pixels show after one chunk, not after the whole plane.  Decoded
chunk boxes are kept in a byte-bounded LRU, so a slider step to a frame in
chunks already read is a memory copy, and moving back is instant.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor as _ThreadPool
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storecore.lru import ByteLRU
from storecore.tuning import cache_bytes

from .source import ArraySource

#: bytes of decoded chunks kept for instant slider steps
CHUNK_CACHE_BYTES = cache_bytes("frames")
#: longest side a plane is shown at before a stride (or a coarser pyramid level) is used
TARGET_SIDE = 2048
#: most chunks one preview plane may touch: each is a store request (~0.1-1 ms even for a missing 1x1 chunk)
MAX_CHUNKS = 4096
#: longest side of the native-resolution region shown when an overview would touch too much
REGION_SIDE = 1024
#: output blocks per shown axis: small chunks are read in runs and painted in at most this many pieces per axis
BLOCKS_PER_AXIS = 16


def _cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: tile reads run at once when a frame streams past the preview budget (HDF5 decodes in parallel per call too);
#: no more than the cores: more reads than cores only delay the first tile (and starve the GUI thread)
READ_WORKERS = max(1, min(3, _cores()))
#: most reads a single plan may enumerate (a guard: views are planned far below it)
MAX_READS = 1 << 16


#: the process-wide decoded-chunk cache
CACHE = ByteLRU(CHUNK_CACHE_BYTES * 7 // 8)
#: whole planes as shown, so that going back to a frame is instant even after its chunks were evicted
#: (a plane is a fraction of the chunk blocks it comes from: a 2 GiB volume's plane row is 256 MiB of chunks)
PLANES = ByteLRU(CHUNK_CACHE_BYTES // 8, max_item_bytes=CHUNK_CACHE_BYTES // 16)


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
    """One read (a box of adjacent chunks, most often one chunk) and where its part of the plane goes."""

    key: tuple  # chunk grid coordinates per axis: an int, (first, stop) for a run of adjacent chunks, ("frame", i)
    box: tuple[slice, ...]  # the chunk-aligned extent read, all axes
    inner: tuple  # selection inside the box giving the tile's plane part
    out: tuple[slice, ...]  # where that part goes in the output plane
    nbytes: int
    block: tuple[slice, ...] = ()  # the output block this read belongs to (tiles are emitted per block)


class PlanTooLarge(ValueError):
    """A request would touch more chunks than a plan may enumerate."""


def _axis_hits(r: range, c: int, n: int) -> tuple[int, int]:
    """(chunks hit, summed extent of those chunks) for the indices ``r`` of an axis of ``n`` items in chunks of ``c``.

    O(1): with a step below the chunk size every chunk between the first and
    the last index is hit; with a step of at least a chunk every index hits
    a chunk of its own.
    """
    if not len(r):
        return 0, 0
    g0, g1 = r.start // c, r[-1] // c
    count = len(r) if r.step >= c else g1 - g0 + 1
    return count, count * c - max(0, (g1 + 1) * c - n)


def frame_reads(axes: Sequence[int], ndim: int, prefix: bool) -> bool:
    """Whether a view reads frames (the shown part of each chunk) rather than whole chunk boxes.

    For sources that decode a chunk only up to the part asked for
    (``ArraySource.prefix_reads``: deflate-only HDF5, zstd-only Zarr), when every hidden axis comes
    before the shown ones: the frame is then the start of its chunks from
    the frame's offset on, and a frame near a chunk's start decodes a small
    part of it (frame 0 of a 64-deep chunk: 1/64).
    """
    hidden = [ax for ax in range(ndim) if ax not in axes]
    return prefix and bool(hidden) and max(hidden) < min(axes, default=ndim)


def _frame_depth(shape: Sequence[int], chunks: Sequence[int], req: PlaneRequest) -> int:
    """How many frames of its chunks decoding up to the frame ``req`` shows takes (1: the chunks' first)."""
    upto = 0
    for ax in range(len(shape)):
        if ax not in req.axes:
            upto = upto * max(1, int(chunks[ax])) + int(req.index[ax]) % max(1, int(chunks[ax]))
    return upto + 1


def request_cost(
    shape: Sequence[int], chunks: Sequence[int] | None, req: PlaneRequest, itemsize: int, prefix: bool = False
) -> tuple[int, int]:
    """(chunks touched, bytes decoded) to read ``req`` with nothing cached, without enumerating chunks.

    ``prefix``: the source decodes chunks only up to the part read (:func:`frame_reads`).
    """
    if not chunks:
        return 1, math.prod(req.out_shape(shape)) * itemsize
    ranges = req.ranges(shape)
    framed = frame_reads(req.axes, len(shape), prefix)
    count, nbytes = 1, itemsize
    for ax, n in enumerate(shape):
        c = max(1, int(chunks[ax]))
        if ax in req.axes:
            k, extent = _axis_hits(ranges[req.axes.index(ax)], c, n)
        else:
            g = int(req.index[ax]) // c
            k, extent = 1, 1 if framed else min(c, n - g * c)
        count, nbytes = count * k, nbytes * extent
    if framed:
        nbytes *= _frame_depth(shape, chunks, req)
    return count, nbytes


def _axis_blocks(r: range, c: int, n: int, blocks: int) -> list[tuple[slice, list[tuple[int, int, int, int]]]]:
    """Output blocks along one shown axis: (output slice, runs of adjacent chunks (g0, g1, o0, o1) in it)."""
    if not len(r):
        return []
    if r.step <= c:  # every chunk between the first and last index is hit: runs of adjacent chunks
        g_first, g_last = r.start // c, r[-1] // c
        per = math.ceil((g_last - g_first + 1) / blocks)
        out = []
        for g0 in range(g_first, g_last + 1, per):
            g1 = min(g0 + per, g_last + 1)
            o0 = max(0, math.ceil((g0 * c - r.start) / r.step))
            o1 = min(len(r), math.ceil((min(g1 * c, n) - r.start) / r.step))
            if o1 > o0:
                out.append((slice(o0, o1), [(g0, g1, o0, o1)]))
        return out
    per = math.ceil(len(r) / blocks)  # each index in a chunk of its own: one run per index
    out = []
    for o0 in range(0, len(r), per):
        o1 = min(o0 + per, len(r))
        out.append((slice(o0, o1), [(r[o] // c, r[o] // c + 1, o, o + 1) for o in range(o0, o1)]))
    return out


def plan_tiles(shape: Sequence[int], chunks: Sequence[int], req: PlaneRequest, itemsize: int,
               blocks: int | None = None, max_reads: int | None = None, prefix: bool = False) -> list[Tile]:  # fmt: skip
    """The reads a request needs, with their place in the output, grouped by output block (row-major order).

    Only the chunks the (strided) indices hit are visited, so planning costs
    O(indices shown + reads), never O(chunks in the range).  Small chunks are
    read as runs of adjacent chunks (at most ``blocks`` output blocks per
    shown axis, so a plane paints in a few dozen pieces, not millions); a run
    is one chunk-aligned box, so it decodes exactly the chunks it covers.
    With ``prefix`` and hidden axes leading (:func:`frame_reads`), a read is
    the frame's part of the box instead (one index on each hidden axis; its
    ``nbytes`` what decoding the chunks up to it costs).  Raises
    :class:`PlanTooLarge` past ``max_reads`` reads.
    """
    blocks = BLOCKS_PER_AXIS if blocks is None else blocks
    max_reads = MAX_READS if max_reads is None else max_reads
    ranges = req.ranges(shape)
    reads = 1
    for k, ax in enumerate(req.axes):
        r, c = ranges[k], max(1, int(chunks[ax]))
        reads *= min(len(r), blocks) if r.step <= c else len(r)
    if reads > max_reads:
        raise PlanTooLarge(f"this view would need {reads:,} separate chunk reads (at most {max_reads:,})")
    shown = {ax: _axis_blocks(ranges[k], max(1, int(chunks[ax])), shape[ax], blocks) for k, ax in enumerate(req.axes)}
    framed = frame_reads(req.axes, len(shape), prefix)
    upto = _frame_depth(shape, chunks, req) if framed else 1
    hidden: dict[int, tuple[Any, slice, int]] = {}
    for ax in range(len(shape)):
        if ax not in shown:
            c, i = max(1, int(chunks[ax])), int(req.index[ax])
            if framed:  # the frame's index only, keyed by it (not by its chunk)
                hidden[ax] = (("frame", i), slice(i, i + 1), 0)
            else:
                hidden[ax] = (i // c, slice(i // c * c, min((i // c + 1) * c, shape[ax])), i - i // c * c)
    order = {ax: k for k, ax in enumerate(req.axes)}
    tiles: list[Tile] = []
    for block_combo in itertools.product(*(shown[ax] for ax in req.axes)):
        block = tuple(b[0] for b in block_combo)
        for run_combo in itertools.product(*(b[1] for b in block_combo)):
            key, box, inner = [], [], []
            out = [slice(None)] * len(req.axes)
            for ax in range(len(shape)):
                if ax in hidden:
                    g, sl, i = hidden[ax]
                    key.append(g), box.append(sl), inner.append(i)
                    continue
                k = order[ax]
                r, c = ranges[k], max(1, int(chunks[ax]))
                g0, g1, o0, o1 = run_combo[k]
                lo, hi = g0 * c, min(g1 * c, shape[ax])
                first, last = r.start + o0 * r.step, r.start + (o1 - 1) * r.step
                key.append(g0 if g1 == g0 + 1 else (g0, g1))
                box.append(slice(lo, hi))
                inner.append(slice(first - lo, last - lo + 1, r.step))
                out[k] = slice(o0, o1)
            nbytes = math.prod(s.stop - s.start for s in box) * itemsize * upto
            tiles.append(Tile(tuple(key), tuple(box), tuple(inner), tuple(out), nbytes, block))
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
    cache: ByteLRU | None = CACHE,
    level: int = 0,
    workers: int = 1,
) -> PlaneResult:
    """Read a plane tile by tile; ``emit(out_slices, part)`` after each tile (worker).

    Stops early when ``token()`` becomes true, or when the decoded bytes
    would pass ``budget`` (the result is then marked incomplete).  With
    ``workers`` > 1, up to that many tile reads run at once on helper threads
    (tiles are still placed and emitted in plane order); the decoded bytes in
    flight never exceed ``budget`` (only tiles within it are ever started).
    """
    if not source.chunks:
        return _read_unchunked(source, req, budget=budget, emit=emit, cache=cache, level=level)
    tiles = plan_tiles(source.shape, source.chunks, req, source.dtype.itemsize, prefix=source.prefix_reads)
    plane_key = None
    if cache is not None and not all(cache.peek(("chunk", source.cache_key, t.key)) is not None for t in tiles):
        # Chunks to read (evicted, or another opening): the plane itself may still be here.  Its key is the
        # identity of the bytes it reads where the source can tell (a reopened Zarr array), taken before them.
        identity = source.plane_identity(req.selection(source.shape))
        plane_key = ("plane", source.uri, identity, req, level) if identity is not None else \
            ("plane", source.cache_key, req, level)
        shown = PLANES.get(plane_key)
        if shown is not None:
            if emit is not None:
                emit(tuple(slice(None) for _ in shown.shape), shown.copy())
            return PlaneResult(req, shown.copy(), True, 0, 0, level)
    result = _read_tiles(source, req, tiles, budget=budget, token=token, emit=emit, cache=cache, level=level,
                         workers=workers)
    if plane_key is not None and result.complete:
        PLANES.put(plane_key, result.data.copy())
    return result


def _read_tiles(source: ArraySource, req: PlaneRequest, tiles: list[Tile], *, budget: int,
                token: Callable[[], bool] | None, emit: Callable[[tuple, np.ndarray], None] | None,
                cache: ByteLRU | None, level: int, workers: int) -> PlaneResult:  # fmt: skip
    """:func:`read_plane` of a chunked array: tile by tile, through the decoded-chunk cache."""
    out = np.zeros(req.out_shape(source.shape), source.dtype)
    # which tiles to read is known before any is read (the cache, then the budget, in plane order),
    # so up to ``workers`` reads can run ahead of the one being placed
    boxes, to_read, needed, complete = _choose_reads(source, tiles, budget, cache)
    spent, touched = 0, []
    ahead = _ReadAhead(source, tiles, [n for n, r in enumerate(to_read) if r], workers, token)
    try:
        block_start, placed = 0, []
        for n, t in enumerate(tiles):
            if t.block != tiles[block_start].block:
                block_start, placed = n, []
            box, boxes[n] = boxes[n], None
            if to_read[n]:
                if token is not None and token():
                    return PlaneResult(req, out, False, spent, needed, level, touched)
                box = ahead.take(n)
                spent += t.nbytes
                touched.append(t.key)
                if cache is not None:
                    cache.put(("chunk", source.cache_key, t.key), box)
            if box is not None:
                out[t.out] = _place(np.asarray(box[t.inner]), req)
                placed.append(t.out)
            if emit is not None and (n + 1 == len(tiles) or tiles[n + 1].block != t.block):
                # a block is painted as one piece; a block the budget cut short, read by read
                for where in [t.block] if len(placed) == n + 1 - block_start else placed:
                    emit(where, out[where])
    finally:
        ahead.close()
    return PlaneResult(req, out, complete, spent, needed, level, touched)


def _read_unchunked(source: ArraySource, req: PlaneRequest, *, budget: int,
                    emit: Callable[[tuple, np.ndarray], None] | None, cache: ByteLRU | None,
                    level: int) -> PlaneResult:  # fmt: skip
    """A plane of an unchunked array: one read (cached whole), nothing when it is over ``budget``."""
    shape, dtype = source.shape, source.dtype
    out_shape = req.out_shape(shape)
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


def _choose_reads(
    source: ArraySource, tiles: list[Tile], budget: int, cache: ByteLRU | None
) -> tuple[list[Any], list[bool], int, bool]:
    """Per tile, in plane order: its cached box (or None) and whether it is read (not cached, within
    ``budget``); plus the bytes the uncached tiles need and whether they all fit the budget."""
    spent, needed, complete = 0, 0, True
    boxes: list[Any] = []
    to_read: list[bool] = []
    for t in tiles:
        box = cache.get(("chunk", source.cache_key, t.key)) if cache is not None else None
        boxes.append(box)
        read = False
        if box is None:
            needed += t.nbytes
            if spent + t.nbytes > budget:
                complete = False
            else:
                spent += t.nbytes
                read = True
        to_read.append(read)
    return boxes, to_read, needed, complete


class _ReadAhead:
    """Tile reads running ahead of the one being placed: at most ``workers`` at once on helper threads.

    With one worker (or one read) there is no helper thread: :meth:`take` reads the tile itself.
    Memory: at most ``workers`` tiles are decoded beyond the plane.
    """

    def __init__(self, source: ArraySource, tiles: list[Tile], ahead: list[int], workers: int,
                 token: Callable[[], bool] | None) -> None:  # fmt: skip
        self.source, self.tiles, self.ahead, self.workers, self.token = source, tiles, ahead, workers, token
        self.pool = _ThreadPool(max(1, workers)) if workers > 1 and len(ahead) > 1 else None
        self.futures: dict[int, Any] = {}
        self.next = 0

    def fill(self) -> None:
        """Start reads in plane order until ``workers`` are in flight (none once cancelled)."""
        while self.pool is not None and self.next < len(self.ahead) and len(self.futures) < self.workers:
            if self.token is not None and self.token():
                return
            n = self.ahead[self.next]
            self.futures[n] = self.pool.submit(self.source.read, self.tiles[n].box)
            self.next += 1

    def take(self, n: int) -> np.ndarray:
        """The box of tile ``n`` (waiting for its read, or reading it here), with the next reads started."""
        self.fill()
        future = self.futures.pop(n, None)
        box = np.asarray(future.result() if future is not None else self.source.read(self.tiles[n].box))
        self.fill()
        return box

    def close(self) -> None:
        """Drop the reads not taken (those running finish on their own; their results are dropped)."""
        if self.pool is not None:
            for f in self.futures.values():
                f.cancel()
            self.pool.shutdown(wait=False, cancel_futures=True)


def plane_cost(source: ArraySource, req: PlaneRequest, cache: ByteLRU | None = CACHE, level: int = 0) -> int:
    """Bytes that reading ``req`` would decode now (chunks in the cache are free)."""
    if not source.chunks:
        return math.prod(req.out_shape(source.shape)) * source.dtype.itemsize
    try:
        tiles = plan_tiles(source.shape, source.chunks, req, source.dtype.itemsize, prefix=source.prefix_reads)
    except PlanTooLarge:
        return request_cost(source.shape, source.chunks, req, source.dtype.itemsize, source.prefix_reads)[1]
    total = 0
    for t in tiles:
        if cache is None or cache.get(("chunk", source.cache_key, t.key)) is None:
            total += t.nbytes
    return total


def default_step(
    shape: Sequence[int], axes: Sequence[int], chunks: Sequence[int] | None, itemsize: int, budget: int
) -> tuple[int, ...]:
    """Stride per shown axis for an overview.

    Unchunked arrays get the stride ``storecore.containers.display_selection``
    picks (at most ``TARGET_SIDE`` samples per axis and ``budget`` bytes);
    chunked arrays get 1 here: :func:`plan_view` plans them, by the chunks
    the stride hits.
    """
    if chunks or not shape:
        return tuple(1 for _ in axes)
    from storecore.containers import display_selection

    sel = display_selection(shape, axes=tuple(axes), index=[0] * len(shape), target=(TARGET_SIDE, TARGET_SIDE),
                            max_bytes=budget, itemsize=itemsize)  # fmt: skip
    return tuple(int(sel[a].step or 1) if isinstance(sel[a], slice) else 1 for a in axes)


@dataclass(frozen=True)
class ViewPlan:
    """What a preview of one plane reads: a stride over it, or a region of it at native resolution.

    ``mode`` is ``"overview"`` (a strided plane within the budget and the chunk
    cap), ``"partial"`` (the display-sized plane at full resolution, its bytes
    over the budget: read tile by tile until the budget is spent) or
    ``"region"`` (an overview would touch too many chunks or bytes: a
    top-left region at native resolution; ``note`` says which).
    """

    step: tuple[int, ...]
    region: tuple[tuple[int, int], ...] = ()
    mode: str = "overview"
    note: str = ""
    chunks: int = 0
    nbytes: int = 0


def _strides(shape: Sequence[int], axes: Sequence[int], itemsize: int, budget: int, target: int) -> list[int]:
    """Strides giving at most ``target`` samples per shown axis and ``budget`` output bytes (O(log n) steps)."""
    steps = [max(1, math.ceil(shape[a] / max(1, target))) for a in axes]
    while math.prod(math.ceil(shape[a] / s) for a, s in zip(axes, steps, strict=True)) * itemsize > budget:
        k = max(range(len(axes)), key=lambda i: math.ceil(shape[axes[i]] / steps[i]))
        if steps[k] >= shape[axes[k]]:
            break
        steps[k] *= 2
    return steps


def plan_view(shape: Sequence[int], chunks: Sequence[int] | None, axes: Sequence[int], index: Sequence[int],
              itemsize: int, budget: int, *, target: int = TARGET_SIDE, region_side: int = REGION_SIDE,
              max_chunks: int = MAX_CHUNKS, prefix: bool = False) -> ViewPlan:  # fmt: skip
    """The view of a plane a preview reads first, planned in O(log n) cost evaluations (no chunk is enumerated).

    Unchunked arrays get :func:`default_step`.  Chunked ones get a stride of
    at most ``target`` samples per axis; when the chunks those samples hit
    exceed ``max_chunks`` or their decoded bytes the budget, a region of at
    most ``region_side`` per axis at native resolution instead (shrunk until
    it fits), unless the plane is display-sized already (then it is read
    tile by tile up to the budget, with a "load full" offer).
    """
    axes, index = tuple(axes), tuple(int(i) for i in index)
    if not chunks or not shape:
        return ViewPlan(default_step(shape, axes, chunks, itemsize, budget))
    steps = tuple(_strides(shape, axes, itemsize, budget, target))
    count, nbytes = request_cost(shape, chunks, PlaneRequest(axes, index, steps), itemsize, prefix)
    if count <= max_chunks and nbytes <= budget:
        return ViewPlan(steps, (), "overview", "", count, nbytes)
    if all(s == 1 for s in steps) and count <= max_chunks:
        return ViewPlan(steps, (), "partial", "", count, nbytes)
    sides = [min(shape[a], region_side) for a in axes]
    while True:
        region = tuple((0, n) for n in sides)
        req = PlaneRequest(axes, index, tuple(1 for _ in axes), region)
        c, b = request_cost(shape, chunks, req, itemsize, prefix)
        per_axis = [
            _axis_hits(range(0, n), max(1, int(chunks[a])), shape[a])[0] for a, n in zip(axes, sides, strict=True)
        ]
        if (c <= max_chunks and b <= budget) or max(per_axis) <= 1:
            break
        k = max(range(len(axes)), key=lambda i: per_axis[i])
        sides[k] = max(1, sides[k] // 2)
    from ..formatting import human_size

    names = ["rows", "columns"] if len(axes) == 2 else ["items"]
    where = " × ".join(f"{name} 0–{n - 1:,}" for name, n in zip(names, sides, strict=False))
    dims = " × ".join(f"{shape[a]:,}" for a in axes)
    why = f"{count:,} chunks" if count > max_chunks else human_size(nbytes)
    note = (f"Showing {where} of {dims} at full resolution: an overview would decode {why} "
            f"(preview limits: {human_size(budget)}, {max_chunks:,} chunks). Zoom in or pan to read other parts.")  # fmt: skip
    return ViewPlan(tuple(1 for _ in axes), region, "region", note, c, b)


def view_request(levels: Sequence[ArraySource], mode: str, axes: tuple[int, ...], index: Sequence[int],
                 max_bytes: int) -> tuple[int, PlaneRequest, ViewPlan]:  # fmt: skip
    """What a plot of ``levels[0]`` reads for the view of ``axes`` at ``index`` (``mode`` "image" or "curve").

    The pyramid level (an image picks the finest that fits), the request on that level (``index``
    scaled to it) and its plan: planned from O(1) chunk counts, never an enumeration of the chunks
    (arrays of 10^12 x 10^12 1x1 chunks).
    """
    src0 = levels[0]
    level = choose_level(levels, axes, max_bytes) if mode == "image" and len(levels) > 1 else 0
    src = levels[level]
    scaled = tuple(min(src.shape[a] - 1, int(i * src.shape[a] / max(1, src0.shape[a]))) for a, i in enumerate(index))
    side = TARGET_SIDE if mode == "image" else max(src.shape[a] for a in axes)
    plan = plan_view(src.shape, src.chunks, axes, scaled, src.dtype.itemsize, max_bytes,
                     target=side, region_side=1024 if mode == "image" else 1 << 20, prefix=src.prefix_reads)  # fmt: skip
    return level, PlaneRequest(axes, scaled, plan.step, plan.region), plan


def choose_level(levels: Sequence[ArraySource], axes: Sequence[int], budget: int) -> int:
    """The finest pyramid level whose shown plane fits ``TARGET_SIDE`` and the budget (index into ``levels``)."""
    for i, src in enumerate(levels):
        sides = [src.shape[a] for a in axes if a < len(src.shape)]
        cost = math.prod(sides) * src.dtype.itemsize
        if max(sides, default=0) <= TARGET_SIDE and cost <= budget:
            return i
    return len(levels) - 1
