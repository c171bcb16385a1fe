"""Parallel reads of chunked HDF5 datasets: raw chunks fetched and decoded outside h5py.

h5py decodes the chunks of a selection one after the other, on the calling
thread, under its global lock.  For the common cases — a chunked dataset of
plain numbers whose filters are deflate, shuffle, Blosc, Zstd or LZ4 — this
module does the same work itself:

1. :func:`plan` finds the chunks a selection touches (their file offsets and
   stored sizes from HDF5's chunk index: ``get_chunk_info_by_coord``, or one
   ``chunk_iter`` walk when most of the chunks are touched) and what part of
   each goes where in the result;
2. :meth:`Plan.read` reads their raw bytes — ``os.pread`` on a duplicate of
   the descriptor h5py holds (local files), or concurrent ranged requests
   through the container's :class:`~storecore.containers.hdf5_nodes.RemoteReader`
   with neighbouring chunks coalesced (remote files) — and decodes them on a
   thread pool with decoders that release the GIL (zlib, or python-isal's
   twice faster inflate when it is installed; numpy's strided copies for
   shuffle; numcodecs' Blosc, Zstd and LZ4), each worker copying its part
   straight into the result.

Anything else says ``parallel=False`` and is read by h5py as before: other
filters (fletcher32, scale-offset, n-bit, szip, bitshuffle, LZF, Blosc2…),
contiguous, compact and virtual layouts, strings, compounds, enums, booleans,
references and other non-numeric types, and files open for writing (h5py may
hold data it has not written yet).  A chunk whose filter mask says a filter
was skipped (optional filters such as Blosc skip chunks they cannot shrink) is
decoded without that filter.  Values equal h5py's own read exactly
(``tests/storecore/containers/test_h5chunks.py`` compares them over random shapes, chunks,
selections and filters).

Decoded chunks are kept in a small LRU (the size of h5py's chunk cache, which
this path bypasses), so going back to a frame costs no reading.

A deflate stream can only be decoded from its start, but it can stop early.
For chunks compressed by deflate alone (h5py's ``compression="gzip"``
without shuffle, the most common HDF5 pipeline) a read that needs only the
start of a chunk — one frame of a ``(64, 256, 256)`` chunk block, in C order
the chunk's first planes — inflates the chunk only up to the last byte it
needs, and the chunk is cached part-decoded (:class:`PrefixChunk`): a later
read of the next frame resumes the inflate where it stopped instead of
starting over.  Frame 0 of such a block costs 1/64 of the chunk's decode;
stepping through the frames costs one decode of each chunk in all.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import threading
import weakref
import zlib
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CorruptData
from ..lru import ByteLRU
from ..tuning import cache_bytes

#: filters decoded here (HDF5 filter id -> name); a pipeline with any other falls back to h5py
DEFLATE, SHUFFLE, BLOSC, LZ4, ZSTD = 1, 2, 32001, 32004, 32015
SUPPORTED_FILTERS = {DEFLATE: "deflate", SHUFFLE: "shuffle", BLOSC: "blosc", LZ4: "lz4", ZSTD: "zstd"}
#: decoded chunks kept for going back to a frame (h5py's own chunk cache is bypassed)
CACHE_BYTES = cache_bytes("hdf5_chunks")
#: concurrent ranged requests for remote chunks
FETCH_WORKERS = 8
#: remote chunks closer than this are fetched in one request (the gap is read and dropped)
COALESCE_GAP = 64 * 1024
#: a coalesced request is at least this long, if it may be (fewer, larger requests) ...
COALESCE_MIN = 1024 * 1024
#: ... and otherwise about 1/(2 × workers) of the whole read, so every worker stays busy
#: selections touching more chunks than this are left to h5py (planning costs a few µs of Python per chunk)
MAX_CHUNKS = 65_536
#: from this many touched chunks on, one walk over the whole chunk index replaces the lookups when the
#: selection touches at least half of the chunk grid
INDEX_WALK_MIN = 256

_pool_lock = threading.Lock()
_decode_pool: ThreadPoolExecutor | None = None
_fetch_pool: ThreadPoolExecutor | None = None


def decode_workers() -> int:
    """Threads decoding chunks: one per core."""
    return max(2, os.cpu_count() or 2)


def _pools() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    """The module's decode pool (one thread per core) and fetch pool, created on first use."""
    global _decode_pool, _fetch_pool
    with _pool_lock:
        if _decode_pool is None:
            _decode_pool = ThreadPoolExecutor(decode_workers(), thread_name_prefix="h5decode")
        if _fetch_pool is None:
            _fetch_pool = ThreadPoolExecutor(max(FETCH_WORKERS, decode_workers()), thread_name_prefix="h5fetch")
        return _decode_pool, _fetch_pool


