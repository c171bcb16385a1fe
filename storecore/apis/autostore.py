"""AutoStore and AutoPath: dictionary- and pathlib-style access to files on any backend.

A drop-in for the ``autostore`` package on top of storecore's backends, format
handlers and remote cache.  Choices where the original document is vague:

* ``store["key"]`` for a key without extension finds ``key.<known extension>``;
  writing such a key picks the format by type (``dict`` -> ``.json``, polars
  DataFrame -> ``.parquet``, list of dicts -> ``.jsonl``...) and removes other
  ``key.<known extension>`` files, so one extensionless key names one object.
* One parquet/CSV file loads as an eager ``polars.DataFrame``; a directory of
  them (a dataset) loads lazily as a ``LazyFrame`` that also answers
  ``.height`` (by running a row count), so code written for eager frames works.
* A missing key raises :class:`KeyNotFound`, which is both ``FileNotFoundError``
  (storecore's ``NotFound``) and ``KeyError``.
* Remote loads go through the on-disk :class:`~storecore.cache.RemoteCache`
  when ``cache_enabled`` (ETag-validated: one small request per reopen);
  ``ignore_cache=True`` bypasses it.  Local files are never copied.
* Relative local paths given to :class:`AutoPath` are relative to the current
  directory, as with ``pathlib``.  ``parents`` includes the root (``s3://bucket``).
* Pickle (``.pkl``) data is read only when the store is created with
  ``allow_pickle=True``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import fnmatch
import io
import mimetypes
import os
import posixpath
import re
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ..backends.base import Backend
from ..backends.registry import get_backend
from ..errors import (
    FormatError,
    InvalidArgument,
    InvalidLocation,
    IsADirectory,
    NotADirectory,
    NotFound,
    StorecoreError,
)
from ..formats import REGISTRY, Handler, Registry
from ..formats import api as fmt
from ..formats.registry import DataHandlerAdapter as _DataHandlerAdapter
from ..location import Location, known_schemes, scheme_info
from .options import Options, S3Options

if TYPE_CHECKING:
    from ..cache import RemoteCache

_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


class KeyNotFound(NotFound, KeyError):
    """A store key or path does not exist (a ``FileNotFoundError`` and a ``KeyError``)."""


# -- options: Options and S3Options live in storecore.apis.options -------------------------


def _options_class_for(base_scheme: str) -> type[Options]:
    if base_scheme == "s3":
        return S3Options
    return Options


def _build_options(base_scheme: str, options: Options | None, kwargs: dict[str, Any]) -> Options | None:
    """Merge ``options`` with keyword overrides (``AutoStore(uri, options=o, cache_enabled=True)``)."""
    if not kwargs:
        return options
    cls = type(options) if options is not None else _options_class_for(base_scheme)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise InvalidArgument(f"unknown {cls.__name__} fields: {', '.join(unknown)} (valid: {', '.join(sorted(names))})")
    return dataclasses.replace(options, **kwargs) if options is not None else cls(**kwargs)


@dataclass(frozen=True)
class FileMetadata:
    """What :meth:`AutoStore.get_metadata` and :meth:`AutoPath.stat` report."""

    size: int
    modified_time: _dt.datetime | None
    created_time: _dt.datetime | None = None
    content_type: str | None = None
    etag: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def st_size(self) -> int:
        """``os.stat_result``-style alias of :attr:`size`."""
        return self.size

    @property
    def st_mtime(self) -> float | None:
        """``os.stat_result``-style modification time (POSIX seconds)."""
        return self.modified_time.timestamp() if self.modified_time else None


# -- user handlers ---------------------------------------------------------------------
class DataHandler(ABC):
    """The AutoStore handler interface: subclass it and pass it to :meth:`AutoStore.register_handler`.

    ``read_from_file`` / ``write_to_file`` get a local ``Path``; for remote
    stores storecore stages the bytes through a temporary file.
    """

    @abstractmethod
    def can_handle_extension(self, extension: str) -> bool:
        """True when this handler reads files with ``extension`` (``".log"``)."""

    @abstractmethod
    def can_handle_data(self, data: Any) -> bool:
        """True when this handler can write ``data``."""

    @abstractmethod
    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        """Read the file at ``file_path``."""

    @abstractmethod
    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        """Write ``data`` to ``file_path``."""

    @property
    @abstractmethod
    def extensions(self) -> list[str]:
        """The extensions this handler handles; the first is used for new keys."""

    @property
    @abstractmethod
    def priority(self) -> int:
        """Higher wins when several handlers accept the same data or extension."""


# -- lazy datasets -----------------------------------------------------------------------
_dataset_cls: Any = None


def _dataset_frame(lf: Any) -> Any:
    """Wrap a LazyFrame in the subclass that also answers ``.height`` (see the module docstring)."""
    global _dataset_cls
    import polars as pl

    if _dataset_cls is None:

        class _GroupBy:
            def __init__(self, inner: Any) -> None:
                self._inner = inner

            def __getattr__(self, name: str) -> Any:
                attr = getattr(self._inner, name)
                if not callable(attr):
                    return attr

                def call(*a: Any, **k: Any) -> Any:
                    out = attr(*a, **k)
                    return _dataset_frame(out) if isinstance(out, pl.LazyFrame) else out

                return call

        class LazyDataset(pl.LazyFrame):
            """A ``polars.LazyFrame`` over a dataset; ``.height`` counts its rows with a query."""

            @property
            def height(self) -> int:
                return int(self.select(pl.len()).collect().item())

            def group_by(self, *a: Any, **k: Any) -> Any:
                return _GroupBy(super().group_by(*a, **k))

            def rolling(self, *a: Any, **k: Any) -> Any:
                return _GroupBy(super().rolling(*a, **k))

            def group_by_dynamic(self, *a: Any, **k: Any) -> Any:
                return _GroupBy(super().group_by_dynamic(*a, **k))

        _dataset_cls = LazyDataset
    return _dataset_cls._from_pyldf(lf._ldf)


# -- glob helpers ------------------------------------------------------------------------
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``pathlib``-style glob: ``*`` and ``?`` stay within one segment, ``**/`` spans any depth."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape("["))
                i += 1
            else:
                body = pattern[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _literal_prefix(pattern: str) -> str:
    """The leading directories of ``pattern`` that hold no wildcard (where a listing can start)."""
    parts = pattern.split("/")
    fixed = []
    for part in parts[:-1]:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    return "/".join(fixed)


# -- the store ---------------------------------------------------------------------------
class PrimaryBackend:
    """The store's own root: the backend plus helpers the AutoStore document uses."""

    def __init__(self, store: AutoStore) -> None:
        self._store = store

    @property
    def backend(self) -> Backend:
        """The storecore backend serving the store root."""
        return self._store._backend(self._store.root)

    def _path(self, key: str) -> str:
        return self._store._location(key).path

    def is_dataset(self, path: str) -> bool:
        """True when ``path`` is a directory of parquet/CSV files."""
        from ..formats.tables import is_dataset

        return is_dataset(self.backend, self._path(path))

    def is_directory(self, path: str) -> bool:
        """True when ``path`` is a directory (prefix)."""
        return self.backend.is_dir(self._path(path))

    def exists(self, path: str) -> bool:
        """True when the key exists (with or without extension)."""
        return path in self._store

    def list_files(self, pattern: str = "*", recursive: bool = True) -> Iterator[str]:
        """Relative keys matching ``pattern``."""
        return self._store.list_files(pattern, recursive=recursive)

    def __repr__(self) -> str:
        return f"<PrimaryBackend {self._store.root}>"


