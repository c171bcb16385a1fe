"""The backend protocol every storage implementation follows, and what they share.

A backend is scoped to one root (a local directory, an S3 bucket, a memory
store) and takes ``/``-separated keys relative to it.  Subclasses implement a
handful of primitives (:meth:`Backend.ls_pages`, :meth:`Backend.stat`,
:meth:`Backend._read_range`, :meth:`Backend.write_from`, :meth:`Backend.mkdir`,
:meth:`Backend.delete`); everything else has a working default here, which
fast paths (server-side copy, parallel downloads) override.
"""

from __future__ import annotations

import fnmatch
import io
import posixpath
import tempfile
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from ..errors import IsADirectory, NotADirectory, NotFound
from ..location import Location, normalize_key
from ..tuning import DEFAULT as _DEFAULT_TUNING

#: ``progress(bytes_done, bytes_total_or_None)``: cumulative, may be called from several threads.
ProgressCallback = Callable[[int, "int | None"], None]

COPY_BUFSIZE = _DEFAULT_TUNING.copy_buffer_size


@dataclass(frozen=True)
class Entry:
    """One listing row or :meth:`Backend.stat` result.

    ``path`` is the key to pass back to the same backend; ``size``, ``mtime``
    (POSIX seconds) and ``etag`` are ``None`` where the backend cannot tell
    (directories, S3 common prefixes).
    """

    path: str
    name: str
    size: int | None
    mtime: float | None
    etag: str | None
    is_dir: bool

    @property
    def is_file(self) -> bool:
        """True for files and objects."""
        return not self.is_dir


class Progress:
    """Turns byte increments (as boto3 reports them) into cumulative ``progress`` calls."""

    def __init__(self, callback: ProgressCallback | None, total: int | None = None) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, increment: int) -> None:
        with self._lock:
            self.done += increment
            done = self.done
        if self.callback is not None:
            self.callback(done, self.total)


class ReadCounter:
    """What ranged reads really cost: bytes fetched and requests sent (thread-safe).

    The one stats object of ranged reading: a :class:`RangeFile` counts into
    its own, or into one it is given (several files can share one counter).
    """

    def __init__(self) -> None:
        self.bytes = 0
        self.requests = 0
        self._lock = threading.Lock()

    def add(self, nbytes: int, requests: int = 1) -> None:
        """Account ``requests`` requests that brought ``nbytes`` bytes."""
        with self._lock:
            self.bytes += nbytes
            self.requests += requests

    def __repr__(self) -> str:
        return f"ReadCounter(bytes={self.bytes}, requests={self.requests})"


class BlockCache:
    """An LRU of ``block_size`` blocks in front of ``fetch(start, end)`` (fsspec's ``BlockCache``).

    Small reads hit whole blocks that stay cached (a run of missing blocks is
    one request); a read spanning more than half the cache bypasses it.
    """

    name = "blocks"

    def __init__(self, fetch: Callable[[int, int], bytes], size: int, *, block_size: int, cache_blocks: int) -> None:
        self.fetch = fetch
        self.size = size
        self.block_size = max(4096, int(block_size))
        self.cache_blocks = max(1, int(cache_blocks))
        self._blocks: OrderedDict[int, bytes] = OrderedDict()

    def read(self, offset: int, end: int) -> bytes:
        """Bytes ``[offset, end)`` (``offset < end <= size``); the caller holds the file's lock."""
        bs = self.block_size
        first, last = offset // bs, (end - 1) // bs
        nblocks = last - first + 1
        if nblocks > self.cache_blocks // 2:
            return self.fetch(offset, end)
        missing = [i for i in range(first, last + 1) if i not in self._blocks]
        if missing:
            # One request for the whole run of missing blocks.
            lo, hi = missing[0], missing[-1]
            data = self.fetch(lo * bs, min(self.size, (hi + 1) * bs))
            for i in range(lo, hi + 1):
                self._blocks[i] = data[(i - lo) * bs : (i - lo + 1) * bs]
        parts = []
        for i in range(first, last + 1):
            self._blocks.move_to_end(i)
            parts.append(self._blocks[i])
        while len(self._blocks) > self.cache_blocks:
            self._blocks.popitem(last=False)
        joined = b"".join(parts)
        return joined[offset - first * bs : end - first * bs]


class NoCache(BlockCache):
    """Every read is one request (for sequential streams read once)."""

    name = "none"

    def read(self, offset: int, end: int) -> bytes:
        return self.fetch(offset, end)


