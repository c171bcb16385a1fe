"""Zarr chunks compressed by Zstandard alone, decoded only up to the part a read needs.

zarr decodes every chunk a selection touches whole.  A Zstandard frame,
like a deflate stream, decodes from its start and can stop anywhere: for a
frame of a ``(64, 256, 256)`` chunk block (in C order, the chunks' first
planes) :func:`read` decodes each chunk only up to the last byte the
selection needs, and keeps it part-decoded in the decoded-chunk cache
(:data:`storecore.containers.h5chunks.CACHE`, one budget for both formats)
so that the next frame resumes where it stopped.  Frame 0 of the 2 GiB
benchmark volume decodes 1/64 of its 16 chunks.

It applies to arrays whose codecs are exactly ``bytes`` + ``zstd`` (Zarr v3,
zarr's default for numbers) or a ``Zstd`` compressor without filters in C
order (Zarr v2), on a regular chunk grid, holding plain numbers, with chunks
of at least :data:`~storecore.containers.h5chunks.PREFIX_MIN_CHUNK` bytes,
for selections needing less than
:data:`~storecore.containers.h5chunks.PREFIX_BELOW` of some chunk, or
touching chunks decoded here already (a frame further in resumes them).  Anything
else is read by zarr, as before.  Chunks are cached per opening of the store
(a Zarr chunk may be rewritten in place without any metadata changing).
Values equal zarr's own read (``tests/storecore/containers/test_zarr_chunks.py``).
"""

from __future__ import annotations

import io
import itertools
import math
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

import storecore.containers.h5chunks as h5chunks  # the module, not the package: its tuning is read at each call

from ..errors import CorruptData, NotFound

_tokens: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_token_counter = itertools.count()
_token_lock = threading.Lock()


class ZstdPrefixChunk(h5chunks.PartDecodedChunk):
    """A Zstandard-compressed chunk decoded part-way (:class:`~storecore.containers.h5chunks.PartDecodedChunk`).

    ``stored``: the chunk's stored bytes, or a readable file-like object giving them as it goes.
    """

    format = "Zstandard"

    def __init__(self, stored: Any, nbytes: int, dtype: np.dtype, chunks: tuple[int, ...], name: str) -> None:
        import zstandard

        super().__init__(nbytes, dtype, chunks, name)
        self._stored_kept = len(stored) if isinstance(stored, bytes) else 0
        source = io.BytesIO(stored) if isinstance(stored, bytes) else stored
        self._reader: Any = zstandard.ZstdDecompressor().stream_reader(
            source, read_size=h5chunks.PREFIX_STEP, read_across_frames=True
        )

    def _kept(self) -> int:
        return self._stored_kept

    def _release(self) -> None:
        self._reader, self._stored_kept = None, 0

    def _more(self, want: int, need: int) -> bytes:
        try:
            return bytes(self._reader.read(want))
        except Exception as e:  # zstandard.ZstdError: a corrupt frame
            raise CorruptData(f"{self.name}: not a valid Zstandard frame ({e})") from e


_ZSTD_MAGIC = 0xFD2FB528


def zstd_frames_problem(read: Any, size: int, expected: int) -> str | None:
    """What is wrong with ``size`` stored bytes of Zstandard frames that should decode to ``expected`` bytes, from
    the frame and block headers alone (no decoding); None when they are whole.

    ``read(start, n)`` gives stored bytes.  A chunk decoded part-way shows its first values before the decoder
    reaches the end of the frame: without this look, a chunk cut short or followed by junk (which zarr refuses
    whole) would show its first planes as good data and fail only further in.
    """
    pos, frames, declared, all_declared = 0, 0, 0, True

    def short(where: str) -> str:
        return f"is cut short (the stored chunk ends at byte {size}, inside {where})"

    while pos < size:
        head = read(pos, 4)
        if len(head) < 4:
            return short("a frame header") if frames == 0 else f"has {size - pos} bytes after its last frame"
        magic = int.from_bytes(head, "little")
        if 0x184D2A50 <= magic <= 0x184D2A5F:  # a skippable frame: its length follows
            length = read(pos + 4, 4)
            if len(length) < 4 or pos + 8 + int.from_bytes(length, "little") > size:
                return short("a skippable frame")
            pos += 8 + int.from_bytes(length, "little")
            continue
        if magic != _ZSTD_MAGIC:
            return f"has {size - pos} bytes after its last frame" if frames else "is not a Zstandard frame"
        frames += 1
        descriptor = read(pos + 4, 1)
        if not descriptor:
            return short(f"frame {frames}'s header")
        d = descriptor[0]
        if d & 0x08:
            return f"has the reserved bit set in frame {frames}'s header"
        single = (d >> 5) & 1
        fcs_size = (1 if single else 0, 2, 4, 8)[d >> 6]
        pos += 5 + (0 if single else 1) + (0, 1, 2, 4)[d & 3]
        if fcs_size:
            raw = read(pos, fcs_size)
            if len(raw) < fcs_size:
                return short(f"frame {frames}'s header")
            declared += int.from_bytes(raw, "little") + (256 if fcs_size == 2 else 0)
        else:
            all_declared = False
        pos += fcs_size
        while True:  # blocks: a 3-byte header (last flag, type, size), then the block
            header = read(pos, 3)
            if len(header) < 3:
                return short(f"frame {frames}'s blocks")
            value = int.from_bytes(header, "little")
            kind = (value >> 1) & 3
            if kind == 3:
                return f"has a block of the reserved type in frame {frames}"
            pos += 3 + (1 if kind == 1 else value >> 3)
            if pos > size:
                return short(f"frame {frames}'s blocks")
            if value & 1:
                break
        pos += 4 * ((d >> 2) & 1)  # the content checksum
        if pos > size:
            return short(f"frame {frames}'s checksum")
    if frames == 0:
        return "is empty (no Zstandard frame)"
    if all_declared and declared != expected:
        return f"declares {declared} decoded bytes, the chunk holds {expected}"
    return None


