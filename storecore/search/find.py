"""``find``: walk a mount and, when asked, into its Zarr stores and HDF5 files, yielding matches.

Object stores are walked with one flat recursive listing (1,000 keys a
request, folders derived from the keys); local folders and depth-limited
walks go one folder at a time.  Containers are read from metadata alone on a
small thread pool while the listing goes on, so matches stream out as soon
as they are known.  Closing the generator or a ``cancel()`` returning True
stops everything promptly.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import os
import posixpath
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..backends.base import Backend, Entry
from ..backends.registry import backend_for
from ..errors import InvalidArgument, StorecoreError
from ..location import Location
from ..logs import describe
from ..readahead import read_ahead
from .criteria import Criteria, json_safe
from .listing import listing_cache
from .metadata import ZARR_META_NAMES, NodeMeta, ReadStats, ZarrReader, container_type, hdf5_nodes

logger = logging.getLogger(__name__)

#: how many containers may be read ahead of the caller
MAX_PENDING_PER_WORKER = 4


@dataclass(frozen=True)
class Match:
    """One search result.

    ``uri`` is a full URI (``…/run.h5::/entry/data`` inside containers);
    ``path`` is relative to the searched location, inner parts joined by
    ``/``; ``size`` is the file size, or the uncompressed size of an array;
    ``attrs`` holds the attributes that matched the ``attrs`` criterion.
    """

    uri: str
    kind: str
    path: str
    size: int | None = None
    mtime: float | None = None
    shape: tuple | None = None
    dtype: Any = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Last component of the path."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (dtype as text, shape as a list)."""
        return {
            "uri": self.uri,
            "kind": self.kind,
            "path": self.path,
            "size": self.size,
            "mtime": self.mtime,
            "shape": list(self.shape) if self.shape is not None else None,
            "dtype": str(self.dtype) if self.dtype is not None else None,
            "attrs": json_safe(self.attrs),
        }


@dataclass
class FindStats(ReadStats):
    """:class:`ReadStats` of one search plus whether it was cancelled and how many matches it gave."""

    matches: int = 0
    cancelled: bool = False
    #: when the listing came from an S3 Inventory: the snapshot's date (results are "as of" it)
    inventory_date: Any = None


def find(
    uri: str | os.PathLike[str] | Location,
    *,
    name: str | list[str] | None = None,
    path: str | list[str] | None = None,
    kind: str | list[str] | None = None,
    min_size: int | str | None = None,
    max_size: int | str | None = None,
    modified_after: Any = None,
    dtype: Any = None,
    shape: Any = None,
    attrs: dict[str, Any] | None = None,
    into_containers: bool = True,
    max_depth: int | None = None,
    cancel: Callable[[], bool] | None = None,
    stats: FindStats | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    inventory: Any = None,
    etag: str | list[str] | None = None,
    storage_class: str | list[str] | None = None,
) -> Iterator[Match]:
    """Search below ``uri`` and yield a :class:`Match` for everything that fits all criteria.

    * ``name`` / ``path``: glob patterns on the base name / the path relative
      to ``uri`` (``*`` crosses ``/``; container inner paths are joined with
      ``/``, e.g. ``"*/entry/data"``); a list means any of them.
    * ``kind``: ``"file"``, ``"dir"``, ``"group"``, ``"array"`` or a list.
      A Zarr store is a ``dir`` and its root group ``store.zarr::/`` a
      ``group``; an HDF5 file is a ``file`` and ``run.h5::/`` its root group.
      Root groups carry the container's attributes; for ``name``/``path``
      globs they are named ``/`` (path ``run.h5/``), so ``"*.h5"`` finds files only.
    * ``min_size`` / ``max_size``: bytes (or ``"10k"``, ``"5M"``); files by
      their size, arrays by their uncompressed size.
    * ``modified_after``: datetime, date, ISO text or POSIX seconds.
    * ``dtype``: ``"float32"``, a numpy dtype, a glob such as ``"int*"``, a
      list of these, or a predicate on the numpy dtype.
    * ``shape``: a tuple with ``None`` for any length and ``...`` for any
      number of dimensions (``(..., 2048, 2048)``), the same as text, or a predicate.
    * ``attrs``: ``{name: value}``; a value matches exactly, by glob for
      strings, by a predicate (callable), or ``...`` for "present".
    * ``into_containers``: look inside Zarr stores and HDF5 files (metadata
      only: never array chunks); ``max_depth``: levels below ``uri``.
    * ``cancel``: polled between steps; returning True ends the walk.
      Closing the generator does the same.  ``stats`` (a :class:`FindStats`)
      receives listing, byte and error counts; unreadable containers are
      skipped and noted there.  ``use_cache``: reuse a fresh listing.
      ``workers``: containers read at once (default 2 locally, 8 remote).
    * ``inventory``: an S3 Inventory of the bucket (``s3://inv-bucket/prefix/``,
      ``…/<source-bucket>/<config-id>/`` or one dated folder; the newest
      manifest is used): files are found from it, sending no request to the
      bucket itself; ``stats.inventory_date`` tells its date.  It answers
      name, path, size, date, ``etag`` and ``storage_class`` (these two need
      an inventory), not container nodes.  See :mod:`storecore.search.inventory`.

    Bad criteria raise :class:`~storecore.errors.InvalidArgument` at once; a
    missing ``uri`` raises :class:`~storecore.errors.NotFound` on the first ``next()``.
    """
    crit = Criteria.build(name=name, path=path, kind=kind, min_size=min_size, max_size=max_size,
                          modified_after=modified_after, dtype=dtype, shape=shape, attrs=attrs)
    _check_search_options(max_depth, inventory, etag, storage_class)
    stats = stats or FindStats()
    if inventory is not None:
        from .inventory import find_in_inventory

        matches = find_in_inventory(inventory, Location.parse(uri), crit, etag=etag, storage_class=storage_class,
                                    max_depth=max_depth, cancel=cancel, stats=stats, make_match=Match)
    else:
        backend, loc = backend_for(uri)
        matches = _Walker(backend, loc, crit, into_containers, max_depth, cancel, stats, use_cache, workers).run()
    return _noting_cancel(matches, cancel, stats)


