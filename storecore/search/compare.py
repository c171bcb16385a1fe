"""``compare``: what differs between two locations (rclone ``check`` style), and a sync plan from it.

Files are paired by their path relative to each side.  Sizes decide first;
with ``deep=True`` files of equal size are compared by content hash: S3 and
memory ETags are used when they are plain MD5s (or a multipart ETag is
recomputed from the other side), otherwise the bytes are streamed and hashed.
Nothing is ever deleted here; :func:`sync_plan` only proposes copies.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..backends.base import Backend, Entry
from ..backends.registry import backend_for
from ..errors import Cancelled, InvalidArgument, NotFound
from ..location import Location

STATUSES = ("only_a", "only_b", "differ", "same")
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART_RE = re.compile(r"^([0-9a-f]{32})-(\d+)$")
_HASH_BUFSIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class CompareEntry:
    """One compared path: ``status`` is ``only_a``, ``only_b``, ``differ`` or ``same``.

    ``a_uri``/``b_uri`` are where the file is (or would be) on each side;
    ``reason`` says why files differ (``"size"`` or ``"checksum"``).
    """

    path: str
    status: str
    a_uri: str
    b_uri: str
    a_size: int | None = None
    b_size: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "path": self.path,
            "status": self.status,
            "a": self.a_uri,
            "b": self.b_uri,
            "a_size": self.a_size,
            "b_size": self.b_size,
            "reason": self.reason,
        }


def _child(loc: Location, rel: str) -> str:
    return str(loc.join(rel)) if rel else str(loc)


def _rel(backend: Backend, loc: Location, entry: Entry) -> str:
    if loc.is_local:
        return os.path.relpath(entry.path, loc.path).replace(os.sep, "/")
    root = backend.key(loc.path)
    key = backend.key(entry.path)
    return key[len(root) :].lstrip("/") if root else key


def _files(backend: Backend, loc: Location, cancel: Callable[[], bool] | None) -> Iterator[tuple[str, Entry]]:
    for page in backend.ls_pages(loc.path, recursive=True):
        if cancel is not None and cancel():
            raise Cancelled(f"compare of {loc} cancelled")
        for e in page:
            yield _rel(backend, loc, e), e


def compare(
    a_uri: str | os.PathLike[str] | Location,
    b_uri: str | os.PathLike[str] | Location,
    deep: bool = False,
    *,
    include_same: bool = True,
    cancel: Callable[[], bool] | None = None,
    inventory_a: Any = None,
    inventory_b: Any = None,
) -> Iterator[CompareEntry]:
    """Compare the files below ``a_uri`` with those below ``b_uri`` (any two backends).

    Yields one :class:`CompareEntry` per path: first A's files as they are
    listed (``only_a``, ``differ`` or ``same``), then B's leftovers
    (``only_b``).  A missing ``b_uri`` makes everything ``only_a``; a missing
    ``a_uri`` raises :class:`~storecore.errors.NotFound`.  Two files can be
    compared directly.  ``cancel()`` returning True raises ``Cancelled``.

    ``inventory_a`` / ``inventory_b`` list a side from its bucket's S3 Inventory
    instead (see :mod:`storecore.search.inventory`): no listing request to that
    bucket; pairs are joined in polars.
    """
    if inventory_a is not None or inventory_b is not None:
        from .inventory import compare_with_inventories

        return compare_with_inventories(a_uri, b_uri, deep, include_same=include_same, cancel=cancel,
                                        inventory_a=inventory_a, inventory_b=inventory_b, make_entry=CompareEntry,
                                        same_content=same_content, list_files=_files)
    ab, al = backend_for(a_uri)
    bb, bl = backend_for(b_uri)
    for loc in (al, bl):
        if loc.inner is not None:
            raise InvalidArgument(f"{loc}: compare works on files and folders, not on container nodes")
    return _compare(ab, al, bb, bl, deep, include_same, cancel)


def _compare(
    ab: Backend, al: Location, bb: Backend, bl: Location, deep: bool, include_same: bool, cancel: Callable[[], bool] | None
) -> Iterator[CompareEntry]:
    a_root = ab.stat(al.path)
    try:
        b_root: Entry | None = bb.stat(bl.path)
    except NotFound:
        b_root = None
    if not a_root.is_dir:
        if b_root is not None and b_root.is_dir:
            bl = bl.join(al.name)
            try:
                b_root = bb.stat(bl.path)
            except NotFound:
                b_root = None
        if b_root is not None and b_root.is_dir:
            raise InvalidArgument(f"{bl}: is a folder, {al} is a file")
        entry = _pair(ab, a_root, bb, b_root, al.name, str(al), str(bl), deep)
        if include_same or entry.status != "same":
            yield entry
        return
    if b_root is not None and not b_root.is_dir:
        raise InvalidArgument(f"{bl}: is a file, {al} is a folder")
    b_files: dict[str, Entry] = dict(_files(bb, bl, cancel)) if b_root is not None else {}
    for rel, a in _files(ab, al, cancel):
        b = b_files.pop(rel, None)
        entry = _pair(ab, a, bb, b, rel, _child(al, rel), _child(bl, rel), deep)
        if include_same or entry.status != "same":
            yield entry
    for rel in sorted(b_files):
        if cancel is not None and cancel():
            raise Cancelled(f"compare of {al} and {bl} cancelled")
        b = b_files[rel]
        yield CompareEntry(rel, "only_b", _child(al, rel), _child(bl, rel), None, b.size)


def _pair(ab: Backend, a: Entry, bb: Backend, b: Entry | None, rel: str, a_uri: str, b_uri: str, deep: bool) -> CompareEntry:
    if b is None:
        return CompareEntry(rel, "only_a", a_uri, b_uri, a.size, None)
    if a.size != b.size:
        return CompareEntry(rel, "differ", a_uri, b_uri, a.size, b.size, "size")
    if deep and not same_content(ab, a, bb, b):
        return CompareEntry(rel, "differ", a_uri, b_uri, a.size, b.size, "checksum")
    return CompareEntry(rel, "same", a_uri, b_uri, a.size, b.size)


def _content_etag(backend: Backend, entry: Entry) -> str | None:
    """The entry's ETag when it is a content hash (S3/memory MD5 or multipart ETag), else None."""
    if not backend.supports_checksums or not entry.etag:
        return None
    etag = entry.etag.strip('"').lower()
    return etag if _MD5_RE.match(etag) or _MULTIPART_RE.match(etag) else None


