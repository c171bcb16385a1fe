"""One file between two backends by the transfer engine's verified routes, in a queue or on its own.

:func:`move_bytes` is the route every file of a :class:`~storecore.transfer.queue.TransferQueue` job takes
(server-side copy, checksummed multipart upload or download, or a hashed stream); :func:`copy_verified`
runs the same route for one file outside any queue — what ``storecore.transfer.copy``, AutoStore and the
FileManager use — so there is one copy engine, and every copy is verified (size and checksum) before a
move deletes its source.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from ..backends.base import COPY_BUFSIZE, Backend, Entry, ProgressCallback
from ..errors import ChecksumMismatch, InvalidArgument, IsADirectory
from ..tuning import tuning_for
from .multipart import DownloadState, UploadState, range_reader, retrying, server_copy
from .multipart import download as download_parts
from .multipart import upload as upload_parts
from .objects import Standalone as _ObjectControl
from .objects import part_pool, upload_part_size
from .verify import MD5, check, checksum_kind, content_etag, parts_of

#: (source checksum, destination checksum, source already gone, destination size if proven else None)
Moved = tuple[str | None, str | None, bool, int | None]


@dataclass
class Route:
    """What a file's copy needs from whoever runs it: part size, the part pool, and resumable states."""

    part_size: int
    executor: Executor
    durable: bool = True
    #: downloads of at least this many bytes in several parts write around the page cache (0: never)
    direct_min: int = 0
    #: parts of one upload read and not yet sent (None: as many as the pool runs)
    max_in_flight: int | None = None
    #: destination URI -> unfinished multipart upload / partial download (kept for a retry to resume)
    uploads: dict[str, UploadState] = field(default_factory=dict)
    downloads: dict[str, DownloadState] = field(default_factory=dict)


def _keep(store: dict[str, Any], key: str, state: Any) -> None:
    if state is None:
        store.pop(key, None)
    else:
        store[key] = state


def move_bytes(ctx: Any, sb: Backend, sentry: Entry, db: Backend, dpath: str, route: Route, *,
               op: str = "copy") -> Moved:  # fmt: skip
    """Move one file's bytes by the best route; ``ctx`` is the file's :class:`~storecore.transfer.multipart.Control` (plus
    ``check_source``, ``fresh`` and ``duri`` as :class:`Standalone` has them)."""
    size = sentry.size or 0
    src_etag = content_etag(sentry)
    duri = ctx.duri or db.uri(dpath)
    if db.supports_s3_api:
        return _to_object_store(ctx, sb, sentry, db, dpath, route, duri, src_etag)
    if db.is_local and sb.supports_s3_api:
        target = db.local_path(dpath)
        assert target is not None
        src_sum, dst_sum = download_parts(
            ctx, sb, sb.key(sentry.path), size, src_etag, target, part_size=route.part_size, executor=route.executor,
            state=route.downloads.get(duri), on_state=lambda s: _keep(route.downloads, duri, s),
            durable=route.durable, fresh=ctx.fresh, direct_min=route.direct_min,
        )
        return src_sum, dst_sum, False, size  # every part was counted to its last byte
    if op == "move" and sb is db and sb.is_local:
        sb.move(sentry.path, dpath)  # a rename: the bytes never move
        ctx.add_bytes(size)
        return None, None, True, None
    return retrying(ctx, duri, lambda: stream_copy(ctx, sb, sentry, db, dpath, src_etag))


def _to_object_store(ctx: Any, sb: Backend, sentry: Entry, db: Backend, dpath: str, route: Route, duri: str,
                     src_etag: str | None) -> Moved:  # fmt: skip
    """Server-side copy on one service, else the checksummed parallel parts of a multipart upload."""
    size = sentry.size or 0
    dkey = db.key(dpath)
    if not dkey:
        raise InvalidArgument(f"{duri}: cannot write a file at the bucket root")
    if db.supports_server_side_copy and db.same_service(sb):
        etag = server_copy(ctx, sb, sb.key(sentry.path), db, dkey, size)
        if src_etag and parts_of(src_etag) != parts_of(etag):
            return None, etag, False, None  # the copy was re-chunked: size is what can be compared
        return src_etag, etag, False, None
    if src_etag:
        # An S3 source: MD5s of the bytes read can be checked against its ETag too.
        ctx.checksum = "md5"
    with range_reader(sb, sentry.path) as read:
        src_sum, dst_sum = upload_parts(
            ctx, read, size, db, dkey, part_size=route.part_size, executor=route.executor,
            state=route.uploads.get(duri), on_state=lambda s: _keep(route.uploads, duri, s),
            check_source=ctx.check_source, max_in_flight=route.max_in_flight,
        )
    if src_etag and checksum_kind(src_etag) == checksum_kind(src_sum) and \
            parts_of(src_etag) == parts_of(src_sum) and src_etag != src_sum:
        raise ChecksumMismatch(f"{sb.uri(sentry.path)}: bytes read do not match its ETag {src_etag}",
                               path=sb.uri(sentry.path))
    # The server's checksum covers exactly the bytes read (size included): no HEAD needed.  Without
    # checksums, the accepted requests' Content-Lengths (the parts were counted too) are the size.
    proven = size if (src_sum and src_sum == dst_sum) or not ctx.verify else None
    # The upload ran the source check after reading its last byte and before the object was created: a
    # second one now would stat the file again and prove nothing more about the bytes sent.
    ctx.check_source = None
    return src_sum, dst_sum, False, proven


