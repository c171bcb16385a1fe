"""One S3 object in or out through the transfer engine, outside a queue.

The S3 backend's ``read_to``, ``write_from`` and ``upload_file`` and the remote cache's fills use these, so
every S3 byte that storecore moves goes through :mod:`storecore.transfer.multipart`: parallel ranged GETs pinned to one
version by ``If-Match``, checksummed parts, per-part retries with backoff, and a check of the whole
object's checksum (CRC32 where the endpoint keeps one, else MD5/ETag) before anything is reported done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import IO, Any

from ..backends.base import ProgressCallback
from ..errors import Cancelled, ChecksumMismatch, StorecoreError
from .multipart import DownloadState, UploadState, plan_parts, read_into
from .multipart import download as download_parts
from .multipart import upload as upload_parts
from .verify import check


class Standalone:
    """The :class:`~storecore.transfer.multipart.Control` of one object moved outside a queue: progress, optional cancel."""

    def __init__(self, progress: ProgressCallback | None, total: int | None, *,
                 cancel: Callable[[], bool] | None = None, verify: bool = True,
                 max_retries: int = 4, backoff: float = 0.25) -> None:  # fmt: skip
        self.retries = 0
        self.max_retries = max_retries
        self.backoff = backoff
        self.verify = verify
        self.checksum = "crc32"
        self.moved = 0
        self._progress, self._total, self._cancel = progress, total, cancel
        self._lock = threading.Lock()
        self._last = 0.0

    @property
    def cancelled(self) -> bool:
        """True when the caller's ``cancel()`` said so."""
        return bool(self._cancel is not None and self._cancel())

    def check(self) -> None:
        """Raise :class:`Cancelled` when the caller's ``cancel()`` returns True."""
        if self.cancelled:
            raise Cancelled("transfer cancelled")

    def add_bytes(self, n: int) -> None:
        """Count bytes moved and report them (at most every 50 ms, and always at the end)."""
        with self._lock:
            self.moved += n
            moved = self.moved
            now = time.monotonic()
            due = now - self._last >= 0.05 or moved == self._total
            if due:
                self._last = now
        if due and self._progress is not None:
            self._progress(moved, self._total)


#: S3's smallest part (but the last): a smaller configured part size is raised to it for uploads, as boto3 does
MIN_UPLOAD_PART = 5 * 1024 * 1024


def upload_part_size(tuning: Any) -> int:
    """The part size of one object's upload: ``multipart_chunksize``, at least :data:`MIN_UPLOAD_PART`."""
    return max(MIN_UPLOAD_PART, int(tuning.multipart_chunksize))


_pool_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}


def part_pool(concurrency: int) -> Executor:
    """A process-wide pool of ``concurrency`` part workers (one per concurrency: backends share them)."""
    n = max(1, int(concurrency))
    with _pool_lock:
        pool = _pools.get(n)
        if pool is None:
            pool = _pools[n] = ThreadPoolExecutor(n, thread_name_prefix=f"s3-part-{n}")
        return pool


class StreamParts:
    """``read(start, end)`` over a stream read once, front to back, for the parallel parts of :func:`upload`.

    A part asked for before the ones in front of it reads them first and keeps them for their own callers, so
    no caller ever waits for another (at most the parts already being sent are held in memory).
    """

    def __init__(self, stream: IO[bytes], size: int, part_size: int) -> None:
        self.stream = stream
        self.ends = dict(plan_parts(size, part_size))
        self.pos = 0
        self.held: dict[int, bytes] = {}
        self.lock = threading.Lock()

    def __call__(self, start: int, end: int) -> bytes:
        with self.lock:
            if start in self.held:
                return self.held.pop(start)
            if start < self.pos:
                raise StorecoreError(f"a stream cannot be read again from byte {start}")
            while self.pos < start:
                part_end = self.ends[self.pos]
                self.held[self.pos] = self._read(part_end - self.pos)
                self.pos = part_end
            data = self._read(end - start)
            self.pos = end
            return data

    def _read(self, n: int) -> bytes:
        pieces: list[bytes] = []
        left = n
        while left > 0:
            piece = self.stream.read(left)
            if not piece:
                break
            pieces.append(piece)
            left -= len(piece)
        return b"".join(pieces)

    def check_end(self, uri: str) -> None:
        """Raise :class:`ChecksumMismatch` when the stream holds more bytes than the size it was announced with."""
        with self.lock:
            if self.stream.read(1):
                raise ChecksumMismatch(f"{uri}: the source has more bytes than its announced size", path=uri)


def upload(
    db: Any,
    key: str,
    read: Callable[[int, int], bytes],
    size: int,
    *,
    progress: ProgressCallback | None = None,
    check_source: Callable[[], None] | None = None,
) -> str | None:
    """Store ``size`` bytes from ``read(start, end)`` at ``key`` of the S3 backend ``db``; return its checksum.

    Parts of the backend's ``multipart_chunksize`` go out ``max_concurrency`` at a time, each checksummed;
    the object's checksum must equal that of the bytes read, else :class:`ChecksumMismatch`.  A failed upload
    aborts its multipart upload: nothing partial is left.
    """
    ctx = Standalone(progress, size)
    tuning = db.tuning
    states: list[UploadState] = []

    def keep(state: UploadState | None) -> None:
        states[:] = [state] if state is not None else []

    part_size = upload_part_size(tuning)
    try:
        src_sum, dst_sum = upload_parts(
            ctx, read, size, db, key, part_size=part_size, executor=part_pool(tuning.max_concurrency), state=None,
            on_state=keep, check_source=check_source, max_in_flight=max(1, int(tuning.object_memory) // part_size),
        )
    except BaseException:
        for state in states:
            state.abort()
        raise
    check("the bytes read", db.uri(key), None, None, src_sum, dst_sum)
    return dst_sum or src_sum


def download(sb: Any, key: str, write: Callable[[bytes | bytearray], Any], *, size: int, etag: str | None,
             progress: ProgressCallback | None = None) -> str:  # fmt: skip
    """Stream the S3 object ``key`` of ``sb`` to ``write`` in order (parallel ranged GETs pinned by ``If-Match``,
    held in a bounded window); return its checksum once every byte matched it."""
    tuning = sb.tuning
    ctx = Standalone(progress, size)
    return read_into(ctx, sb, key, size, etag, write, part_size=int(tuning.multipart_chunksize),
                     executor=part_pool(tuning.max_concurrency), window_bytes=int(tuning.object_memory))


def download_file(sb: Any, key: str, target: str, *, size: int, etag: str | None,
                  progress: ProgressCallback | None = None, first: tuple[Any, int] | None = None,
                  durable: bool = True) -> str:  # fmt: skip
    """Download the S3 object ``key`` of ``sb`` into the local file ``target`` (written whole or not at all);
    ``first`` is an already open response for its bytes ``[0, n)`` (used as the first part where it fits)."""
    tuning = sb.tuning
    ctx = Standalone(progress, size)
    states: list[DownloadState] = []

    def keep(state: DownloadState | None) -> None:
        states[:] = [state] if state is not None else []

    try:
        _src, got = download_parts(
            ctx, sb, key, size, etag, target, part_size=int(tuning.multipart_chunksize),
            executor=part_pool(tuning.max_concurrency), state=None, on_state=keep, durable=durable, first=first,
        )
    except BaseException:
        for state in states:
            state.abort()
        raise
    return got


__all__ = ["Standalone", "StreamParts", "part_pool", "upload_part_size", "MIN_UPLOAD_PART", "upload", "download", "download_file"]