def file_md5(backend: Backend, path: str, part_size: int | None = None) -> str:
    """MD5 hex of a file's content, or its S3 multipart ETag (``md5-of-md5s-N``) for ``part_size`` parts."""
    whole = hashlib.md5(usedforsecurity=False)
    parts: list[bytes] = []
    part = hashlib.md5(usedforsecurity=False)
    in_part = 0
    f = backend.open_stream(path)
    try:
        while True:
            chunk = f.read(_HASH_BUFSIZE)
            if not chunk:
                break
            if part_size is None:
                whole.update(chunk)
                continue
            view = memoryview(chunk)
            while view:
                take = min(len(view), part_size - in_part)
                part.update(view[:take])
                in_part += take
                view = view[take:]
                if in_part == part_size:
                    parts.append(part.digest())
                    part, in_part = hashlib.md5(usedforsecurity=False), 0
    finally:
        f.close()
    if part_size is None:
        return whole.hexdigest()
    if in_part or not parts:
        parts.append(part.digest())
    return f"{hashlib.md5(b''.join(parts), usedforsecurity=False).hexdigest()}-{len(parts)}"


def _part_sizes(size: int, nparts: int) -> list[int]:
    """Plausible multipart part sizes for an object of ``size`` bytes uploaded in ``nparts`` parts."""
    mib = 1024 * 1024
    candidates = [8 * mib, 5 * mib, 16 * mib, 64 * mib, 100 * mib]
    if nparts > 1:
        guess = -(-size // nparts)
        candidates.append(-(-guess // mib) * mib)
    return [p for p in dict.fromkeys(candidates) if -(-size // p) == nparts]


def same_content(ab: Backend, a: Entry, bb: Backend, b: Entry) -> bool:
    """True when two files of equal size have the same bytes (ETags when comparable, else hashes)."""
    ea, eb = _content_etag(ab, a), _content_etag(bb, b)

    def plain(etag: str | None) -> bool:
        return etag is not None and _MD5_RE.match(etag) is not None

    if ea is not None and eb is not None:
        if ea == eb:
            return True
        if plain(ea) and plain(eb):
            return False
    # A multipart ETag is md5-of-part-md5s: recompute it from the other side's bytes.
    for etag, other_etag, other_backend, other in ((ea, eb, bb, b), (eb, ea, ab, a)):
        m = _MULTIPART_RE.match(etag or "")
        if m and not _MULTIPART_RE.match(other_etag or ""):
            for ps in _part_sizes(other.size or 0, int(m.group(2))):
                if file_md5(other_backend, other.path, ps) == etag:
                    return True
    ha = ea if plain(ea) else file_md5(ab, a.path)
    hb = eb if plain(eb) else file_md5(bb, b.path)
    return ha == hb


def sync_plan(results: Iterable[CompareEntry], *, include_differ: bool = True) -> Iterator[tuple[str, str]]:
    """``(src, dst)`` copies that make B hold everything A has ("sync a→b"); never a deletion.

    ``only_a`` files are copied; ``differ`` files too unless ``include_differ``
    is False.  Feed the pairs to ``storecore.transfer.copy`` or the transfer
    queue (see :func:`group_by_folder`); use :func:`delete_plan` explicitly
    for what exists only in B.
    """
    for r in results:
        if r.status == "only_a" or (include_differ and r.status == "differ"):
            yield r.a_uri, r.b_uri


def delete_plan(results: Iterable[CompareEntry]) -> Iterator[str]:
    """URIs of files that exist only in B (what a mirroring sync would delete, only when asked)."""
    for r in results:
        if r.status == "only_b":
            yield r.b_uri


def group_by_folder(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group ``(src, dst)`` copies by destination folder: ``{dst_folder: [src, ...]}``.

    Each source keeps its name in that folder, which is what the transfer
    queue's ``submit(src_uris, dst_folder)`` expects.
    """
    out: dict[str, list[str]] = {}
    for src, dst in pairs:
        dloc = Location.parse(dst)
        if Location.parse(src).name != dloc.name:
            raise InvalidArgument(f"{src} -> {dst}: a copy into a folder keeps the source name")
        out.setdefault(str(dloc.parent), []).append(src)
    return out