@dataclass
class _Layout:
    """What decoding a chunk needs: its shape, the dtype of its bytes, and where its bytes are stored."""

    chunks: tuple[int, ...]
    stored_dtype: np.dtype
    out_dtype: np.dtype
    fill: Any
    encode_key: Any

    @property
    def chunk_nbytes(self) -> int:
        return math.prod(self.chunks) * self.stored_dtype.itemsize


def _layout(array: Any) -> _Layout | None:
    """The chunk layout of a zstd-only zarr array of plain numbers with big enough chunks; None otherwise."""
    try:
        import zstandard  # noqa: F401 - its presence is what makes the frames resumable
        from zarr.codecs import BytesCodec, ZstdCodec
        from zarr.core.chunk_grids import RegularChunkGrid
    except ImportError:
        return None
    meta = array.metadata
    dtype = np.dtype(array.dtype)
    if dtype.kind not in "iufc" or dtype.fields is not None:
        return None
    if meta.zarr_format == 3:
        codecs = tuple(meta.codecs)
        if len(codecs) != 2 or not isinstance(codecs[0], BytesCodec) or not isinstance(codecs[1], ZstdCodec):
            return None
        if not isinstance(meta.chunk_grid, RegularChunkGrid):
            return None
        endian = getattr(codecs[0].endian, "value", None)
        stored = dtype.newbyteorder("<" if endian == "little" else ">") if endian and dtype.itemsize > 1 else dtype
        chunks = tuple(int(c) for c in meta.chunk_grid.chunk_shape)
    elif meta.zarr_format == 2:
        from numcodecs import Zstd

        if meta.filters or not isinstance(meta.compressor, Zstd) or meta.order != "C":
            return None
        stored = np.dtype(meta.dtype.to_native_dtype()) if hasattr(meta.dtype, "to_native_dtype") else dtype
        chunks = tuple(int(c) for c in meta.chunks)
    else:
        return None
    if math.prod(chunks) * dtype.itemsize < h5chunks.PREFIX_MIN_CHUNK:
        return None
    # a v2 fill_value of null: zarr fills never-written chunks of numbers with zeros
    fill = array.fill_value if array.fill_value is not None else np.zeros((), dtype)[()]
    return _Layout(chunks, stored, dtype, fill, meta.encode_chunk_key)


def reads_chunk_prefixes(array: Any) -> bool:
    """Whether :func:`read` decodes ``array``'s chunks part-way (zstd-only chunks of plain numbers, big enough)."""
    try:
        return _layout(array) is not None
    except Exception:  # noqa: BLE001 - metadata of another shape: zarr reads it
        return False


def _token(owner: Any) -> int:
    with _token_lock:
        token = _tokens.get(owner)
        if token is None:
            token = _tokens[owner] = next(_token_counter)
        return token