#: read caches by name (``RangeFile(..., cache="blocks")``); add one with :func:`register_cache`
CACHES: dict[str, type[BlockCache]] = {"blocks": BlockCache, "none": NoCache}


def register_cache(cls: type[BlockCache], name: str | None = None) -> None:
    """Make ``cls`` (a :class:`BlockCache` subclass) selectable by name in :class:`RangeFile`."""
    CACHES[name or cls.name] = cls


class ReadOnlyFile(io.RawIOBase):
    """The position keeping of a read-only, seekable file of ``size`` bytes (subclasses read at ``_pos``)."""

    size: int
    _pos: int = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek_target(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """The position ``seek(offset, whence)`` aims at (possibly negative)."""
        if whence == io.SEEK_SET:
            return offset
        if whence == io.SEEK_CUR:
            return self._pos + offset
        if whence == io.SEEK_END:
            return self.size + offset
        raise ValueError(f"invalid whence {whence}")

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        pos = self.seek_target(offset, whence)
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos


class RangeFile(ReadOnlyFile):
    """A read-only, seekable file that fetches byte ranges lazily, through a pluggable block cache.

    Works as the file argument of ``h5py.File``: HDF5 metadata reads are small
    and scattered, so they hit ``block_size`` blocks that stay cached, while a
    large read bypasses the cache and costs one request.  ``bytes_fetched`` and
    ``requests`` count what really went over the wire (``stats``, a
    :class:`ReadCounter`, holds them; pass one to share it).  ``cache`` names a
    cache in :data:`CACHES` (``"blocks"``, ``"none"``) or is a cache class.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], bytes],
        size: int,
        *,
        name: str = "",
        block_size: int = 256 * 1024,
        cache_blocks: int = 64,
        cache: str | type[BlockCache] = "blocks",
        stats: ReadCounter | None = None,
    ) -> None:
        super().__init__()
        self._fetch = fetch
        self.size = size
        self.name = name
        self.stats = stats if stats is not None else ReadCounter()
        cache_cls = CACHES[cache] if isinstance(cache, str) else cache
        self.cache = cache_cls(self._get, size, block_size=block_size, cache_blocks=cache_blocks)
        self.block_size = self.cache.block_size
        self.cache_blocks = self.cache.cache_blocks
        self._pos = 0
        self._lock = threading.RLock()

    @property
    def bytes_fetched(self) -> int:
        """Bytes really fetched (whole blocks included)."""
        return self.stats.bytes

    @property
    def requests(self) -> int:
        """Requests really sent."""
        return self.stats.requests

    # io protocol -----------------------------------------------------------
    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.pread(self._pos, len(view))
        n = len(data)
        view[:n] = data
        self._pos += n
        return n

    def readall(self) -> bytes:
        data = self.pread(self._pos, max(0, self.size - self._pos))
        self._pos += len(data)
        return data

    # ranged access ---------------------------------------------------------
    def _get(self, start: int, end: int) -> bytes:
        data = self._fetch(start, end)
        self.stats.add(len(data))
        return data

    def pread(self, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at ``offset`` without moving the file position."""
        end = min(self.size, offset + length)
        if offset >= end:
            return b""
        with self._lock:
            return self.cache.read(offset, end)


class DiscardOnError:
    """A file written in full or not at all: ``discard()``, or leaving a ``with`` block by an exception,
    closes it without storing anything (the class sets ``_discarded``; ``close`` honours it)."""

    _discarded = False

    if TYPE_CHECKING:

        def close(self) -> None: ...  # the file class it is mixed into defines it

    def discard(self) -> None:
        """Close and drop what was written; the target is not touched."""
        self._discarded = True
        self.close()

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self._discarded = True
        self.close()


class SpooledWriter(DiscardOnError, io.RawIOBase):
    """A write-only file that is stored by ``commit(tmp)`` on a clean ``close()``.

    Nothing is visible at the destination until close; if the ``with`` block
    raises, or :meth:`discard` is called, nothing is written at all.
    """

    def __init__(self, commit: Callable[[IO[bytes]], None], *, spool: int = 32 * 1024 * 1024) -> None:
        super().__init__()
        self._tmp = tempfile.SpooledTemporaryFile(max_size=spool)
        self._commit = commit
        self._discarded = False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._tmp.write(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._tmp.seek(offset, whence)

    def tell(self) -> int:
        return self._tmp.tell()

    def close(self) -> None:
        if self.closed:
            return
        try:
            if not self._discarded:
                self._tmp.seek(0)
                self._commit(self._tmp)
        finally:
            self._tmp.close()
            super().close()


def match_filters(name: str, pattern: str | None, extensions: Iterable[str] | None) -> bool:
    """True when ``name`` matches the glob ``pattern`` and one of ``extensions`` (if given)."""
    if pattern is not None and not fnmatch.fnmatchcase(name, pattern):
        return False
    if extensions:
        lower = name.lower()
        return any(lower.endswith(e.lower() if e.startswith(".") else "." + e.lower()) for e in extensions)
    return True


class Backend(ABC):
    """The storage protocol: one root, ``/``-separated keys, bytes in and out.

    ``ls`` streams entries page by page; ``open`` gives a lazy seekable
    reader; every call that moves bytes accepts ``progress(done, total)``.
    Errors are :mod:`storecore.errors` exceptions naming the URI concerned.
    """

    #: scheme used in URIs built by :meth:`uri` (``file``, ``s3``, ``memory`` or an alias)
    scheme: str = ""
    #: bucket / store name ("" for local)
    bucket: str = ""
    #: default block size and number of cached blocks for :meth:`open`
    block_size: int = _DEFAULT_TUNING.read_block_size
    cache_blocks: int = _DEFAULT_TUNING.read_cache_blocks

    # -- capabilities: what callers ask instead of testing the backend's type -------------
    #: keys are files on this machine: :meth:`local_path` gives their path
    is_local: bool = False
    #: every byte costs a round trip: listings are worth caching, reads worth doing in parallel
    is_remote: bool = False
    #: ``_read_range`` fetches only the bytes asked for
    supports_ranged_reads: bool = True
    #: copies between two backends of one service (see :meth:`same_service`) stay on the server
    supports_server_side_copy: bool = False
    #: large objects are written in parts (uploads can resume, parts carry checksums)
    supports_multipart: bool = False
    #: the service keeps a content checksum of every object (MD5 ETag / CRC32), not a version stamp
    supports_checksums: bool = False
    #: one listing by key prefix (``key.``) is cheaper than a ``stat`` of a missing key
    supports_prefix_listing: bool = False
    #: a folder exists through the keys below it: writing a file needs no ``mkdir`` first
    implicit_folders: bool = False
    #: the S3 API through a boto3 ``client`` (``transfer_client()``, ``bucket``): the transfer engine's
    #: parallel ranged downloads, checksummed multipart uploads and the cache's conditional GETs use it
    supports_s3_api: bool = False
    #: file names must be valid file-system names (no ``.``/``..`` segment, at most 255 bytes a segment)
    strict_names: bool = False

    def local_path(self, path: str) -> str | None:
        """The file-system path of ``path`` when the backend is local, else None."""
        return None

    @property
    def storage_options(self) -> dict[str, Any]:
        """What fsspec/polars need to reach this storage (endpoint, region, credentials); empty when local."""
        return {}

    def same_service(self, other: Backend) -> bool:
        """True when a server-side copy from ``other`` to this backend is possible."""
        return False

    @property
    def tuning(self) -> Any:
        """The :class:`~storecore.tuning.Tuning` of this backend's scheme."""
        from ..tuning import tuning_for

        return tuning_for(self.scheme)

    def open_ranged(
        self,
        path: str,
        *,
        block_size: int | None = None,
        cache_blocks: int | None = None,
        cache: str | type[BlockCache] = "blocks",
        stats: ReadCounter | None = None,
    ) -> RangeFile:
        """A seekable reader of ``path`` fetching byte ranges on demand through one block cache.

        ``cache`` names a cache in :data:`CACHES`; ``stats`` (a :class:`ReadCounter`)
        collects the bytes and requests really sent.
        """
        entry = self._check_file(path)
        return RangeFile(
            lambda s, e: self._read_range(path, s, e),
            entry.size or 0,
            name=self.uri(path),
            block_size=block_size or self.block_size,
            cache_blocks=cache_blocks or self.cache_blocks,
            cache=cache,
            stats=stats,
        )

    def find_prefixed(self, key: str, suffixes: Iterable[str]) -> list[tuple[str, str]]:
        """Files ``key + suffix`` beside ``key``, as ``(name, entry_path)``; the cheapest lookup for the backend.

        May return more files whose name starts with the base name (callers filter).
        """
        parent, base = posixpath.split(self.key(key))
        try:
            return [(e.name, e.path) for e in self.ls(self.entry_path(parent), pattern=base + ".*") if not e.is_dir]
        except (NotFound, NotADirectory):
            return []

    # -- primitives --------------------------------------------------------------
    @abstractmethod
    def ls_pages(self, prefix: str = "", recursive: bool = False) -> Iterator[list[Entry]]:
        """Yield pages of entries under ``prefix`` (a directory key).

        Non-recursive listings hold files and sub-directories; recursive ones
        hold every file below ``prefix`` (directories are implied by keys, as
        on an object store).  A missing prefix raises :class:`NotFound`.
        """

    @abstractmethod
    def stat(self, path: str) -> Entry:
        """Return the entry for ``path`` (file or directory); raise ``NotFound`` if absent."""

    @abstractmethod
    def _read_range(self, path: str, start: int, end: int | None) -> bytes:
        """Bytes ``[start, end)`` of the file at ``path`` (``end=None``: to the end)."""

    @abstractmethod
    def write_from(
        self, path: str, fileobj: IO[bytes], *, progress: ProgressCallback | None = None, size: int | None = None
    ) -> None:
        """Store everything readable from ``fileobj`` at ``path``, atomically, replacing it."""

    @abstractmethod
    def mkdir(self, path: str, exist_ok: bool = True) -> None:
        """Create the directory ``path`` and its parents."""

    @abstractmethod
    def delete(self, path: str, recursive: bool = True) -> None:
        """Delete a file, or a directory tree (``recursive=False`` refuses a non-empty one)."""

    # -- naming --------------------------------------------------------------------
    def key(self, path: str) -> str:
        """Normalise ``path`` to a key under this root; refuse keys that escape it."""
        return normalize_key(path, text=self.uri(path) if isinstance(path, str) else None)

    def entry_path(self, key: str) -> str:
        """The ``Entry.path`` form of a normalised key."""
        return key

    def location(self, path: str) -> Location:
        """The :class:`~storecore.Location` of ``path`` in this backend."""
        return Location(self.scheme, self.bucket, self.entry_path(normalize_key(path)))

    def uri(self, path: str = "") -> str:
        """The URI text of ``path`` (never contains credentials)."""
        return f"{self.scheme}://{self.bucket}/{path.lstrip('/')}"

    def ls_pages_ramped(self, prefix: str, first: int, page: int) -> Iterator[list[Entry]]:
        """A recursive listing whose first page is small where pages cost time per key (object stores).

        The default lists as :meth:`ls_pages` does.
        """
        return self.ls_pages(prefix, recursive=True)

    def part_size_of(self, path: str) -> int | None:
        """The part size a multipart object was written with (its composite checksum needs it), else None."""
        return None

    def upload_file(self, filename: str, path: str, *, progress: ProgressCallback | None = None) -> None:
        """Store the local file ``filename`` at ``path`` (backends with multipart uploads read it part by part)."""
        import os

        with open(filename, "rb") as f:
            self.write_from(path, f, progress=progress, size=os.fstat(f.fileno()).st_size)

    def copy_object_from(self, source: Backend, src: str, dst: str, *, progress: ProgressCallback | None = None) -> None:
        """Copy one file from ``source`` to ``dst`` here (server-side where :meth:`same_service` says so)."""
        entry = source._check_file(src)
        with source.open_stream(src) as f:
            self.write_from(dst, f, progress=progress, size=entry.size)

    # -- derived operations ----------------------------------------------------------
    def ls(
        self,
        prefix: str = "",
        recursive: bool = False,
        *,
        pattern: str | None = None,
        extensions: Iterable[str] | None = None,
    ) -> Iterator[Entry]:
        """Yield entries under ``prefix`` incrementally; ``pattern`` globs the name."""
        for page in self.ls_pages(prefix, recursive):
            for entry in page:
                if match_filters(entry.name, pattern, extensions):
                    yield entry

    def exists(self, path: str) -> bool:
        """True when a file or directory exists at ``path``."""
        try:
            self.stat(path)
        except NotFound:
            return False
        return True

    def is_file(self, path: str) -> bool:
        """True when ``path`` is a file/object."""
        try:
            return not self.stat(path).is_dir
        except NotFound:
            return False

    def is_dir(self, path: str) -> bool:
        """True when ``path`` is a directory/prefix."""
        try:
            return self.stat(path).is_dir
        except NotFound:
            return False

    def read_bytes(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        """Read the file, or bytes ``[start, end)`` of it (end exclusive, as in fsspec).

        Negative ``start``/``end`` count from the end of the file.
        """
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.stat(path).size or 0
            start = max(0, size + start) if start is not None and start < 0 else start
            end = max(0, size + end) if end is not None and end < 0 else end
        start = start or 0
        if end is not None and end <= start:
            self._check_file(path)
            return b""
        return self._read_range(path, start, end)

    def _check_file(self, path: str) -> Entry:
        entry = self.stat(path)
        if entry.is_dir:
            raise IsADirectory(f"{self.uri(path)} is a directory", path=self.uri(path))
        return entry

    def open(self, path: str, mode: str = "rb", *, block_size: int | None = None, cache_blocks: int | None = None) -> IO[bytes]:
        """Open ``path``: ``"rb"`` gives a lazy, seekable reader; ``"wb"`` an atomic writer.

        The reader fetches byte ranges on demand (``block_size`` blocks, an LRU
        of ``cache_blocks``), so ``h5py.File(backend.open(key))`` reads only the
        parts of a remote file it needs.  The writer stores its content when it
        is closed without error, and nothing at all otherwise.
        """
        if mode in ("wb", "w"):
            return SpooledWriter(lambda tmp: self.write_from(path, tmp))  # type: ignore[return-value]
        if mode not in ("rb", "r"):
            raise ValueError(f"unsupported mode {mode!r} (use 'rb' or 'wb')")
        return self.open_ranged(path, block_size=block_size, cache_blocks=cache_blocks)  # type: ignore[return-value]

    def open_stream(self, path: str) -> IO[bytes]:
        """A sequential reader for streaming the whole object (no random access needed)."""
        return self.open(path, "rb", block_size=COPY_BUFSIZE, cache_blocks=2)

    def read_to(self, path: str, fileobj: IO[bytes], *, progress: ProgressCallback | None = None) -> int:
        """Stream the whole file into ``fileobj`` in bounded memory; return the byte count."""
        entry = self._check_file(path)
        with self.open_stream(path) as src:
            return copy_stream(src, fileobj, Progress(progress, entry.size))

    def write_bytes(self, path: str, data: bytes, *, progress: ProgressCallback | None = None) -> None:
        """Store ``data`` at ``path`` atomically, replacing what was there."""
        self.write_from(path, io.BytesIO(data), progress=progress, size=len(data))

    def copy(self, src: str, dst: str, *, progress: ProgressCallback | None = None) -> None:
        """Copy a file or a directory tree within this backend (``dst`` becomes the copy)."""
        entry = self.stat(src)
        if entry.is_dir:
            skey, dkey = self.key(src), self.key(dst)
            for child in self.ls(src, recursive=True):
                rel = self.key(child.path)[len(skey) :].lstrip("/")
                self._copy_file(child.path, posixpath.join(dkey, rel) if dkey else rel, progress)
            return
        self._copy_file(src, dst, progress)

    def _copy_file(self, src: str, dst: str, progress: ProgressCallback | None) -> None:
        entry = self._check_file(src)
        with self.open_stream(src) as f:
            self.write_from(dst, f, progress=progress, size=entry.size)

    def move(self, src: str, dst: str, *, progress: ProgressCallback | None = None) -> None:
        """Move a file or tree within this backend; the source goes only after the copy is complete."""
        self.copy(src, dst, progress=progress)
        self.delete(src, recursive=True)

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections and pools (the backend can still be used afterwards)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uri('')}>"


def copy_stream(src: IO[bytes], dst: IO[bytes], progress: Progress | None = None) -> int:
    """Copy ``src`` to ``dst`` in ``COPY_BUFSIZE`` chunks; return the byte count."""
    n = 0
    while True:
        chunk = src.read(COPY_BUFSIZE)
        if not chunk:
            return n
        dst.write(chunk)
        n += len(chunk)
        if progress is not None:
            progress(len(chunk))


__all__ = [
    "CACHES",
    "Backend",
    "BlockCache",
    "Entry",
    "NoCache",
    "Progress",
    "ProgressCallback",
    "RangeFile",
    "ReadCounter",
    "ReadOnlyFile",
    "SpooledWriter",
    "copy_stream",
    "register_cache",
]