class AutoStore:
    """Dictionary-style access to files under a local folder or a remote prefix.

    ``AutoStore("./data")``, ``AutoStore(pathlib.Path(...))`` or
    ``AutoStore("s3://bucket/prefix", options=S3Options(...), **overrides)``.
    ``options`` may also be a list (one per scheme) for cross-backend access:
    ``store["minio://bkt/x.json"]`` then uses the ``scheme="minio"`` options.
    Keyword arguments override fields of the (primary) options;
    ``allow_pickle=True`` lets ``.pkl`` files load.  Local writes are atomic
    (temporary file + rename) and, by default, flushed to disk before the
    rename; ``durable=False`` skips the flush (still atomic) for many small files.
    """

    def __init__(
        self,
        storage_uri: str | os.PathLike[str] = ".",
        options: Options | list[Options] | None = None,
        *,
        config: Options | list[Options] | None = None,
        allow_pickle: bool = False,
        durable: bool = True,
        **kwargs: Any,
    ) -> None:
        if options is None:
            options = config
        self.storage_uri = os.fspath(storage_uri)
        self.root = Location.parse(self.storage_uri)
        if self.root.inner is not None:
            raise InvalidLocation(f"{self.storage_uri}: an AutoStore root cannot point inside a container")
        self.scheme = self.root.scheme
        base = self.root.base_scheme
        self._options: dict[str, Options] = {}
        primary: Options | None
        if isinstance(options, list | tuple):
            for opt in options:
                if not isinstance(opt, Options):
                    raise InvalidArgument(f"options must be Options instances, got {type(opt).__name__}")
                self._register_options(opt)
            primary = self._options.get(self.scheme)
            if primary is None and kwargs:
                primary = _build_options(base, None, kwargs)
            elif primary is not None:
                primary = _build_options(base, primary, kwargs)
            if primary is None:
                # The cache settings of a list apply store-wide when the primary has none.
                primary = next((o for o in self._options.values() if o.cache_enabled), None)
                primary = dataclasses.replace(primary, scheme=None) if primary is not None else None
        else:
            if options is not None and not isinstance(options, Options):
                raise InvalidArgument(f"options must be an Options instance or a list, got {type(options).__name__}")
            primary = _build_options(base, options, kwargs)
        self.options: Options = primary if primary is not None else _options_class_for(base)()
        if primary is not None:
            if not self.root.is_local:
                self._options[self.scheme] = primary  # the primary options serve the primary scheme
            elif primary.scheme and primary.scheme != self.scheme and primary.backend_options():
                self._register_options(primary)  # AutoStore("./cache", options=S3Options(scheme="s3", ...))
        self.allow_pickle = allow_pickle
        self.durable = durable
        self._tempdir: str | None = None
        self._tempdir_lock = threading.Lock()
        self.handlers = Registry(parent=REGISTRY)
        self._backends: dict[tuple[str, str], Backend] = {}
        self._used: list[tuple[str, str]] = []
        self._caches: dict[tuple[str, float], RemoteCache] = {}
        self._lock = threading.RLock()
        self.primary_backend = PrimaryBackend(self)

    # -- configuration ------------------------------------------------------------------
    def _register_options(self, opt: Options) -> None:
        scheme = (opt.scheme or self.scheme).lower()
        if scheme not in known_schemes():
            if not opt.backend_options():
                raise InvalidLocation(f"unknown scheme {scheme!r}: register it with AutoStore.register_scheme")
            # Automatic registration: S3Options(scheme="minio") makes minio:// an S3-compatible scheme.
            from ..location import register_scheme

            register_scheme(scheme, "s3")
        self._options[scheme] = opt

    @staticmethod
    def register_scheme(scheme: str, backend: str = "s3") -> None:
        """Make ``scheme://bucket/key`` an S3-compatible (or local/memory) scheme.

        ``backend`` is a module path as in autostore (``"autostore.s3"``,
        ``"storecore.s3"``) or a storecore base scheme (``"s3"``, ``"file"``,
        ``"memory"``).  A scheme that is already registered keeps its options.
        """
        from ..location import register_scheme

        name = backend.lower().rsplit(".", 1)[-1]
        base = {"s3": "s3", "local": "file", "file": "file", "memory": "memory"}.get(name)
        if base is None:
            raise InvalidArgument(f"unknown backend {backend!r} for scheme {scheme!r} (use 'storecore.s3')")
        if scheme.lower() in known_schemes():
            if scheme_info(scheme)[0] != base:
                raise InvalidLocation(f"scheme {scheme!r} is already registered for another backend")
            return
        register_scheme(scheme, base)

    def register_handler(self, handler: Handler | DataHandler) -> None:
        """Add a handler for this store (a storecore :class:`Handler` or an AutoStore :class:`DataHandler`)."""
        if isinstance(handler, DataHandler):
            handler = _DataHandlerAdapter(handler, os.path.join(self._temp(), "handlers"))
        self.handlers.register(handler)

    def _temp(self) -> str:
        with self._tempdir_lock:
            if self._tempdir is None:
                self._tempdir = tempfile.mkdtemp(prefix="storecore-autostore-")
            return self._tempdir

    # -- locations and backends -----------------------------------------------------------
    def _split_query(self, key: str) -> tuple[str, dict[str, Any]]:
        """``"x.csv?format=parquet&ignore_cache"`` -> ``("x.csv", {...})`` (autostore's query syntax)."""
        if "?" not in key:
            return key, {}
        base, _, query = key.partition("?")
        params = parse_qs(query, keep_blank_values=True)
        if not set(params) <= {"format", "ignore_cache"}:
            return key, {}
        out: dict[str, Any] = {}
        if "format" in params:
            out["format"] = params["format"][0]
        if "ignore_cache" in params:
            out["ignore_cache"] = params["ignore_cache"][0].lower() not in ("0", "false", "no")
        return base, out

    def _location(self, key: str | os.PathLike[str] | Location) -> Location:
        if isinstance(key, Location):
            return key
        if isinstance(key, AutoPath):
            return key.location
        if isinstance(key, os.PathLike):
            key = os.fspath(key)
        if not isinstance(key, str):
            raise InvalidArgument(f"a key must be a string, got {type(key).__name__}")
        if _URI_RE.match(key):
            return Location.parse(key)
        if not key.strip():
            raise InvalidLocation("empty key")
        return self.root.join(key.replace("\\", "/"))

    def _backend(self, loc: Location) -> Backend:
        """The backend for ``loc``: built with this store's options for its scheme, else the shared one."""
        key = (loc.scheme, loc.bucket)
        backend = self._backends.get(key)
        if backend is not None:
            return backend
        opts = self._options.get(loc.scheme)
        extra = opts.backend_options() if opts is not None else {}
        base, registered = scheme_info(loc.scheme)
        with self._lock:
            backend = self._backends.get(key)
            if backend is None:
                if extra and base == "s3":
                    from ..backends.s3 import S3Backend

                    backend = S3Backend(loc.bucket, scheme=loc.scheme, **{**registered, **extra})
                    self._backends[key] = backend
                else:
                    # Shared backends stay owned by the registry (re-registering a scheme replaces them).
                    backend = get_backend(loc.scheme, loc.bucket)
                if key not in self._used:
                    self._used.append(key)  # what list_active_backends reports
            return backend

    def _backend_for(self, key: Any) -> tuple[Backend, Location]:
        loc = self._location(key)
        return self._backend(loc), loc

    def _cache_for(self, loc: Location) -> RemoteCache | None:
        """The cache for remote ``loc``: its scheme's options decide, else the store's own options."""
        if loc.is_local:
            return None
        opts = self._options.get(loc.scheme)
        return self._cache_with(opts if opts is not None and opts.cache_enabled else self.options)

    def _cache_with(self, opts: Options) -> RemoteCache | None:
        if not opts.cache_enabled:
            return None
        from ..cache import RemoteCache

        ckey = (opts.cache_dir or "", float(opts.cache_expiry_hours))
        with self._lock:
            if ckey not in self._caches:
                self._caches[ckey] = RemoteCache(opts.cache_dir or None, expiry_hours=float(opts.cache_expiry_hours))
            return self._caches[ckey]

    def _resolve(self, backend: Backend, loc: Location, folder: bool = False) -> str:
        try:
            return fmt.resolve_key(backend, loc.path, self.handlers, folder=folder)
        except NotFound as e:
            raise KeyNotFound(f"{backend.uri(loc.path)}: no such key (with or without a known extension)",
                              path=backend.uri(loc.path)) from e

    def _rel(self, backend: Backend, path: str) -> str:
        """The key of ``path`` relative to the store root."""
        root = backend.key(self.root.path)
        key = backend.key(path)
        if root and key.startswith(root + "/"):
            return key[len(root) + 1 :]
        return key

    # -- reading and writing ------------------------------------------------------------
    def read(self, key: Any, format: str | None = None, ignore_cache: bool = False, **kw: Any) -> Any:
        """Load ``key`` (a key under the root or a full URI) with the handler its extension selects."""
        if isinstance(key, str):
            key, params = self._split_query(key)
            format = format or params.get("format")
            ignore_cache = ignore_cache or params.get("ignore_cache", False)
        backend, loc = self._backend_for(key)
        path = self._resolve(backend, loc, folder=isinstance(key, str) and key.endswith("/"))
        cache = None if ignore_cache else self._cache_for(loc)
        entry = backend.stat(path)
        if entry.is_dir:
            from ..formats.tables import is_dataset, scan_location

            if format in (None, "parquet", "csv", "dataset") and is_dataset(backend, path):
                return _dataset_frame(scan_location(backend, path, cache=cache))
            raise IsADirectory(f"{backend.uri(path)}: is a directory (not a parquet/CSV dataset)",
                               path=backend.uri(path))
        handler = self.handlers.get(key=path, format=format)
        where = backend.uri(path)
        kw.setdefault("allow_pickle", self.allow_pickle)
        if cache is not None:
            with open(cache.local_path(where), "rb") as f:
                return fmt.read_with(handler, f, where, **kw)
        if not loc.is_local and (entry.size or 0) <= fmt.WHOLE_READ_LIMIT:
            f: Any = io.BytesIO(backend.read_bytes(path))
        else:
            f = backend.open(path, "rb")
        with f:
            return fmt.read_with(handler, f, where, **kw)

    def write(self, key: Any, data: Any, format: str | None = None, **kw: Any) -> str:
        """Save ``data`` at ``key`` (extension added by type when missing); return the URI written."""
        if isinstance(key, str):
            key, params = self._split_query(key)
            format = format or params.get("format")
        backend, loc = self._backend_for(key)
        if loc.inner is not None:
            raise InvalidArgument(f"{loc}: cannot write inside a container through AutoStore")
        path, handler = fmt.target_for(data, loc.path, format, self.handlers)
        if not self.durable and loc.is_local:
            _write_local_fast(handler, data, backend, path, **kw)
        else:
            fmt.write_with(handler, data, backend, path, **kw)
        if path != loc.path:
            self._drop_siblings(backend, loc.path, keep=path)
        return str(Location(loc.scheme, loc.bucket, path))

    def _drop_siblings(self, backend: Backend, path: str, keep: str) -> None:
        """Remove ``path.<other known extension>`` so the extensionless key names one object."""
        keep_key = backend.key(keep)
        for _, _, entry_path in fmt.siblings(backend, path, self.handlers):
            if backend.key(entry_path) != keep_key:
                with contextlib.suppress(NotFound):
                    backend.delete(entry_path)

    def __getitem__(self, key: Any) -> Any:
        return self.read(key)

    def __setitem__(self, key: Any, data: Any) -> None:
        self.write(key, data)

    def __contains__(self, key: Any) -> bool:
        try:
            if isinstance(key, str):
                key, _ = self._split_query(key)
            backend, loc = self._backend_for(key)
            self._resolve(backend, loc)
        except NotFound:
            return False
        return True

    def exists(self, key: Any) -> bool:
        """True when ``key`` exists (with or without extension)."""
        return key in self

    def get(self, key: Any, default: Any = None) -> Any:
        """``store[key]``, or ``default`` when the key does not exist."""
        try:
            return self.read(key)
        except NotFound:
            return default

    def __delitem__(self, key: Any) -> None:
        backend, loc = self._backend_for(key)
        path = self._resolve(backend, loc)
        backend.delete(path, recursive=True)
        cache = self._cache_for(loc)
        if cache is not None:
            cache.invalidate(backend.uri(path))

    def delete(self, key: Any) -> None:
        """``del store[key]``."""
        del self[key]

    # -- listing ---------------------------------------------------------------------------
    def list_files(self, pattern: str = "*", recursive: bool = True) -> Iterator[str]:
        """Yield the keys (relative, ``/``-separated, with extension) matching ``pattern``.

        With ``recursive=True`` a ``*`` also matches ``/`` (``"dataset/*"``
        lists every file below ``dataset/``), as in autostore; otherwise the
        pattern is a ``pathlib``-style glob (``**/`` spans folders).
        """
        backend = self._backend(self.root)
        pattern = pattern.lstrip("/") or "*"
        start = _literal_prefix(pattern)
        top = self.root.join(start).path if start else self.root.path
        rx = _glob_regex(pattern)
        deep = recursive or "**" in pattern or "/" in pattern
        try:
            entries = backend.ls(top, recursive=deep)
            for entry in entries:
                if entry.is_dir:
                    continue
                rel = self._rel(backend, entry.path)
                if (recursive and fnmatch.fnmatchcase(rel, pattern)) or rx.match(rel):
                    yield rel
        except (NotFound, NotADirectory):
            return

    def keys(self) -> list[str]:
        """Every key under the root, without its known extension (``config.json`` -> ``config``)."""
        out = []
        for rel in self.list_files("*", recursive=True):
            ext = self.handlers.extension_of(rel)
            out.append(rel[: -len(ext)] if ext else rel)
        return sorted(out)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return sum(1 for _ in self.list_files("*", recursive=True))

    # -- file operations -------------------------------------------------------------------
    def get_metadata(self, key: Any) -> FileMetadata:
        """Size, modification time, ETag and content type of ``key`` (a directory sums its files)."""
        backend, loc = self._backend_for(key)
        path = self._resolve(backend, loc)
        entry = backend.stat(path)
        if entry.is_dir:
            files = list(backend.ls(path, recursive=True))
            size = sum(e.size or 0 for e in files)
            mtimes = [e.mtime for e in files if e.mtime]
            mtime = max(mtimes) if mtimes else entry.mtime
            extra = {"is_dir": True, "files": len(files)}
        else:
            size, mtime, extra = entry.size or 0, entry.mtime, {"is_dir": False}
        return FileMetadata(
            size=size,
            modified_time=_dt.datetime.fromtimestamp(mtime, _dt.UTC) if mtime else None,
            content_type=None if entry.is_dir else mimetypes.guess_type(entry.name)[0],
            etag=entry.etag,
            extra={**extra, "uri": backend.uri(path)},
        )

    def _target(self, src_path: str, dst: Any) -> tuple[Backend, str]:
        dbackend, dloc = self._backend_for(dst)
        dpath = dloc.path
        ext = self.handlers.extension_of(src_path)
        if ext and not self.handlers.extension_of(dpath) and not _URI_RE.match(str(dst)):
            dpath += ext  # store.copy("original", "backup") keeps the format: backup.json
        return dbackend, dpath

    def copy(self, src: Any, dst: Any) -> str:
        """Copy ``src`` to ``dst`` (keys or URIs, any backends); return the destination URI."""
        sbackend, sloc = self._backend_for(src)
        spath = self._resolve(sbackend, sloc)
        dbackend, dpath = self._target(spath, dst)
        _transfer(sbackend, spath, dbackend, dpath)
        return dbackend.uri(dpath)

    def move(self, src: Any, dst: Any) -> str:
        """Move ``src`` to ``dst``; the source is removed only after a complete copy."""
        sbackend, sloc = self._backend_for(src)
        spath = self._resolve(sbackend, sloc)
        dbackend, dpath = self._target(spath, dst)
        _transfer(sbackend, spath, dbackend, dpath, move=True)
        return dbackend.uri(dpath)

    # -- backends and caches ---------------------------------------------------------------
    def get_supported_backends(self) -> list[str]:
        """Every scheme this store can reach (``""`` stands for plain local paths)."""
        names = [s for s in known_schemes() if s != "file"]
        return sorted(names) + ["file", ""]

    def list_active_backends(self) -> list[str]:
        """``"primary: <root>"`` then ``"<scheme>: <scheme>://<bucket>/"`` for each other backend used."""
        out = [f"primary: {self.storage_uri}"]
        with self._lock:
            for scheme, bucket in self._used:
                if (scheme, bucket) != (self.root.scheme, self.root.bucket) and scheme_info(scheme)[0] != "file":
                    out.append(f"{scheme}: {scheme}://{bucket}/")
        return out

    def cleanup_cache(self) -> int:
        """Remove expired entries (and leftovers) from this store's caches; return files removed."""
        for opts in [self.options, *self._options.values()]:
            self._cache_with(opts)
        return sum(c.cleanup() for c in list(self._caches.values()))

    cleanup_expired_cache = cleanup_cache

    def invalidate_cache(self, key: Any) -> None:
        """Forget the cached copy of ``key``."""
        backend, loc = self._backend_for(key)
        cache = self._cache_for(loc)
        if cache is not None:
            with contextlib.suppress(NotFound):
                cache.invalidate(backend.uri(self._resolve(backend, loc)))

    def cleanup(self) -> None:
        """Remove this store's temporary files (the persistent cache keeps valid entries)."""
        with self._tempdir_lock:
            if self._tempdir is not None:
                shutil.rmtree(self._tempdir, ignore_errors=True)
                self._tempdir = None
        for cache in list(self._caches.values()):
            with contextlib.suppress(OSError):
                cache.cleanup()

    def __enter__(self) -> AutoStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"AutoStore({self.storage_uri!r})"


