"""Copy and move between any two locations, in bounded memory, verified.

Every file takes the transfer queue's own route (:func:`storecore.transfer.onefile.copy_verified`):
server-side on one S3 service, checksummed parallel parts to and from S3, a hashed stream elsewhere
(a 5 GiB object never sits in RAM).  Every copied file is checked for size and checksum before a
move deletes its source.
"""

from __future__ import annotations

import os
import posixpath
import threading
from collections.abc import Callable

from ..backends.base import Backend, ProgressCallback
from ..backends.registry import backend_for
from ..errors import Cancelled, ChecksumMismatch, InvalidArgument
from ..location import Location
from .onefile import copy_verified

Uri = str | os.PathLike[str] | Location


def _check_plain(loc: Location, what: str) -> None:
    if loc.inner is not None:
        raise InvalidArgument(f"{what} {loc} points inside a container; use the transfer queue for container nodes")


def copy_file(
    sb: Backend,
    spath: str,
    db: Backend,
    dpath: str,
    progress: ProgressCallback | None = None,
    expected_size: int | None = None,
    *,
    cancel: Callable[[], bool] | None = None,
) -> int:
    """Copy one file between two backends by the transfer engine's verified route; return its size.

    ``expected_size`` (the size a listing gave) must match what is copied, else :class:`ChecksumMismatch`.
    """
    size = copy_verified(sb, spath, db, dpath, progress=progress, cancel=cancel)
    if expected_size is not None and size != expected_size:
        raise ChecksumMismatch(
            f"{db.uri(dpath)}: size {size} after copy, source {sb.uri(spath)} was listed with {expected_size}",
            path=db.uri(dpath),
        )
    return size


class _TreeProgress:
    """Sums the cumulative progress of files copied one after another."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.finished = 0
        self._lock = threading.Lock()

    def for_file(self) -> ProgressCallback | None:
        if self.callback is None:
            return None

        def report(done: int, _total: int | None) -> None:
            assert self.callback is not None
            self.callback(self.finished + done, None)

        return report

    def file_done(self, size: int) -> None:
        with self._lock:
            self.finished += size


def copy(
    src: Uri,
    dst: Uri,
    progress: ProgressCallback | None = None,
    *,
    cancel: Callable[[], bool] | None = None,
) -> int:
    """Copy a file or a folder/prefix tree from ``src`` to ``dst``; return the bytes copied.

    As with ``cp -r src dst`` when ``dst`` does not exist, ``dst`` becomes the
    copy (a tree's contents land directly under it).  ``progress(done, total)``
    reports cumulative bytes; ``cancel()`` returning True stops between files
    with :class:`~storecore.errors.Cancelled`.
    """
    sb, sl = backend_for(src)
    db, dl = backend_for(dst)
    _check_plain(sl, "source")
    _check_plain(dl, "destination")
    entry = sb.stat(sl.path)
    if not entry.is_dir:
        return copy_file(sb, sl.path, db, dl.path, progress, entry.size, cancel=cancel)
    tree = _TreeProgress(progress)
    skey = sb.key(sl.path)
    db.mkdir(dl.path)
    odd: list[str] = []
    for child in sb.ls(sl.path, recursive=True):
        if cancel is not None and cancel():
            raise Cancelled(f"copy {sl} -> {dl} cancelled")
        below = child.path[len(sl.path) :] if child.path.startswith(sl.path) else child.path
        if any(part in ("", ".", "..") for part in below.removeprefix("/").split("/")):
            odd.append(child.path)  # keys are data: normalising it would copy (or miss) another object
            continue
        rel = sb.key(child.path)[len(skey) :].lstrip("/")
        target = posixpath.join(dl.path, rel) if dl.path else rel
        copy_file(sb, child.path, db, target, tree.for_file(), child.size, cancel=cancel)
        tree.file_done(child.size or 0)
    if odd:
        raise InvalidArgument(
            f"{sb.uri(odd[0])}: a key with an empty, '.' or '..' segment cannot be copied by name "
            f"({len(odd)} such key(s) left out, the other files were copied; the transfer queue lists each)",
            path=sb.uri(odd[0]),
        )
    return tree.finished


def move(src: Uri, dst: Uri, progress: ProgressCallback | None = None) -> int:
    """Move a file or tree: copy, check every file, then delete the source."""
    sb, sl = backend_for(src)
    db, dl = backend_for(dst)
    _check_plain(sl, "source")
    _check_plain(dl, "destination")
    if sb is db:
        entry = sb.stat(sl.path)
        sb.move(sl.path, dl.path, progress=progress)
        return entry.size or 0
    n = copy(sl, dl, progress)
    sb.delete(sl.path, recursive=True)
    return n
