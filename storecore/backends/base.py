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
from typing import IO, Any

from ..errors import IsADirectory, NotFound
from ..location import Location, normalize_key

#: ``progress(bytes_done, bytes_total_or_None)``: cumulative, may be called from several threads.
ProgressCallback = Callable[[int, "int | None"], None]

COPY_BUFSIZE = 8 * 1024 * 1024


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


class RangeFile(io.RawIOBase):
    """A read-only, seekable file that fetches byte ranges lazily, with a block LRU cache.

    Works as the file argument of ``h5py.File``: HDF5 metadata reads are small
    and scattered, so they hit ``block_size`` blocks that stay cached, while a
    large read bypasses the cache and costs one request.  ``bytes_fetched`` and
    ``requests`` count what really went over the wire.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], bytes],
        size: int,
        *,
        name: str = "",
        block_size: int = 256 * 1024,
        cache_blocks: int = 64,
    ) -> None:
        super().__init__()
        self._fetch = fetch
        self.size = size
        self.name = name
        self.block_size = max(4096, int(block_size))
        self.cache_blocks = max(1, int(cache_blocks))
        self._pos = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.RLock()
        self.bytes_fetched = 0
        self.requests = 0

    # io protocol -----------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

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
        self.bytes_fetched += len(data)
        self.requests += 1
        return data

    def pread(self, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at ``offset`` without moving the file position."""
        end = min(self.size, offset + length)
        if offset >= end:
            return b""
        with self._lock:
            bs = self.block_size
            first, last = offset // bs, (end - 1) // bs
            nblocks = last - first + 1
            if nblocks > self.cache_blocks // 2:
                return self._get(offset, end)
            missing = [i for i in range(first, last + 1) if i not in self._blocks]
            if missing:
                # One request for the whole run of missing blocks.
                lo, hi = missing[0], missing[-1]
                data = self._get(lo * bs, min(self.size, (hi + 1) * bs))
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


class SpooledWriter(io.RawIOBase):
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

    def discard(self) -> None:
        """Drop everything written; close without storing."""
        self._discarded = True
        self.close()

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self._discarded = True
        self.close()

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
    block_size: int = 256 * 1024
    cache_blocks: int = 64

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
        entry = self._check_file(path)
        return RangeFile(  # type: ignore[return-value]
            lambda s, e: self._read_range(path, s, e),
            entry.size or 0,
            name=self.uri(path),
            block_size=block_size or self.block_size,
            cache_blocks=cache_blocks or self.cache_blocks,
        )

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


__all__ = ["Backend", "Entry", "Progress", "ProgressCallback", "RangeFile", "SpooledWriter", "copy_stream"]