def _write_local_fast(handler: Handler, data: Any, backend: Backend, path: str, **kw: Any) -> None:
    """Atomic local write without fsync: a hidden temporary file renamed over the target."""
    from ..backends.local import TMP_SUFFIX

    full = backend.full(path)  # type: ignore[attr-defined]
    if os.path.isdir(full):
        raise IsADirectory(f"{full}: is a directory", path=full)
    directory = os.path.dirname(full)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(full) + ".", suffix=TMP_SUFFIX, dir=directory)
    fmt.add_extension(handler, path, kw)
    try:
        with os.fdopen(fd, "wb") as f:
            handler.write(data, f, **kw)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, full)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, StorecoreError):
            e.locate(full)
        if isinstance(e, StorecoreError) or not isinstance(e, Exception):
            raise
        raise FormatError(f"{full}: cannot write a {type(data).__name__} as {handler.name}: {e}", path=full) from e


_UMASK: list[int] = []


def _umask() -> int:
    # Read once: os.umask can only be read by setting it, which races with other threads.
    if not _UMASK:
        mask = os.umask(0o022)
        os.umask(mask)
        _UMASK.append(mask)
    return _UMASK[0]


def _transfer(sb: Backend, spath: str, db: Backend, dpath: str, *, move: bool = False) -> None:
    """Copy (or move) a file or tree between two backends (``dpath`` becomes the copy)."""
    from ..transfer.copy import copy_file

    if move and sb is db:
        sb.move(spath, dpath)
        return
    entry = sb.stat(spath)
    if entry.is_dir:
        skey = sb.key(spath)
        for child in sb.ls(spath, recursive=True):
            rel = sb.key(child.path)[len(skey) :].lstrip("/")
            target = db.entry_path(posixpath.join(db.key(dpath), rel))
            copy_file(sb, child.path, db, target, None, child.size)
        if not any(True for _ in sb.ls(spath, recursive=True)):
            db.mkdir(dpath)
    else:
        copy_file(sb, spath, db, dpath, None, entry.size)
    if move:
        sb.delete(spath, recursive=True)