def read(array: Any, selection: tuple, owner: Any, name: str, folder: str, ranged: bool = False) -> np.ndarray | None:
    """``array[selection]`` (ints and positive-step slices, one per axis) with chunks decoded part-way,
    or None when zarr should read it (not a zstd-only array, or every chunk is needed almost whole).

    ``owner`` is the opening the decoded chunks are cached for (the container: its ``backend`` reads
    the chunk objects below ``folder``, its ``counter`` counts the bytes); ``name`` names the array in
    errors.  ``ranged``: byte ranges are cheap (a local folder): a chunk's stored bytes are read as far
    as the decoder gets, not whole.
    """
    layout = _layout(array)
    if layout is None or len(selection) != len(array.shape):
        return None
    per_axis = []
    for item, n, c in zip(selection, array.shape, layout.chunks, strict=True):
        parts = h5chunks._axis_parts(item, n, c)
        if parts is None:
            return None
        per_axis.append(parts)
    if math.prod(len(p) for p in per_axis) > h5chunks.MAX_CHUNKS:
        return None
    itemsize = layout.stored_dtype.itemsize
    reads = []
    for combo in itertools.product(*per_axis):
        inner = tuple(p[1] for p in combo)
        reads.append(
            (tuple(p[0] for p in combo), inner, tuple(p[2] for p in combo if p[2] is not None),
             h5chunks.needed_bytes(inner, layout.chunks, itemsize))
        )  # fmt: skip
    token = _token(owner)
    if all(need >= layout.chunk_nbytes * h5chunks.PREFIX_BELOW for *_, need in reads) and not any(
        h5chunks.CACHE.peek(("zarr", token, layout.encode_key(coords))) is not None for coords, *_ in reads
    ):
        return None  # whole chunks, none decoded here yet: zarr reads them
    out_shape = tuple(max(p[2].stop for p in parts) for parts in per_axis if parts[0][2] is not None)
    out = np.empty(out_shape, layout.out_dtype)

    def place(coords: tuple, inner: tuple, where: tuple, need: int) -> None:
        key = layout.encode_key(coords)
        cache_key = ("zarr", token, key)
        part = h5chunks.CACHE.get(cache_key)
        if isinstance(part, np.ndarray):
            out[where] = part[inner]
            return
        if part is None:
            path = f"{folder}/{key}"
            stored: _StoredRanges | bytes | None = _StoredRanges(owner, path) if ranged else _get(owner, path)
            if stored is None or (isinstance(stored, _StoredRanges) and not stored.exists()):  # never written
                out[where] = layout.fill
                return
            if isinstance(stored, bytes):
                problem = zstd_frames_problem(lambda s, n: stored[s:s + n], len(stored), layout.chunk_nbytes)
            else:
                problem = zstd_frames_problem(stored.read_at, stored.size(), layout.chunk_nbytes)
            if problem:
                raise CorruptData(f"{name}: chunk {key}: Zstandard data {problem}")
            part = ZstdPrefixChunk(stored, layout.chunk_nbytes, layout.stored_dtype, layout.chunks,
                                   f"{name}: chunk {key}")  # fmt: skip
        out[where] = part.upto(need)[inner]
        h5chunks.CACHE.put(cache_key, part.array if part.complete else part)  # put again: its size grew

    if len(reads) == 1:
        place(*reads[0])
    else:
        pool, _ = h5chunks._pools()
        h5chunks._wait_all([pool.submit(place, *r) for r in reads])
    return np.asarray(out[()]) if out.ndim == 0 else out


class _StoredRanges(io.RawIOBase):
    """A chunk object read by byte ranges through the container's backend, as the decoder asks."""

    def __init__(self, owner: Any, path: str) -> None:
        super().__init__()
        self._owner, self._path = owner, path
        self._pos = 0
        self._first = self._range(0, h5chunks.PREFIX_STEP)

    def _range(self, start: int, end: int) -> bytes | None:
        try:
            return _counted(self._owner, self._owner.backend.read_bytes(self._path, start, end))
        except NotFound:
            return None

    def exists(self) -> bool:
        return self._first is not None

    def size(self) -> int:
        """The chunk object's stored size."""
        if self._first is not None and len(self._first) < h5chunks.PREFIX_STEP:
            return len(self._first)  # the first read got it all
        return int(self._owner.backend.stat(self._path).size)

    def read_at(self, start: int, n: int) -> bytes:
        """``n`` stored bytes from ``start`` (fewer at the end), from the first read where it holds them."""
        if self._first is not None and start + n <= len(self._first):
            return self._first[start:start + n]
        return self._range(start, start + n) or b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._first is not None and self._pos < len(self._first):
            data: bytes | None = self._first[self._pos : self._pos + len(b)]
        else:
            self._first = b""
            data = self._range(self._pos, self._pos + len(b))
        if data is None:
            raise CorruptData(f"chunk {self._path} disappeared while it was read")
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _get(owner: Any, path: str) -> bytes | None:
    """The stored bytes of a chunk object (None when it was never written), through the container's backend."""
    try:
        return _counted(owner, owner.backend.read_bytes(path))
    except NotFound:
        return None


def _counted(owner: Any, data: bytes) -> bytes:
    """``data``, added to the container's byte counters (as its zarr store counts zarr's own reads)."""
    counter = getattr(owner, "counter", None)
    if counter is not None:
        counter.add(len(data))
    return data