def stream_copy(ctx: Any, sb: Backend, sentry: Entry, db: Backend, dpath: str, src_etag: str | None) -> Moved:
    """Copy through a stream, hashing what passes; the destination appears only when complete."""
    h = hashlib.md5(usedforsecurity=False)
    n = 0
    try:
        with contextlib.closing(sb.open_stream(sentry.path)) as f, db.open(dpath, "wb") as out:
            while True:
                ctx.check()
                chunk = f.read(COPY_BUFSIZE)
                if not chunk:
                    break
                h.update(chunk)
                out.write(chunk)
                n += len(chunk)
                ctx.add_bytes(len(chunk))
    except BaseException:
        ctx.add_bytes(-n)
        raise
    got = h.hexdigest()
    if src_etag and checksum_kind(src_etag) == MD5 and src_etag != got:
        raise ChecksumMismatch(f"{sb.uri(sentry.path)}: bytes read do not match its checksum {src_etag}",
                               path=sb.uri(sentry.path))
    dentry = db.stat(dpath)
    dst_sum = content_etag(dentry) or got
    return got, dst_sum, False, dentry.size


def source_guard(backend: Backend, path: str, size: int | None = None,
                 listed: os.stat_result | None = None) -> Callable[[], None] | None:  # fmt: skip
    """For a local source: a check that raises :class:`ChecksumMismatch` when the file is no longer the one that
    was there now (size, mtime_ns, inode), e.g. rewritten in place while it was read.  None for other backends.

    ``listed``: the file's stat as its listing took it (then taken as the baseline: no stat here, and a change
    since the listing counts too).  ``size``: the size the copy will read (the listed one): a file of another size
    now is refused at once, since reading the listed size of it would copy a part of a newer version."""
    full = backend.local_path(path)
    if full is None:
        return None
    if listed is not None:
        st = listed
    else:
        try:
            st = os.stat(full)
        except OSError:
            return None  # reading it fails with its own error
    before = (st.st_size, st.st_mtime_ns, st.st_ino)
    if size is not None and st.st_size != size:
        raise ChecksumMismatch(f"{full}: the file changed since it was listed ({st.st_size} bytes, listed with "
                               f"{size})", path=full)

    def check() -> None:
        try:
            now = os.stat(full)
            after: tuple[int, int, int] | None = (now.st_size, now.st_mtime_ns, now.st_ino)
        except OSError:
            after = None
        if after != before:
            raise ChecksumMismatch(f"{full}: the file changed while it was copied (size, time or inode differ); "
                                   "the copy matches no version of it", path=full)

    return check


class Standalone(_ObjectControl):
    """The :class:`~storecore.transfer.multipart.Control` of one file copied outside a queue (see :func:`copy_verified`)."""

    def __init__(self, progress: ProgressCallback | None, total: int | None, *,
                 cancel: Callable[[], bool] | None = None, verify: bool = True) -> None:  # fmt: skip
        super().__init__(progress, total, cancel=cancel, verify=verify)
        #: raises when a local source changed while it was read (see :func:`source_guard`)
        self.check_source: Callable[[], None] | None = None
        #: True when no file was at the destination (a download then keeps no old mode)
        self.fresh = False
        #: the destination's URI
        self.duri: str | None = None


_route_lock = threading.Lock()
_routes: dict[str, Route] = {}


def standalone_route(scheme: str = "s3") -> Route:
    """The shared :class:`Route` of copies outside a queue: the scheme's single-object part size, parallel
    parts and memory (``Tuning.multipart_chunksize``, ``max_concurrency``, ``object_memory``)."""
    with _route_lock:
        route = _routes.get(scheme)
        if route is None:
            tuning = tuning_for(scheme)
            part_size = upload_part_size(tuning)
            route = _routes[scheme] = Route(part_size, part_pool(tuning.max_concurrency),
                                            direct_min=int(tuning.transfer_direct_min),
                                            max_in_flight=max(1, int(tuning.object_memory) // part_size))
        return route


def copy_verified(
    sb: Backend,
    spath: str,
    db: Backend,
    dpath: str,
    *,
    progress: ProgressCallback | None = None,
    cancel: Callable[[], bool] | None = None,
    verify_bytes: bool = True,
) -> int:
    """Copy one file from ``sb`` to ``db`` by the transfer engine's route and verify it; return its size.

    Sizes are always compared; with ``verify_bytes`` (the default) checksums too (CRC32 or MD5/ETags, as the
    transfer queue does).  A failed copy leaves nothing at ``dpath`` that was not there before (uploads are
    aborted, downloads land in a temporary file first) and raises :class:`ChecksumMismatch` on a mismatch.
    """
    sentry = sb.stat(spath)
    if sentry.is_dir:
        raise IsADirectory(f"{sb.uri(spath)} is a directory", path=sb.uri(spath))
    ctx = Standalone(progress, sentry.size, cancel=cancel, verify=verify_bytes)
    ctx.check_source = source_guard(sb, sentry.path)
    ctx.duri = db.uri(dpath)
    shared = standalone_route(sb.scheme if sb.supports_s3_api else db.scheme)
    route = Route(shared.part_size, shared.executor, max_in_flight=shared.max_in_flight)  # its own states: nothing resumes a copy outside a queue
    try:
        src_sum, dst_sum, gone, dsize = move_bytes(ctx, sb, sentry, db, dpath, route)
        if ctx.check_source is not None and not gone:
            ctx.check_source()
        if dsize is None:
            dsize = db.stat(dpath).size
        check(sb.uri(sentry.path), ctx.duri, sentry.size, dsize, src_sum, dst_sum)
    finally:
        # A failed copy leaves no multipart upload or temporary file behind.
        for upload_state in route.uploads.values():
            upload_state.abort()
        for download_state in route.downloads.values():
            download_state.abort()
    return sentry.size or 0


__all__ = ["Route", "Moved", "move_bytes", "stream_copy", "source_guard", "Standalone", "standalone_route",
           "copy_verified"]