# -- paths -----------------------------------------------------------------------------
class AutoPath(os.PathLike):
    """A ``pathlib.Path``-like handle on a local path or a remote URI, backed by an :class:`AutoStore`.

    Without ``store`` a default one is created (the bucket for URIs, the parent
    folder for local paths).  Data operations (:meth:`load`, :meth:`save`)
    use the store's handlers and cache.
    """

    def __init__(self, path: str | os.PathLike[str] | AutoPath, store: AutoStore | None = None) -> None:
        if isinstance(path, AutoPath):
            self._text = path._text
            store = store or path._store
        else:
            self._text = os.fspath(path)
            if not isinstance(self._text, str):
                raise InvalidArgument(f"an AutoPath needs a str path, got {type(self._text).__name__}")
        self._is_uri = bool(_URI_RE.match(self._text))
        self.location = Location.parse(self._text)
        if self._is_uri:
            self._text = str(self.location)
        if store is None:
            if self._is_uri:
                store = AutoStore(f"{self.location.scheme}://{self.location.bucket}")
            else:
                store = AutoStore(os.path.dirname(self.location.path) or "/")
        self._store = store

    # -- identity ---------------------------------------------------------------------------
    @property
    def store(self) -> AutoStore:
        """The store used for backend options, handlers and the cache."""
        return self._store

    @property
    def path_str(self) -> str:
        """The path as given (normalised for URIs)."""
        return self._text

    def __fspath__(self) -> str:
        return self._text if self._is_uri else self.location.path

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"AutoPath({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AutoPath):
            return self.location == other.location
        if isinstance(other, str | os.PathLike):
            with contextlib.suppress(StorecoreError, TypeError):
                return self.location == Location.parse(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.location)

    def __lt__(self, other: AutoPath) -> bool:
        return str(self.location) < str(other.location)

    def _new(self, text: str) -> AutoPath:
        return AutoPath(text, self._store)

    # -- pure path operations -------------------------------------------------------------
    def __truediv__(self, other: str | os.PathLike[str]) -> AutoPath:
        part = os.fspath(other)
        if self._is_uri:
            return self._new(str(self.location.join(part.replace("\\", "/"))))
        return self._new(os.path.join(self._text, part))

    def joinpath(self, *parts: str | os.PathLike[str]) -> AutoPath:
        """Join several parts (``p.joinpath("a", "b")`` is ``p / "a" / "b"``)."""
        out = self
        for part in parts:
            out = out / part
        return out

    def _pure(self) -> PurePath:
        return PurePosixPath("/" + self.location.path) if self._is_uri else PurePath(self._text)

    @property
    def name(self) -> str:
        """The final component (``results.parquet``)."""
        return self._pure().name

    @property
    def stem(self) -> str:
        """The final component without its last suffix."""
        return self._pure().stem

    @property
    def suffix(self) -> str:
        """The last suffix (``.parquet``)."""
        return self._pure().suffix

    @property
    def suffixes(self) -> list[str]:
        """All suffixes (``[".tar", ".gz"]``)."""
        return self._pure().suffixes

    @property
    def parent(self) -> AutoPath:
        """The enclosing folder/prefix; a bucket root is its own parent."""
        if self._is_uri:
            return self._new(str(self.location.parent))
        return self._new(str(PurePath(self._text).parent))

    @property
    def parents(self) -> list[AutoPath]:
        """Every ancestor, nearest first, down to the root (``s3://bucket``, ``/`` or ``.``)."""
        if not self._is_uri:
            return [self._new(str(p)) for p in PurePath(self._text).parents]
        out: list[AutoPath] = []
        current = self
        while (parent := current.parent).location != current.location:
            out.append(parent)
            current = parent
        return out

    def with_name(self, name: str) -> AutoPath:
        """This path with its final component replaced."""
        if not name or "/" in name:
            raise InvalidArgument(f"invalid name {name!r}")
        return self.parent / name

    def with_suffix(self, suffix: str) -> AutoPath:
        """This path with its last suffix replaced (``config.yaml`` -> ``config.yaml.bak`` for ``.yaml.bak``)."""
        if suffix and (not suffix.startswith(".") or suffix == "." or "/" in suffix):
            raise InvalidArgument(f"invalid suffix {suffix!r}")
        return self.with_name(self.stem + suffix)

    def with_stem(self, stem: str) -> AutoPath:
        """This path with its stem replaced, keeping the suffix."""
        return self.with_name(stem + self.suffix)

    def as_posix(self) -> str:
        """The path with forward slashes."""
        return self._text.replace("\\", "/")

    def as_uri(self) -> str:
        """A URI: ``file:///abs/path`` for local paths, the URI itself otherwise."""
        return self._text if self._is_uri else Path(self.location.path).as_uri()

    def is_absolute(self) -> bool:
        """True for URIs and absolute local paths."""
        return self._is_uri or os.path.isabs(self._text)

    def resolve(self) -> AutoPath:
        """An absolute path (symlinks resolved for local paths)."""
        return self if self._is_uri else self._new(os.path.realpath(self.location.path))

    def match(self, pattern: str) -> bool:
        """``pathlib``-style match of the path against a glob ``pattern`` (from the right)."""
        return self._pure().match(pattern)

    def relative_to(self, other: str | os.PathLike[str] | AutoPath) -> str:
        """This path relative to ``other`` as a ``/``-separated string (``"run_1/results.json"``)."""
        o = other.location if isinstance(other, AutoPath) else Location.parse(other)
        me = self.location
        if (o.scheme, o.bucket) != (me.scheme, me.bucket):
            raise InvalidArgument(f"{self} is not relative to {other}")
        base = o.path.rstrip("/")
        if me.path == base:
            return "."
        if base and not me.path.startswith(base + "/"):
            raise InvalidArgument(f"{self} is not relative to {other}")
        return me.path[len(base) + 1 :] if base else me.path.lstrip("/")

    # -- backend access ---------------------------------------------------------------------
    def _backend(self) -> tuple[Backend, str]:
        return self._store._backend(self.location), self.location.path

    def _child(self, backend: Backend, entry_path: str) -> AutoPath:
        key = backend.key(entry_path)
        if self._is_uri:
            return self._new(str(Location(self.location.scheme, self.location.bucket, key)))
        rel = os.path.relpath("/" + key, self.location.path)
        return self._new(os.path.normpath(os.path.join(self._text, rel)) if rel != "." else self._text)

    def exists(self) -> bool:
        """True when a file or directory exists here."""
        backend, path = self._backend()
        return backend.exists(path)

    def is_file(self) -> bool:
        """True when this is a file/object."""
        backend, path = self._backend()
        return backend.is_file(path)

    def is_dir(self) -> bool:
        """True when this is a directory/prefix."""
        backend, path = self._backend()
        return backend.is_dir(path)

    def stat(self) -> FileMetadata:
        """Size, modification time and ETag (``.size``, ``.st_size``, ``.modified_time``)."""
        return self._store.get_metadata(self.location)

    def iterdir(self) -> Iterator[AutoPath]:
        """The files and folders directly inside this directory."""
        backend, path = self._backend()
        for entry in backend.ls(path):
            yield self._child(backend, entry.path)

    def glob(self, pattern: str) -> Iterator[AutoPath]:
        """Paths below this directory matching a ``pathlib``-style ``pattern`` (``**/`` spans folders)."""
        backend, path = self._backend()
        rx = _glob_regex(pattern.lstrip("/"))
        deep = "**" in pattern or "/" in pattern
        base = backend.key(path)
        try:
            for entry in backend.ls(path, recursive=deep):
                key = backend.key(entry.path)
                rel = key[len(base) :].lstrip("/") if base else key
                if rx.match(rel):
                    yield self._child(backend, entry.path)
        except (NotFound, NotADirectory):
            return

    def rglob(self, pattern: str) -> Iterator[AutoPath]:
        """``glob("**/" + pattern)``."""
        return self.glob("**/" + pattern)

    # -- bytes and text ---------------------------------------------------------------------
    def read_bytes(self, ignore_cache: bool = False) -> bytes:
        """The whole content (remote objects through the store's cache when enabled)."""
        backend, path = self._backend()
        cache = None if ignore_cache else self._store._cache_for(self.location)
        if cache is not None:
            with open(cache.local_path(backend.uri(path)), "rb") as f:
                return f.read()
        return backend.read_bytes(path)

    def read_text(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The content decoded as text."""
        return self.read_bytes().decode(encoding, errors)

    def write_bytes(self, data: bytes) -> int:
        """Replace the content atomically; return the number of bytes written."""
        backend, path = self._backend()
        data = bytes(data)
        backend.write_bytes(path, data)
        return len(data)

    def write_text(self, data: str, encoding: str = "utf-8", errors: str = "strict") -> int:
        """Replace the content with ``data`` encoded; return the number of characters written."""
        if not isinstance(data, str):
            raise InvalidArgument(f"write_text takes a str, not {type(data).__name__}")
        self.write_bytes(data.encode(encoding, errors))
        return len(data)

    def open(self, mode: str = "rb", encoding: str | None = None) -> IO[Any]:
        """A file object: ``rb`` (lazy, seekable), ``wb`` (atomic), or their text forms ``r``/``w``."""
        backend, path = self._backend()
        raw = backend.open(path, "wb" if "w" in mode else "rb")
        if "b" in mode:
            return raw
        return io.TextIOWrapper(raw if "w" in mode else io.BufferedReader(raw), encoding=encoding or "utf-8")

    # -- folders ------------------------------------------------------------------------------
    def mkdir(self, parents: bool = False, exist_ok: bool = False, mode: int = 0o777) -> None:
        """Create this directory (``parents`` creates missing ancestors; ``exist_ok`` tolerates it existing)."""
        from ..errors import AlreadyExists

        backend, path = self._backend()
        try:
            entry = backend.stat(path)
        except NotFound:
            entry = None
        if entry is not None:
            if entry.is_dir and exist_ok:
                return
            raise AlreadyExists(f"{self}: already exists", path=str(self))
        if not parents and self.location.is_local and not os.path.isdir(os.path.dirname(self.location.path)):
            raise NotFound(f"{self}: parent directory does not exist (use parents=True)", path=str(self))
        backend.mkdir(path, exist_ok=exist_ok)

    def rmdir(self) -> None:
        """Remove this directory, which must be empty."""
        backend, path = self._backend()
        entry = backend.stat(path)
        if not entry.is_dir:
            raise NotADirectory(f"{self}: not a directory", path=str(self))
        backend.delete(path, recursive=False)

    def unlink(self, missing_ok: bool = False) -> None:
        """Remove this file."""
        backend, path = self._backend()
        try:
            entry = backend.stat(path)
        except NotFound:
            if missing_ok:
                return
            raise
        if entry.is_dir:
            raise IsADirectory(f"{self}: is a directory (use rmdir or delete)", path=str(self))
        backend.delete(path)

    def delete(self) -> None:
        """Remove this file, or this directory with everything in it."""
        backend, path = self._backend()
        backend.stat(path)  # NotFound when absent
        backend.delete(path, recursive=True)

    # -- transfers ------------------------------------------------------------------------------
    def _other(self, other: str | os.PathLike[str] | AutoPath) -> AutoPath:
        return other if isinstance(other, AutoPath) else AutoPath(other, self._store)

    def copy_to(self, destination: str | os.PathLike[str] | AutoPath) -> AutoPath:
        """Copy this file or tree to ``destination`` on any backend; return the destination."""
        dest = self._other(destination)
        sb, sp = self._backend()
        db, dp = dest._backend()
        _transfer(sb, sp, db, dp)
        return dest

    def move_to(self, destination: str | os.PathLike[str] | AutoPath) -> AutoPath:
        """Move this file or tree to ``destination``; the source goes only after a complete copy."""
        dest = self._other(destination)
        sb, sp = self._backend()
        db, dp = dest._backend()
        _transfer(sb, sp, db, dp, move=True)
        return dest

    def upload_from(self, source: str | os.PathLike[str] | AutoPath) -> AutoPath:
        """Copy a local file or folder (or any AutoPath) here."""
        src = source if isinstance(source, AutoPath) else AutoPath(os.fspath(source), self._store)
        return src.copy_to(self)

    def download_to(self, destination: str | os.PathLike[str]) -> Path:
        """Copy this file or tree to a local path; return it as a ``pathlib.Path``."""
        local = Path(os.path.abspath(os.fspath(destination)))
        self.copy_to(AutoPath(str(local), self._store))
        return local

    # -- data ---------------------------------------------------------------------------------------
    def load(self, format: str | None = None, ignore_cache: bool = False, **kw: Any) -> Any:
        """Load with the store's handlers (``format=`` forces one; ``ignore_cache=True`` refetches)."""
        return self._store.read(self.location, format=format, ignore_cache=ignore_cache, **kw)

    def save(self, data: Any, format: str | None = None, **kw: Any) -> AutoPath:
        """Save ``data`` here with the handler chosen by extension, ``format=`` or type; return the path written."""
        uri = self._store.write(self.location, data, format=format, **kw)
        written = Location.parse(uri)
        if written == self.location:
            return self
        return self._new(str(written) if self._is_uri else self._text + written.path[len(self.location.path) :])


__all__ = ["AutoStore", "AutoPath", "Options", "DataHandler", "FileMetadata", "KeyNotFound", "PrimaryBackend"]