#: part-decoded chunks are inflated this many stored bytes at a time (the output of one step is bounded
#: by ``max_length``; only this much input is copied when a step stops inside it)
PREFIX_STEP = 256 * 1024
#: a part-way decode goes on this many bytes past what the read needs (little: a frame of a big chunk is often
#: exactly what the first view needs)
PREFIX_AHEAD = 64 * 1024
#: a read needing less than this fraction of a deflate chunk decodes only its start (and keeps the rest resumable)
PREFIX_BELOW = 0.75
#: ... for chunks of at least this many bytes (a resumable inflater keeps ~40 KiB of state)
PREFIX_MIN_CHUNK = 1 << 20
#: what a part-decoded chunk's inflater holds beside its bytes (zlib's window and state), counted by the cache
INFLATER_BYTES = 48 * 1024


# -- decoded-chunk cache ----------------------------------------------------------------------------
#: decoded chunks (arrays, or :class:`PrefixChunk` for deflate chunks decoded part-way) keyed by
#: (source, file offset, stored size); a chunk over half the bound is not kept
CACHE = ByteLRU(CACHE_BYTES, max_item_bytes=CACHE_BYTES // 2)
# A remote reader's chunks are cached under a number that is never reused (ids of dead objects are).
_reader_tokens: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_token_counter = itertools.count()


# -- decoders -----------------------------------------------------------------------------------------
def _unshuffle(data: Any, itemsize: int) -> Any:
    """Undo HDF5's byte shuffle (bytes of each element gathered by significance)."""
    buf = np.frombuffer(data, np.uint8)
    if itemsize <= 1 or buf.size < itemsize:
        return data
    n = buf.size // itemsize
    out = np.empty(buf.size, np.uint8)
    cols = out[: n * itemsize].reshape(n, itemsize)
    planes = buf[: n * itemsize].reshape(itemsize, n)
    for k in range(itemsize):  # one strided copy per byte plane: numpy releases the GIL for each
        cols[:, k] = planes[k]
    out[n * itemsize :] = buf[n * itemsize :]  # HDF5 leaves a trailing partial element as it is
    return out


def _lz4_hdf5(data: Any) -> Any:
    """The HDF5 LZ4 filter's framing: BE u64 total size, BE u32 block size, then BE u32 size + block each."""
    from numcodecs import lz4

    buf = bytearray(data)
    if len(buf) < 12:
        raise CorruptData("LZ4 chunk shorter than its header")
    total = int.from_bytes(buf[0:8], "big")
    block = min(int.from_bytes(buf[8:12], "big"), total) or total
    out = np.empty(total, np.uint8)
    pos, done = 12, 0
    while done < total:
        n = min(block, total - done)
        if pos + 4 > len(buf):
            raise CorruptData("LZ4 chunk truncated")
        size = int.from_bytes(buf[pos : pos + 4], "big")
        if pos + 4 + size > len(buf):
            raise CorruptData("LZ4 chunk truncated")
        if size == n:  # stored uncompressed
            out[done : done + n] = np.frombuffer(buf, np.uint8, n, pos + 4)
        else:
            # numcodecs' LZ4 frames a block with its LE u32 decoded size: write it over the BE block size
            buf[pos : pos + 4] = n.to_bytes(4, "little")
            lz4.decompress(memoryview(buf)[pos : pos + 4 + size], out[done : done + n])
        pos += 4 + size
        done += n
    return out


def _inflate_module() -> Any:
    """python-isal's zlib when installed (ISA-L inflates about twice as fast, also without the GIL), else zlib."""
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib
    return isal_zlib


class PartDecodedChunk:
    """A compressed chunk decoded only as far as reads have needed, resumable from there.

    :attr:`array` has the whole chunk's shape; only its first :attr:`done`
    bytes hold values (the rest is allocated but untouched, so it costs no
    memory until decoded).  :meth:`upto` decodes further when a read needs
    more.  Thread-safe: concurrent reads of one chunk extend it one at a
    time.  ``nbytes`` (what a cache counts) is the decoded part plus what is
    kept to resume (stored bytes, the decoder's state).  Subclasses decode
    one stream format (:meth:`_more`, :meth:`_kept`, :meth:`_release`).
    """

    #: the stream format, in errors
    format = "compressed"

    def __init__(self, nbytes: int, dtype: np.dtype, chunks: tuple[int, ...], name: str) -> None:
        self._buf = np.empty(nbytes, np.uint8)
        self.array = self._buf.view(dtype).reshape(chunks)
        self.done = 0
        self.name = name
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self.done + (0 if self.complete else self._kept() + INFLATER_BYTES)

    @property
    def complete(self) -> bool:
        return self.done == self._buf.size

    def upto(self, need: int) -> np.ndarray:
        """The chunk array with at least its first ``need`` bytes decoded (:class:`CorruptData` when it ends short)."""
        with self._lock:
            total = self._buf.size
            while self.done < need:
                # a little past ``need`` (the next frame is likely asked for next), never past the chunk
                piece = self._more(min(total - self.done, need - self.done + PREFIX_AHEAD), need)
                if not piece:
                    raise CorruptData(f"{self.name}: {self.format} data ends after {self.done} bytes, expected {total}")
                if len(piece) > total - self.done:
                    raise CorruptData(f"{self.name}: {self.format} data decodes past the chunk's {total} bytes")
                self._buf[self.done : self.done + len(piece)] = np.frombuffer(piece, np.uint8)
                self.done += len(piece)
            if self.done == total:  # nothing left to resume: check the stream ends here, drop what resuming needed
                try:
                    if self._more(1, total):
                        raise CorruptData(f"{self.name}: {self.format} data decodes past the chunk's {total} bytes")
                finally:
                    self._release()
            return self.array

    def _more(self, want: int, need: int) -> bytes:
        """Up to ``want`` more decoded bytes (b"" at the end of the stream); ``need``: what the read asks for.

        Asked once more for one byte when the chunk is complete: a stream longer than its chunk is corrupt.
        """
        raise NotImplementedError

    def _kept(self) -> int:
        """Stored bytes held to resume."""
        return 0

    def _release(self) -> None:
        """Drop what resuming needed (the chunk is complete)."""


class PrefixChunk(PartDecodedChunk):
    """A deflate-compressed chunk decoded part-way (:class:`PartDecodedChunk`).

    ``stored`` is the chunk's stored bytes, or ``read(start, length)`` giving
    them on demand (a local file's ``pread``, a remote file's ranged request:
    only about as far as the inflater gets is read).
    """

    format = "deflate"

    def __init__(self, stored: Any, size: int, nbytes: int, dtype: np.dtype, chunks: tuple[int, ...],
                 name: str = "chunk") -> None:  # fmt: skip
        super().__init__(nbytes, dtype, chunks, name)
        if callable(stored):
            self._read, self._raw = stored, memoryview(b"")
        else:  # a remote chunk may be a view of a longer coalesced request: keep a copy of the chunk's bytes only
            self._read, self._raw = None, memoryview(stored if isinstance(stored, bytes) else bytes(stored)).cast("B")
        self._size = size
        self._step = 0  # the last request's length
        self._pos = 0  # stored bytes handed to the inflater
        self._pending = b""  # input the inflater returned unconsumed (max_length reached inside it)
        self._inflater = _inflate_module().decompressobj(wbits=15)

    def _kept(self) -> int:
        return len(self._raw) - self._pos + len(self._pending)

    def _release(self) -> None:
        self._read, self._raw, self._pos, self._pending = None, memoryview(b""), 0, b""

    def _next_input(self, need: int) -> Any:
        if self._read is not None:
            # Ask for about the stored bytes the rest of ``need`` takes at the chunk's average ratio (a
            # quarter more), at least PREFIX_STEP, and twice the last request when that fell short: one
            # request most often (a ranged GET of a remote file), a few at worst.
            estimate = self._size * (need - self.done) * 5 // (4 * max(1, self._buf.size)) + 1
            n = min(max(PREFIX_STEP, estimate, self._step), self._size - self._pos)
            self._step = 2 * n
            data = self._read(self._pos, n) if n > 0 else b""
        else:
            n = min(PREFIX_STEP, self._size - self._pos)
            data = self._raw[self._pos : self._pos + n]
        self._pos += len(data)
        return data

    def _more(self, want: int, need: int) -> bytes:
        while not self._inflater.eof:
            data = self._pending or self._next_input(need)
            try:
                piece = self._inflater.decompress(data, want)
            except Exception as e:  # zlib.error, or isal's IsalError (not a subclass of it)
                raise CorruptData(f"{self.name}: not a valid deflate stream ({e})") from e
            self._pending = self._inflater.unconsumed_tail
            if piece or not len(data):  # (a header consumes input and gives nothing yet)
                return piece
        return b""


def needed_bytes(inner: tuple, chunks: tuple[int, ...], itemsize: int) -> int:
    """How many leading bytes of a C-order chunk hold the selection ``inner`` (ints and slices inside the chunk)."""
    last, stride = 0, itemsize
    for item, c in zip(reversed(inner), reversed(chunks), strict=True):
        if isinstance(item, slice):
            r = range(*item.indices(c))
            i = r[-1] if len(r) else 0
        else:
            i = int(item)
        last += i * stride
        stride *= c
    return last + itemsize


def _decoder(code: int, values: tuple, itemsize: int, nbytes: int) -> Callable[[Any], Any] | None:
    """The decoding function of one filter, or None when it is not decoded here."""
    if code == DEFLATE:
        inflate = _inflate_module().decompress
        return lambda data: inflate(data, wbits=15, bufsize=max(1, nbytes))
    if code == SHUFFLE:
        size = int(values[0]) if values else itemsize
        return lambda data: _unshuffle(data, size)
    try:
        if code == BLOSC:
            from numcodecs import blosc

            return blosc.decompress
        if code == ZSTD:
            from numcodecs import zstd

            return zstd.decompress
        if code == LZ4:
            from numcodecs import lz4  # noqa: F401 - its presence is what makes LZ4 decodable

            return _lz4_hdf5
    except ImportError:
        return None
    return None


# -- planning -----------------------------------------------------------------------------------------
def _axis_parts(item: Any, n: int, c: int) -> list[tuple[int, Any, Any]] | None:
    """``(chunk index, selection inside the chunk, destination)`` of each chunk one axis item touches.

    An int keeps an int inside the chunk and no destination axis; a slice maps
    to a slice of the chunk and a slice of the result axis.  None for an empty
    or unsupported item.
    """
    if isinstance(item, int | np.integer) and not isinstance(item, bool | np.bool_):
        i = int(item)
        if not 0 <= i < n:
            return None
        return [(i // c, i - (i // c) * c, None)]
    if not isinstance(item, slice):
        return None
    start, stop, step = item.indices(n)
    if step <= 0:
        return None
    count = len(range(start, stop, step))
    if count == 0:
        return None
    last = start + (count - 1) * step
    if min(count, last // c - start // c + 1) > MAX_CHUNKS:
        return None
    parts = []
    if step >= c:  # at most one index per chunk
        for k in range(count):
            i = start + k * step
            g = i // c
            parts.append((g, slice(i - g * c, i - g * c + 1), slice(k, k + 1)))
        return parts
    for g in range(start // c, last // c + 1):
        lo = max(start, g * c)
        hi = min(last, (g + 1) * c - 1)
        k0 = -((start - lo) // step)  # ceil((lo - start) / step)
        k1 = (hi - start) // step
        if k1 < k0:
            continue
        i0, i1 = start + k0 * step, start + k1 * step
        parts.append((g, slice(i0 - g * c, i1 - g * c + 1, step), slice(k0, k1 + 1)))
    return parts


def _plain_numeric(dset: Any) -> bool:
    """Whether the dataset holds plain numbers whose file bytes are exactly what h5py returns."""
    import h5py
    from h5py import h5t

    dtype = dset.dtype
    if dtype.kind not in "iufc" or dtype.fields is not None or dtype.metadata:
        return False
    if h5py.check_enum_dtype(dtype) is not None:
        return False
    try:
        return bool(dset.id.get_type().equal(h5t.py_create(dtype)))
    except Exception:  # noqa: BLE001 - a type h5py cannot describe: leave it to h5py
        return False


@dataclass
class ChunkRead:
    """One touched chunk: where it is stored and what part of it goes where in the result."""

    coord: tuple[int, ...]
    inner: tuple
    out: tuple
    offset: int | None = None  # None: not allocated (reads as the fill value)
    size: int = 0
    mask: int = 0  # bit i set: filter i of the pipeline was skipped for this chunk


@dataclass
class Plan:
    """How a selection is read: ``parallel`` (by :meth:`read`) or not (``reason`` says why)."""

    parallel: bool
    reason: str = ""
    dtype: Any = None
    chunks: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()
    #: the pipeline's decoders, in the pipeline's order (undone last to first)
    decoders: list[Callable[[Any], Any]] = field(default_factory=list)
    reads: list[ChunkRead] = field(default_factory=list)
    fill: Any = 0
    file: LocalFile | None = None
    reader: Any = None
    source_key: tuple = ()
    #: chunks are compressed by deflate alone: a read of a chunk's start decodes only that (:class:`PrefixChunk`)
    prefix: bool = False

    @property
    def chunk_nbytes(self) -> int:
        return math.prod(self.chunks) * self.dtype.itemsize

    # -- reading ------------------------------------------------------------------------------
    def read(self) -> np.ndarray:
        """Read the planned chunks concurrently into a new array (as h5py would return it)."""
        if not self.parallel:
            raise ValueError(f"not a parallel plan: {self.reason}")
        try:
            out = np.empty(self.out_shape, self.dtype)
            todo: list[ChunkRead] = []
            resume: list[tuple[ChunkRead, PrefixChunk]] = []  # part-decoded chunks to decode further: no read
            for r in self.reads:
                if r.offset is None:
                    out[r.out] = self.fill
                    continue
                cached = CACHE.get((*self.source_key, r.offset, r.size))
                if isinstance(cached, PrefixChunk):
                    if cached.done >= needed_bytes(r.inner, self.chunks, self.dtype.itemsize):
                        out[r.out] = cached.array[r.inner]
                    else:
                        resume.append((r, cached))
                elif cached is not None:
                    out[r.out] = cached[r.inner]
                else:
                    todo.append(r)
            if len(todo) + len(resume) == 1:  # one chunk: no thread hop (callers reading tiles concurrently stay parallel)
                r, held = resume[0] if resume else (todo[0], None)
                self._place(out, r, held=held)
            elif todo or resume:
                decode_pool, _ = _pools()
                futures = [decode_pool.submit(self._place, out, r, held=held) for r, held in resume]
                if self.reader is None:
                    futures += [decode_pool.submit(self._place, out, r) for r in todo]
                    _wait_all(futures)
                else:
                    # chunks decoded part-way fetch their own byte ranges, about as far as they decode
                    part_way = {id(r) for r in todo if self._part_way(r)}
                    futures += [decode_pool.submit(self._place, out, r) for r in todo if id(r) in part_way]
                    try:
                        self._read_remote(out, [r for r in todo if id(r) not in part_way])
                    finally:
                        _wait_all(futures)
            # one value: h5py returns a numpy scalar, which is always in native byte order
            return np.asarray(out[()]) if out.ndim == 0 else out
        finally:
            self.close()

    def close(self) -> None:
        """Let go of the local file's descriptor (closed once no plan or part-decoded chunk uses it)."""
        self.file = None

    def _fetch_one(self, r: ChunkRead) -> bytes:
        if self.reader is None:
            assert self.file is not None
            return _pread(self.file.fd, r.offset, r.size)
        return self._fetch_range(r.offset, r.offset + r.size)

    def _fetch_range(self, start: int, end: int) -> bytes:
        return _fetch_range(self.reader, start, end)


    def _decode(self, raw: Any, mask: int = 0) -> np.ndarray:
        steps = [d for i, d in enumerate(self.decoders) if not mask >> i & 1]
        # unfiltered bytes may be a view of a longer coalesced request: copy so the cache holds only the chunk
        data = raw if steps else bytes(raw)
        for decode in reversed(steps):
            data = decode(data)
        nbytes = self.chunk_nbytes
        arr = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8).ravel()
        if arr.size != nbytes:
            raise CorruptData(f"decoded chunk holds {arr.size} bytes, expected {nbytes}")
        return arr.view(self.dtype).reshape(self.chunks)

    def _place(self, out: np.ndarray, r: ChunkRead, raw: Any = None, held: PrefixChunk | None = None) -> None:
        """Decode chunk ``r`` and copy its part into ``out``.

        ``raw``: its stored bytes when fetched already (None: fetched here);
        ``held``: the part-decoded chunk the cache holds for it, decoded further.
        """
        key = (*self.source_key, r.offset, r.size)
        part = held
        need = needed_bytes(r.inner, self.chunks, self.dtype.itemsize) if self.prefix else 0
        if part is None and self._part_way(r, need):
            part = PrefixChunk(raw if raw is not None else self._stored(r), r.size, self.chunk_nbytes, self.dtype,
                               self.chunks, f"chunk {r.coord}")  # fmt: skip
        if part is not None:
            out[r.out] = part.upto(need)[r.inner]
            CACHE.put(key, part.array if part.complete else part)  # put again: its size grew
            return
        chunk = self._decode(raw if raw is not None else self._fetch_one(r), r.mask)
        out[r.out] = chunk[r.inner]
        CACHE.put(key, chunk)

    def _part_way(self, r: ChunkRead, need: int | None = None) -> bool:
        """Whether chunk ``r`` (not cached) is decoded part-way: deflate alone, ``need`` (its bytes the read needs,
        worked out when not given) under PREFIX_BELOW of it."""
        if not self.prefix or r.mask:
            return False
        need = needed_bytes(r.inner, self.chunks, self.dtype.itemsize) if need is None else need
        return need < self.chunk_nbytes * PREFIX_BELOW

    def _stored(self, r: ChunkRead) -> Any:
        """What a :class:`PrefixChunk` reads ``r``'s stored bytes from, as it goes: the local file, or ranged
        requests through the remote reader."""
        offset = r.offset
        assert offset is not None
        if self.reader is not None:
            reader = self.reader
            return lambda start, length: _fetch_range(reader, offset + start, offset + start + length)
        file = self.file
        assert file is not None
        return lambda start, length: _pread(file.fd, offset + start, length)

    def _read_remote(self, out: np.ndarray, todo: list[ChunkRead]) -> None:
        """Fetch coalesced ranges concurrently; each fetched range queues its chunks for decoding."""
        decode_pool, fetch_pool = _pools()
        groups = coalesce(todo)
        decodes: list[Future] = []
        decodes_lock = threading.Lock()
        failed = threading.Event()

        def fetch(group: list[ChunkRead]) -> None:
            if failed.is_set():
                return
            start = group[0].offset
            data = self._fetch_range(start, max(r.offset + r.size for r in group))
            view = memoryview(data)
            for r in group:
                raw = view[r.offset - start : r.offset - start + r.size]
                future = decode_pool.submit(self._place, out, r, raw)
                with decodes_lock:
                    decodes.append(future)

        try:
            _wait_all([fetch_pool.submit(fetch, g) for g in groups])
        except BaseException:
            failed.set()
            raise
        finally:
            with decodes_lock:
                pending = list(decodes)
            if failed.is_set():
                for f in pending:
                    f.cancel()
        _wait_all(pending)


def _fetch_range(reader: Any, start: int, end: int) -> bytes:
    """Bytes ``start``-``end`` of a remote file, counted in its reader's byte counters (``RemoteReader.bytes_read``)."""
    data = reader._fetch(start, end)
    with reader._ahead_lock:
        reader._direct_bytes += len(data)
        reader._direct_requests += 1
    if len(data) != end - start:
        raise CorruptData(f"{reader.name}: chunk bytes {start}-{end} past the end of the file")
    return data


def _wait_all(futures: list[Future]) -> None:
    """Wait for every future; on the first failure cancel what has not started and raise it."""
    if not futures:
        return
    done, not_done = wait(futures, return_when=FIRST_EXCEPTION)
    for f in done:
        if f.exception() is not None:
            for g in not_done:
                g.cancel()
            wait(not_done)
            raise f.exception()


def _pread(fd: int | None, offset: int | None, size: int) -> bytes:
    assert fd is not None and offset is not None
    data = os.pread(fd, size, offset)
    while len(data) < size:  # pread may return short on some file systems
        more = os.pread(fd, size - len(data), offset + len(data))
        if not more:
            raise CorruptData(f"chunk bytes {offset}-{offset + size} past the end of the file")
        data += more
    return data


def coalesce(reads: list[ChunkRead]) -> list[list[ChunkRead]]:
    """Group chunks stored close together into ranged requests, keeping enough requests for every worker."""
    ordered = sorted(reads, key=lambda r: r.offset)
    total = sum(r.size for r in ordered)
    cap = max(COALESCE_MIN, total // (2 * FETCH_WORKERS))
    groups: list[list[ChunkRead]] = []
    start = end = -1
    for r in ordered:
        if groups and r.offset - end <= COALESCE_GAP and r.offset >= start and r.offset + r.size - start <= cap:
            groups[-1].append(r)
            end = max(end, r.offset + r.size)
        else:
            groups.append([r])
            start, end = r.offset, r.offset + r.size
    return groups


def plan(dset: Any, selection: tuple, *, reader: Any = None) -> Plan:
    """How to read the normalised ``selection`` (ints and positive-step slices, one per axis) of ``dset``.

    ``reader`` is the container's RemoteReader for remote files (None for local
    files, which are read through a duplicate of h5py's own descriptor).
    Cheap: chunk index lookups only, no chunk data.
    """
    chunks, shape = dset.chunks, dset.shape
    try:
        dcpl = _chunked_create_plist(dset, chunks, shape, selection)
        itemsize = dset.dtype.itemsize
        decoders = _pipeline_decoders(dcpl, itemsize, math.prod(chunks) * itemsize)
        f = dset.file
        source_key = _checked_source_key(f, reader)
        per_axis = _touched_parts(selection, shape, chunks)
        reads = _chunk_reads(dset.id, shape, chunks, per_axis, len(decoders))
        fill = _unallocated_fill(dset, dcpl) if any(r.offset is None for r in reads) else 0
    except _LeftToH5py as why:
        return Plan(False, str(why))
    out_shape = tuple(max(p[2].stop for p in parts) for parts in per_axis if parts[0][2] is not None)
    file = None
    if reader is None:
        file = _local_source(f)
        source_key = file.key
    prefix = _deflate_only(dcpl) and math.prod(chunks) * itemsize >= PREFIX_MIN_CHUNK
    return Plan(
        True, "", dset.dtype, tuple(chunks), out_shape, decoders, reads, fill, file=file, reader=reader,
        source_key=source_key, prefix=prefix,
    )  # fmt: skip


def _deflate_only(dcpl: Any) -> bool:
    """Whether the pipeline is deflate alone (its chunks can be decoded part-way: :class:`PrefixChunk`)."""
    return dcpl.get_nfilters() == 1 and int(dcpl.get_filter(0)[0]) == DEFLATE


def reads_chunk_prefixes(dset: Any, *, reader: Any = None) -> bool:
    """Whether reads of ``dset`` decode a chunk only up to the part they need (deflate-only chunks read here).

    Callers showing one plane of a chunk block then ask for the plane, not the
    whole block: the block's later planes are decoded only when asked for.
    """
    try:
        dcpl = _chunked_create_plist(dset, dset.chunks, dset.shape, tuple(0 for _ in dset.shape))
        _pipeline_decoders(dcpl, dset.dtype.itemsize, math.prod(dset.chunks) * dset.dtype.itemsize)
        _checked_source_key(dset.file, reader)
    except _LeftToH5py:
        return False
    return _deflate_only(dcpl) and math.prod(dset.chunks) * dset.dtype.itemsize >= PREFIX_MIN_CHUNK


class _LeftToH5py(Exception):
    """Raised while planning when h5py reads the selection itself (the message says why)."""


def _chunked_create_plist(dset: Any, chunks: Any, shape: tuple, selection: tuple) -> Any:
    """The creation property list of a chunked dataset of plain numbers whose chunks HDF5 can locate."""
    from h5py import h5d

    if not chunks:
        raise _LeftToH5py("not chunked")
    if not isinstance(selection, tuple) or len(selection) != len(shape):
        raise _LeftToH5py("selection is not one item per axis")
    if not _plain_numeric(dset):
        raise _LeftToH5py(f"dtype {dset.dtype} is read by h5py")
    dsid = dset.id
    if not hasattr(dsid, "get_chunk_info_by_coord"):
        raise _LeftToH5py("h5py/HDF5 without chunk queries")
    dcpl = dsid.get_create_plist()
    if dcpl.get_layout() != h5d.CHUNKED:
        raise _LeftToH5py("not a chunked layout")
    return dcpl


def _pipeline_decoders(dcpl: Any, itemsize: int, nbytes: int) -> list[Callable[[Any], Any]]:
    """A decoder for each filter of the pipeline, in the pipeline's order."""
    decoders = []
    for i in range(dcpl.get_nfilters()):
        code, _flags, values, _name = dcpl.get_filter(i)
        decode = _decoder(int(code), tuple(values), itemsize, nbytes)
        if decode is None:
            raise _LeftToH5py(f"filter {code} is decoded by h5py")
        decoders.append(decode)
    return decoders


def _checked_source_key(f: Any, reader: Any) -> tuple:
    """The cache key of a remote file's chunks; ``()`` for a local file (keyed by :func:`_local_source`)."""
    if reader is not None:
        if f.driver != "fileobj":
            raise _LeftToH5py("remote reader but not a file-object file")
        token = _reader_tokens.get(reader)
        if token is None:
            token = _reader_tokens.setdefault(reader, next(_token_counter))
        return ("remote", token)
    if f.driver == "sec2" and f.mode == "r":
        return ()
    raise _LeftToH5py(f"file driver {f.driver!r} in mode {f.mode!r} is read by h5py")


def _touched_parts(selection: tuple, shape: tuple, chunks: tuple) -> list[list[tuple[int, Any, Any]]]:
    """:func:`_axis_parts` of each axis of the selection."""
    per_axis = []
    for item, n, c in zip(selection, shape, chunks, strict=True):
        parts = _axis_parts(item, n, c)
        if parts is None:
            raise _LeftToH5py("empty or unsupported selection")
        per_axis.append(parts)
    return per_axis


def _chunk_reads(
    dsid: Any, shape: tuple, chunks: tuple, per_axis: list[list[tuple[int, Any, Any]]], nfilters: int
) -> list[ChunkRead]:
    """Where each touched chunk is stored (offset None: not allocated) and what part of it goes where."""
    touched = math.prod(len(p) for p in per_axis)
    if touched > MAX_CHUNKS:
        raise _LeftToH5py(f"{touched} chunks touched")
    index = _chunk_index(dsid, shape, chunks, touched)
    reads = []
    for combo in itertools.product(*per_axis):
        coord = tuple(p[0] * c for p, c in zip(combo, chunks, strict=True))
        info = index.get(coord) if index is not None else dsid.get_chunk_info_by_coord(coord)
        inner = tuple(p[1] for p in combo)
        out = tuple(p[2] for p in combo if p[2] is not None)
        if info is None or info.byte_offset is None:
            reads.append(ChunkRead(coord, inner, out))
            continue
        mask = int(info.filter_mask or 0)
        if mask >> nfilters:
            raise _LeftToH5py(f"chunk {coord} has filter mask {mask:#x} for a {nfilters}-filter pipeline")
        reads.append(ChunkRead(coord, inner, out, int(info.byte_offset), int(info.size), mask))
    return reads


def _chunk_index(dsid: Any, shape: tuple, chunks: tuple, touched: int) -> dict[tuple, Any] | None:
    """The whole chunk index from one walk when the selection touches most chunks; None: look chunks up one by one."""
    grid = math.prod(-(-n // c) for n, c in zip(shape, chunks, strict=True))
    if touched >= INDEX_WALK_MIN and hasattr(dsid, "chunk_iter") and touched * 2 >= grid:
        index: dict[tuple, Any] = {}
        dsid.chunk_iter(lambda info: index.__setitem__(tuple(info.chunk_offset), info))
        return index
    return None


def _unallocated_fill(dset: Any, dcpl: Any) -> Any:
    """The value unallocated chunks read as."""
    from h5py import h5d

    if dcpl.get_fill_time() == h5d.FILL_TIME_NEVER or dcpl.fill_value_defined() == h5d.FILL_VALUE_UNDEFINED:
        raise _LeftToH5py("unallocated chunks without a defined fill value")
    return np.asarray(dset.fillvalue, dtype=dset.dtype)


class LocalFile:
    """A duplicate of h5py's descriptor of a local file, and the cache key of the file's chunks.

    One per file identity at a time (:func:`_local_source`), shared by the
    plans reading it and the part-decoded chunks resuming from it; closed
    when the last of them is gone.
    """

    def __init__(self, fd: int, key: tuple) -> None:
        self.fd, self.key = fd, key
        weakref.finalize(self, _close_quietly, fd)


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


_local_files: weakref.WeakValueDictionary[tuple, LocalFile] = weakref.WeakValueDictionary()
_local_files_lock = threading.Lock()


def _local_source(f: Any) -> LocalFile:
    """The shared duplicate of h5py's file descriptor for the file ``f`` is (a new one when none is open)."""
    fd = os.dup(f.id.get_vfd_handle())
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    key = ("local", st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    with _local_files_lock:
        shared = _local_files.get(key)
        if shared is None:
            shared = _local_files[key] = LocalFile(fd, key)
            return shared
    os.close(fd)
    return shared


def read(dset: Any, selection: tuple, *, reader: Any = None) -> np.ndarray | None:
    """``dset[selection]`` read in parallel, or None when the plan says h5py should read it."""
    p = plan(dset, selection, reader=reader)
    return p.read() if p.parallel else None