def _noting_cancel(matches: Iterator[Match], cancel: Callable[[], bool] | None, stats: FindStats) -> Iterator[Match]:
    """``matches``, with ``stats.cancelled`` set however the search ends on a cancel: a consumer that stops on the
    same cancel (the window's stream) closes the search before the search itself looks."""
    try:
        yield from matches
    finally:
        if cancel is not None and cancel():
            stats.cancelled = True


def _check_search_options(
    max_depth: int | None, inventory: Any, etag: str | list[str] | None, storage_class: str | list[str] | None
) -> None:
    """Raise ``InvalidArgument`` for a bad ``max_depth``, or inventory-only criteria without an inventory."""
    if max_depth is not None and (not isinstance(max_depth, int) or max_depth < 0):
        raise InvalidArgument(f"max_depth must be a non-negative integer, not {max_depth!r}")
    if inventory is None and (etag is not None or storage_class is not None):
        raise InvalidArgument("etag and storage_class criteria are answered from an S3 Inventory: pass inventory=")


class _Walker:
    """The state of one search: the listing side and the container-reading pool."""

    def __init__(
        self,
        backend: Backend,
        loc: Location,
        crit: Criteria,
        into_containers: bool,
        max_depth: int | None,
        cancel: Callable[[], bool] | None,
        stats: FindStats,
        use_cache: bool,
        workers: int | None,
    ) -> None:
        self.backend, self.loc, self.crit = backend, loc, crit
        self.into = into_containers and crit.wants_nodes
        self.max_depth = max_depth
        self.user_cancel = cancel
        self.stats = stats
        self.use_cache = use_cache
        self.local = backend.is_local
        self.workers = workers or (2 if self.local else 8)
        self.stop = threading.Event()
        self.pending: deque[cf.Future] = deque()
        self.pool: cf.ThreadPoolExecutor | None = None
        self.root_key = backend.key(loc.path) if not self.local else loc.path

    # cancellation ----------------------------------------------------------------
    def cancelled(self) -> bool:
        if self.stop.is_set():
            return True
        if self.user_cancel is not None and self.user_cancel():
            self.stop.set()
            self.stats.cancelled = True
            return True
        return False

    # naming ------------------------------------------------------------------------
    def rel(self, entry_path: str) -> str:
        if self.local:
            root = self.loc.path.rstrip("/") + "/"
            if entry_path.startswith(root):
                return entry_path[len(root) :]  # cheaper than os.path.relpath, called for every entry
            return os.path.relpath(entry_path, self.loc.path).replace(os.sep, "/")
        key = self.backend.key(entry_path)
        return key[len(self.root_key) :].lstrip("/") if self.root_key else key

    def uri_of(self, entry_path: str, inner: str | None = None) -> str:
        loc = Location(self.loc.scheme, self.loc.bucket, entry_path if self.local else self.backend.key(entry_path))
        return str(loc.with_inner(inner) if inner is not None else loc)

    # the walk ------------------------------------------------------------------------
    def run(self) -> Iterator[Match]:
        try:
            yield from self._run()
        finally:
            self.stop.set()
            if self.pool is not None:
                self.pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> Iterator[Match]:
        root = self.backend.stat(self.loc.path)
        ctype = container_type(root.name or posixpath.basename(self.loc.path))
        # A file or container searched directly is named by its own name in match paths.
        name = root.name or posixpath.basename(self.loc.path.rstrip("/"))
        if self.loc.inner is not None:
            if ctype is None:
                raise InvalidArgument(f"{self.loc}: an inner path needs a Zarr store or HDF5 file")
            yield from self._container_now(root, ctype, rel=name, depth=0, start=self.loc.inner)
            return
        if not root.is_dir:
            yield from self._emit_file(root, name, 0)
            if ctype == "hdf5" and self.into:
                yield from self._container_now(root, ctype, rel=name, depth=0)
            return
        if ctype == "zarr":
            if self.into:
                yield from self._container_now(root, ctype, rel=name, depth=0)
            return
        if self.local or self.max_depth is not None:
            yield from self._walk_tree()
        else:
            yield from self._walk_flat()
        yield from self._drain(block=True)

    def _match(self, kind: str, name: str, rel: str, size: Any, mtime: Any, uri: str, node: NodeMeta | None = None) -> Match | None:
        got = self.crit.match(
            kind=kind,
            name=name,
            relpath=rel,
            size=size,
            mtime=mtime,
            shape=node.shape if node else None,
            dtype=node.dtype if node else None,
            attrs=node.attrs if node else None,
        )
        if got is None:
            return None
        self.stats.matches += 1
        return Match(uri, kind, rel, size, mtime, node.shape if node else None, node.dtype if node else None, got)

    def _emit_file(self, e: Entry, rel: str, depth: int) -> Iterator[Match]:
        m = self._match("dir" if e.is_dir else "file", e.name, rel or e.name, e.size, e.mtime, self.uri_of(e.path))
        if m is not None:
            yield m

    def _walk_tree(self) -> Iterator[Match]:
        """Folder by folder (depth first): cheap locally, and prunes at ``max_depth``."""
        stack: list[tuple[str, int]] = [(self.loc.path, 0)]
        while stack:
            if self.cancelled():
                return
            folder, depth = stack.pop()
            subdirs: list[tuple[str, int]] = []
            try:
                pages = self.backend.ls_pages(folder)
                for page in pages:
                    self.stats.pages += 1
                    for e in sorted(page, key=lambda x: x.name):
                        if self.cancelled():
                            return
                        self.stats.entries += 1
                        d = depth + 1
                        rel = self.rel(e.path)
                        yield from self._emit_file(e, rel, d)
                        ctype = container_type(e.name)
                        if e.is_dir and ctype == "zarr":
                            if self.into:
                                self._submit(e, ctype, rel, d, None)
                        elif e.is_dir:
                            # Symbolic links to folders are listed, not followed (as `find` does): no loops.
                            if (self.max_depth is None or d < self.max_depth) and not (self.local and os.path.islink(e.path)):
                                subdirs.append((e.path, d))
                        elif ctype == "hdf5" and self.into:
                            self._submit(e, ctype, rel, d, None)
                        yield from self._drain()
            except StorecoreError as exc:
                if depth == 0:
                    raise
                self.stats.add_error(str(exc))  # an unreadable sub-folder is skipped, as `find` does
            stack.extend(reversed(subdirs))

    def _walk_flat(self) -> Iterator[Match]:
        """One recursive listing; folders derived from keys; a Zarr store's keys arrive together."""
        seen_dirs: set[str] = set()
        store: tuple[str, str] | None = None  # (store key, store rel)
        store_keys: dict[str, Entry] = {}

        def flush() -> None:
            nonlocal store, store_keys
            if store is not None and self.into:
                skey, srel = store
                e = Entry(skey, posixpath.basename(skey), None, None, None, True)
                self._submit(e, "zarr", srel, srel.count("/") + 1, store_keys)
            store, store_keys = None, {}

        pages = listing_cache.pages(self.backend, self.loc.path, use_cache=self.use_cache, cancel=self.cancelled)
        for page in self._background(pages):
            if page is None:  # the next page is not there yet: hand out finished container reads
                yield from self._drain()
                continue
            self.stats.pages += 1
            for e in page:
                if self.cancelled():
                    return
                self.stats.entries += 1
                rel = self.rel(e.path)
                parts = rel.split("/")
                zi = next((i for i in range(len(parts) - 1) if container_type(parts[i]) == "zarr"), None)
                ndirs = zi + 1 if zi is not None else len(parts) - 1
                for i in range(ndirs):
                    drel = "/".join(parts[: i + 1])
                    if drel not in seen_dirs:
                        seen_dirs.add(drel)
                        dkey = posixpath.join(self.root_key, drel) if self.root_key else drel
                        m = self._match("dir", parts[i], drel, None, None, self.uri_of(dkey))
                        if m is not None:
                            yield m
                if zi is not None:
                    srel = "/".join(parts[: zi + 1])
                    if store is None or store[1] != srel:
                        flush()
                        store = (posixpath.join(self.root_key, srel) if self.root_key else srel, srel)
                    if parts[-1] in ZARR_META_NAMES:
                        store_keys["/".join(parts[zi + 1 :])] = e
                    continue
                flush()
                yield from self._emit_file(e, rel, len(parts))
                if self.into and container_type(e.name) == "hdf5":
                    self._submit(e, "hdf5", rel, len(parts), None)
            yield from self._drain()
        flush()

    def _background(self, pages: Iterator[list[Entry]]) -> Iterator[list[Entry] | None]:
        """Listing pages fetched on a thread while results stream; ``None`` every 50 ms while waiting
        (a cancel ends the walk); a listing error is raised in the caller's thread."""
        for page in read_ahead(pages, depth=4, stop=self.stop, idle=0.05, name="storecore-find-listing"):
            if page is None and self.cancelled():
                return
            yield page

    # containers ------------------------------------------------------------------------
    def _submit(self, e: Entry, ctype: str, rel: str, depth: int, keys: dict[str, Entry] | None) -> None:
        if self.pool is None:
            self.pool = cf.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="storecore-find")
        self.pending.append(self.pool.submit(self._read_container, e, ctype, rel, depth, keys, None))

    def _read_container(
        self, e: Entry, ctype: str, rel: str, depth: int, keys: dict[str, Entry] | None, start: str | None
    ) -> list[Match]:
        if self.cancelled():
            return []
        with self.stats._lock:
            self.stats.containers += 1
        want_attrs = self.crit.wants_attrs
        out: list[Match] = []
        try:
            if ctype == "zarr":
                prefix = e.path if not start else e.path
                reader = ZarrReader(self.backend, prefix, self.stats, keys, self.cancelled)
                nodes = reader.nodes(want_attrs)
                if start and start != "/":
                    nodes = (n for n in nodes if n.inner == start or n.inner.startswith(start.rstrip("/") + "/"))
            else:
                nodes = hdf5_nodes(self.backend, e.path, self.stats, want_attrs=tuple(self.crit.attrs), mtime=e.mtime,
                                   start=start or "/", cancel=self.cancelled)
            for node in nodes:
                if self.cancelled():
                    break
                inner_rel = node.inner.strip("/")
                if start and start != "/":
                    inner_rel = inner_rel[len(start.strip("/")) :].lstrip("/")
                ndepth = depth + (inner_rel.count("/") + 1 if inner_rel else 0)
                if self.max_depth is not None and ndepth > self.max_depth:
                    continue
                nrel = "/".join(p for p in (rel, node.inner.strip("/")) if p)
                # The root group is named "/" and its glob path ends in "/": "*.h5" finds the file, not it too.
                name = node.name or "/"
                m = self._match(node.kind, name, nrel if node.name else nrel + "/", node.nbytes,
                                node.mtime or e.mtime, self.uri_of(e.path, node.inner), node)
                if m is not None and not node.name:
                    m = dataclasses.replace(m, path=nrel)
                if m is not None:
                    out.append(m)
        except StorecoreError as exc:
            self.stats.add_error(str(exc))
        except Exception as exc:  # noqa: BLE001 - a broken container must not end the search
            logger.debug("_read_container: caught %s", describe(exc))
            self.stats.add_error(f"{self.uri_of(e.path)}: {type(exc).__name__}: {exc}")
        return out

    def _container_now(self, e: Entry, ctype: str, rel: str, depth: int, start: str | None = None) -> Iterator[Match]:
        """Read one container in the caller's thread (the search root itself is a container)."""
        if ctype == "zarr" and not e.is_dir:
            raise InvalidArgument(f"{self.uri_of(e.path)}: a Zarr store must be a folder")
        yield from self._read_container(e, ctype, rel, depth, None, start)

    def _drain(self, block: bool = False) -> Iterator[Match]:
        """Yield the results of finished container reads; wait when too many are pending (or at the end)."""
        limit = 0 if block else self.workers * MAX_PENDING_PER_WORKER
        while self.pending:
            if self.cancelled():
                return
            head = self.pending[0]
            if not head.done():
                done = [f for f in self.pending if f.done()]
                if not done and len(self.pending) <= limit:
                    return
                if not done:
                    cf.wait(list(self.pending), timeout=0.1, return_when=cf.FIRST_COMPLETED)
                    continue
                head = done[0]
            self.pending.remove(head)
            yield from head.result()
