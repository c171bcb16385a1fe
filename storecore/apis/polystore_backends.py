"""polystore-style save/load backends for :class:`storecore.FileManager`.

Each backend saves and loads Python objects by path (format chosen by the
file extension through :mod:`storecore.formats`) and offers polystore's
directory operations.  They are exported as ``storecore.backends.DiskBackend``,
``MemoryBackend``, ``ZarrBackend``, ``S3StorageBackend`` and the base
``StorageBackend``.

* :class:`DiskBackend` — local files over storecore's :class:`LocalBackend`
  (atomic writes).  Saving creates missing parent folders and replaces an
  existing file; ``metadata=`` is stored in a hidden sidecar
  ``.<name>.meta.json`` (read it back with :meth:`DiskBackend.load_metadata`),
  which listings skip.  ``is_file``/``is_dir`` raise on the wrong kind, as
  polystore's disk backend does (``FileManager`` turns that into ``False``).
* :class:`MemoryBackend` — Python objects in a dict (or a shared
  ``multiprocessing.Manager().dict()``), POSIX-like: save needs an existing
  parent and refuses an existing path, loading a directory raises
  ``IsADirectoryError``; objects are stored as they are (not copied).
* :class:`ZarrBackend` — numpy arrays as Zarr v3 arrays at ``*.zarr`` paths
  (local); other paths pass through to a :class:`DiskBackend`.
* :class:`S3StorageBackend` — objects on S3 (or any storecore URI) over
  storecore's byte backends; paths are full URIs (``s3://bucket/key``,
  registered schemes) or keys under the ``root`` given at construction.
  Batch operations run concurrently.  Object stores have no empty folders or
  symlinks: ``ensure_directory`` writes a folder marker, symlinks raise.

Formats: ``bytes`` are written raw and ``str`` as UTF-8 text whatever the
extension (polystore does the same); ``.csv`` is a list of dicts (or rows);
everything else goes through the storecore format handlers.
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import io
import itertools
import json
import logging
import os
import posixpath
import re
import shutil
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import (
    AlreadyExists,
    FormatError,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    StorecoreError,
)
from ..logs import describe

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
META_SUFFIX = ".meta.json"
TMP_SUFFIX = ".storecore-tmp"
#: threads used by the batch operations of remote backends
BATCH_WORKERS = 16
_tmp_counter = itertools.count()


def natural_key(text: Any) -> list[Any]:
    """Sort key that orders ``img2`` before ``img10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text))]


def natural_sort(items: Iterable[Any]) -> list[Any]:
    """``items`` in natural order."""
    return sorted(items, key=natural_key)


def _match(name: str, pattern: str | None, extensions: Iterable[str] | None) -> bool:
    if pattern is not None and not fnmatch.fnmatch(name, pattern):
        return False
    if extensions:
        lower = name.lower()
        return any(lower.endswith(e.lower() if e.startswith(".") else "." + e.lower()) for e in extensions)
    return True


def _ext(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return os.path.splitext(name)[1]


# --------------------------------------------------------------------------- serialisation
def _encode(data: Any, path: str, **kw: Any) -> bytes:
    """Serialise ``data`` for ``path`` (by extension); the one place that knows the formats."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    ext = _ext(path)
    if ext == ".csv" and not _is_frame(data):
        return _csv_bytes(data)
    from ..formats import get_handler

    handler = _handler_for(path) if ext else get_handler(obj=data)
    if ext in (".tif", ".tiff"):
        data = _tiff_safe(data)
    buf = io.BytesIO()
    if getattr(handler, "wants_extension", False):
        kw.setdefault("extension", ext)
    try:
        handler.write(data, buf, **kw)
    except StorecoreError:
        raise
    except (TypeError, ValueError) as e:
        raise FormatError(f"{path}: cannot encode {type(data).__name__} as {handler.name}: {e}", path=path) from e
    return buf.getvalue()


def _decode(fileobj: Any, path: str, **kw: Any) -> Any:
    """Deserialise the content of ``fileobj`` read from ``path`` (by extension)."""
    ext = _ext(path)
    if ext == ".csv" and not kw.pop("as_frame", False):
        text = io.TextIOWrapper(fileobj, encoding="utf-8", newline="")
        return list(csv.DictReader(text))
    handler = _handler_for(path)
    if getattr(handler, "wants_extension", False):
        kw.setdefault("extension", ext)
    return handler.read(fileobj, **kw)


_handler_cache: dict[str, Any] = {"stamp": None, "by_ext": {}, "multi": ()}


def _handler_for(path: str) -> Any:
    """``formats.get_handler(key=path)``, memoised per extension until handlers are (un)registered."""
    from ..formats import REGISTRY, get_handler

    stamp = tuple(REGISTRY.handlers())
    cache = _handler_cache
    if stamp != cache["stamp"]:
        multi = tuple(e for e in REGISTRY.extensions() if e.count(".") > 1)
        cache.update(stamp=stamp, by_ext={}, multi=multi)
    name = path.rsplit("/", 1)[-1].lower()
    if any(name.endswith(m) for m in cache["multi"]):
        return get_handler(key=path)
    ext = os.path.splitext(name)[1]
    handler = cache["by_ext"].get(ext)
    if handler is None:
        handler = get_handler(key=path)
        cache["by_ext"][ext] = handler
    return handler


def _is_frame(data: Any) -> bool:
    return type(data).__module__.startswith("polars")


def _csv_bytes(data: Any) -> bytes:
    out = io.StringIO(newline="")
    if isinstance(data, dict):
        writer = csv.DictWriter(out, fieldnames=list(data))
        writer.writeheader()
        writer.writerow(data)
    elif isinstance(data, list | tuple) and data and isinstance(data[0], dict):
        fields: list[str] = []
        for row in data:
            fields.extend(k for k in row if k not in fields)
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(data)
    elif isinstance(data, list | tuple):
        csv.writer(out).writerows(data)
    else:
        csv.writer(out).writerow([data])
    return out.getvalue().encode("utf-8")


def _tiff_safe(data: Any) -> Any:
    """Pillow writes no 64-bit integer TIFFs: narrow int64 arrays whose values fit in int32."""
    import numpy as np

    arr = np.asarray(data)
    if arr.dtype.kind in "iu" and arr.dtype.itemsize == 8:
        info = np.iinfo(np.int32)
        if arr.size == 0 or (arr.min() >= info.min and arr.max() <= info.max):
            return arr.astype(np.int32)
    return data


# --------------------------------------------------------------------------- base
class StorageBackend(ABC):
    """The polystore backend interface: save/load objects and manage directories by path."""

    _backend_type = "base"

    @abstractmethod
    def save(self, data: Any, output_path: PathLike, **kwargs: Any) -> None:
        """Save ``data`` at ``output_path`` (format by extension)."""

    @abstractmethod
    def load(self, file_path: PathLike, **kwargs: Any) -> Any:
        """Load the object stored at ``file_path``."""

    def _check_batch(self, data_list: list[Any], output_paths: list[PathLike]) -> None:
        if len(data_list) != len(output_paths):
            raise InvalidArgument(
                f"data_list length ({len(data_list)}) must match output_paths length ({len(output_paths)})"
            )

    def save_batch(self, data_list: list[Any], output_paths: list[PathLike], **kwargs: Any) -> None:
        """Save each object at its path (lengths must match; checked before anything is written)."""
        data_list, output_paths = list(data_list), list(output_paths)
        self._check_batch(data_list, output_paths)
        for data, path in zip(data_list, output_paths, strict=True):
            self.save(data, path, **kwargs)

    def load_batch(self, file_paths: list[PathLike], **kwargs: Any) -> list[Any]:
        """Load every path; results in the same order."""
        return [self.load(p, **kwargs) for p in file_paths]

    @abstractmethod
    def list_files(
        self, directory: PathLike, pattern: str | None = None, extensions: set[str] | None = None, recursive: bool = False
    ) -> list[str]:
        """Files under ``directory`` (breadth-first when recursive), filtered by glob and extensions."""

    @abstractmethod
    def list_dir(self, path: PathLike) -> list[str]:
        """Names of the direct children of ``path``."""

    @abstractmethod
    def delete(self, path: PathLike) -> None:
        """Delete a file or an empty directory (a non-empty one raises ``IsADirectoryError``)."""

    @abstractmethod
    def delete_all(self, path: PathLike) -> None:
        """Delete a file or a whole tree."""

    @abstractmethod
    def ensure_directory(self, directory: PathLike) -> str:
        """Create ``directory`` and its parents when missing; return its path."""

    @abstractmethod
    def exists(self, path: PathLike) -> bool:
        """True when something exists at ``path``."""

    @abstractmethod
    def is_file(self, path: PathLike) -> bool:
        """True for a file; a missing path or a directory raises."""

    @abstractmethod
    def is_dir(self, path: PathLike) -> bool:
        """True for a directory; a missing path or a file raises."""

    def create_symlink(self, source: PathLike, link_name: PathLike, overwrite: bool = False) -> None:
        """Create ``link_name`` pointing at ``source``."""
        raise InvalidArgument(f"the {self._backend_type} backend has no symbolic links")

    def is_symlink(self, path: PathLike) -> bool:
        """True when ``path`` is a symbolic link."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


# --------------------------------------------------------------------------- disk
class DiskBackend(StorageBackend):
    """Local files: atomic saves, formats by extension, breadth-first listings.

    Every save writes a temporary file beside the target and renames it over
    the target, so readers and crashes never see a partial file.  With
    ``durable=True`` (the default) the data is also fsync'ed before the
    rename, which survives power loss but costs a disk flush per file;
    ``durable=False`` skips the flush (still atomic), for many small files.
    """

    _backend_type = "disk"

    def __init__(self, durable: bool = True) -> None:
        from ..backends.local import LocalBackend

        self._fs = LocalBackend("/")
        self.durable = durable

    def _write(self, full: str, payload: bytes) -> None:
        if self.durable:
            self._fs.write_bytes(full, payload)
            return
        directory, name = os.path.split(full)
        tmp = os.path.join(directory, f".{name}.{os.getpid()}-{next(_tmp_counter)}{TMP_SUFFIX}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileNotFoundError:
            os.makedirs(directory, exist_ok=True)
            fd = os.open(tmp, flags, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, full)
        except BaseException as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(e, IsADirectoryError):
                raise IsADirectory(f"{full}: is a directory", path=full) from e
            raise

    @staticmethod
    def _path(path: PathLike) -> str:
        if not isinstance(path, str | os.PathLike):
            raise InvalidArgument(f"expected a str or os.PathLike path, got {type(path).__name__}")
        return os.path.abspath(os.fspath(path))

    @staticmethod
    def _meta_path(full: str) -> str:
        d, name = os.path.split(full)
        return os.path.join(d, "." + name + META_SUFFIX)

    @staticmethod
    def _hidden(name: str) -> bool:
        return name.endswith(TMP_SUFFIX) or name.startswith("._") or (name.startswith(".") and name.endswith(META_SUFFIX))

    def save(self, data: Any, output_path: PathLike, *, metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Save ``data`` atomically (parents created); ``metadata`` goes to a JSON sidecar."""
        full = self._path(output_path)
        payload = _encode(data, full, **kwargs)
        self._write(full, payload)
        meta = self._meta_path(full)
        if metadata is not None:
            self._write(meta, json.dumps(metadata, indent=2, default=str).encode("utf-8"))
        elif os.path.exists(meta):
            os.unlink(meta)  # the old metadata described the old content

    def load(self, file_path: PathLike, **kwargs: Any) -> Any:
        """Load the file (format by extension)."""
        full = self._path(file_path)
        with self._fs.open(full, "rb") as f:
            return _decode(f, full, **kwargs)

    def load_metadata(self, file_path: PathLike) -> dict[str, Any] | None:
        """The ``metadata=`` saved with ``file_path``, or ``None``."""
        meta = self._meta_path(self._path(file_path))
        if not os.path.exists(meta):
            return None
        with open(meta, encoding="utf-8") as f:
            return json.load(f)

    def save_batch(self, data_list: list[Any], output_paths: list[PathLike], **kwargs: Any) -> None:
        """Save each object; files are written concurrently (each write is atomic)."""
        data_list, output_paths = list(data_list), list(output_paths)
        self._check_batch(data_list, output_paths)
        # fsync-bound writes overlap well on threads
        _run_concurrently(lambda pair: self.save(pair[0], pair[1], **kwargs), list(zip(data_list, output_paths, strict=True)), workers=8)

    def load_batch(self, file_paths: list[PathLike], **kwargs: Any) -> list[Any]:
        """Load every path (concurrently); results in order."""
        return _run_concurrently(lambda p: self.load(p, **kwargs), list(file_paths), workers=4)

    def _check_dir(self, full: str) -> None:
        if not os.path.exists(full):
            raise NotFound(f"{full}: no such directory", path=full)
        if not os.path.isdir(full):
            raise NotADirectory(f"{full}: not a directory", path=full)

    def list_files(
        self, directory: PathLike, pattern: str | None = None, extensions: set[str] | None = None, recursive: bool = False
    ) -> list[str]:
        """Files (and symlinks) under ``directory``: breadth-first, natural order within each folder."""
        given = os.fspath(directory)
        top = self._path(directory)
        self._check_dir(top)
        out: list[str] = []
        pending = deque([("", top)])
        while pending:
            rel_dir, full_dir = pending.popleft()
            try:
                entries = sorted(os.scandir(full_dir), key=lambda e: natural_key(e.name))
            except OSError:
                if full_dir == top:
                    raise
                continue
            for e in entries:
                if self._hidden(e.name):
                    continue
                rel = os.path.join(rel_dir, e.name) if rel_dir else e.name
                if e.is_dir() and not e.is_symlink():
                    if recursive:
                        pending.append((rel, e.path))
                    continue
                if _match(e.name, pattern, extensions):
                    out.append(os.path.join(given, rel))
        return out

    def list_dir(self, path: PathLike) -> list[str]:
        """Names in the folder (hidden sidecars and temporaries skipped)."""
        full = self._path(path)
        self._check_dir(full)
        return [n for n in os.listdir(full) if not self._hidden(n)]

    def delete(self, path: PathLike) -> None:
        """Delete a file, symlink or empty folder; a non-empty folder raises ``IsADirectoryError``."""
        full = self._path(path)
        if not os.path.lexists(full):
            raise NotFound(f"{full}: cannot delete, no such file or directory", path=full)
        if os.path.isdir(full) and not os.path.islink(full):
            if any(not self._hidden(n) for n in os.listdir(full)):
                raise IsADirectory(f"{full}: cannot delete a non-empty directory (use delete_all)", path=full)
            shutil.rmtree(full)
            return
        os.unlink(full)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._meta_path(full))

    def delete_all(self, path: PathLike) -> None:
        """Delete a file or a whole folder tree."""
        full = self._path(path)
        if not os.path.lexists(full):
            raise NotFound(f"{full}: no such file or directory", path=full)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._meta_path(full))

    def ensure_directory(self, directory: PathLike) -> str:
        """Create the folder and its parents; return the path as given."""
        full = self._path(directory)
        if os.path.exists(full) and not os.path.isdir(full):
            raise AlreadyExists(f"{full}: a file exists there", path=full)
        os.makedirs(full, exist_ok=True)
        return os.fspath(directory)

    def exists(self, path: PathLike) -> bool:
        """True for an existing file or folder (a broken symlink does not exist)."""
        return os.path.exists(self._path(path))

    def is_file(self, path: PathLike) -> bool:
        """True for a file (symlinks followed); missing raises ``NotFound``, a folder ``IsADirectory``."""
        full = self._path(path)
        if not os.path.exists(full):
            raise NotFound(f"{full}: no such file", path=full)
        if os.path.isdir(full):
            raise IsADirectory(f"{full}: is a directory", path=full)
        return True

    def is_dir(self, path: PathLike) -> bool:
        """True for a folder (symlinks followed); missing raises ``NotFound``, a file ``NotADirectory``."""
        full = self._path(path)
        if not os.path.exists(full):
            raise NotFound(f"{full}: no such directory", path=full)
        if not os.path.isdir(full):
            raise NotADirectory(f"{full}: not a directory", path=full)
        return True

    def create_symlink(self, source: PathLike, link_name: PathLike, overwrite: bool = False) -> None:
        """Link ``link_name`` to ``source`` (parents created); an existing link needs ``overwrite=True``."""
        src = os.path.realpath(self._path(source))
        link = self._path(link_name)
        if not os.path.exists(src):
            raise NotFound(f"{src}: symlink source does not exist", path=src)
        if os.path.lexists(link):
            if not overwrite:
                raise AlreadyExists(f"{link}: already exists", path=link)
            if os.path.isdir(link) and not os.path.islink(link):
                raise IsADirectory(f"{link}: a directory is in the way", path=link)
            os.unlink(link)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(src, link, target_is_directory=os.path.isdir(src))

    def is_symlink(self, path: PathLike) -> bool:
        """True when ``path`` is a symbolic link (even a broken one)."""
        return os.path.islink(self._path(path))

    def move(self, src: PathLike, dst: PathLike) -> None:
        """Move a file or folder; an existing destination raises ``FileExistsError``."""
        s, d = self._path(src), self._path(dst)
        if not os.path.lexists(s):
            raise NotFound(f"{s}: source does not exist", path=s)
        if os.path.lexists(d):
            raise AlreadyExists(f"{d}: destination already exists", path=d)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.move(s, d)

    def copy(self, src: PathLike, dst: PathLike) -> None:
        """Copy a file or folder; an existing destination raises ``FileExistsError``."""
        s, d = self._path(src), self._path(dst)
        if not os.path.exists(s):
            raise NotFound(f"{s}: source does not exist", path=s)
        if os.path.lexists(d):
            raise AlreadyExists(f"{d}: destination already exists", path=d)
        if os.path.isdir(s):
            shutil.copytree(s, d, symlinks=True)
        else:
            self._fs.copy(s, d)

    def stat(self, path: PathLike) -> dict[str, Any]:
        """``{"type": file|directory|symlink|missing, "path", "exists"[, "target"]}``."""
        full = self._path(path)
        if os.path.islink(full):
            return {"type": "symlink", "path": full, "target": os.readlink(full), "exists": os.path.exists(full)}
        if os.path.isdir(full):
            return {"type": "directory", "path": full, "exists": True}
        if os.path.exists(full):
            return {"type": "file", "path": full, "exists": True, "size": os.path.getsize(full)}
        return {"type": "missing", "path": full, "exists": False}


def _run_concurrently(fn: Callable[[Any], Any], items: list[Any], workers: int = BATCH_WORKERS) -> list[Any]:
    """``[fn(x) for x in items]`` on a thread pool (order kept; the first error is raised)."""
    if len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


# --------------------------------------------------------------------------- memory
class MemorySymlink:
    """A symbolic link stored in a :class:`MemoryBackend`."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __repr__(self) -> str:
        return f"<MemorySymlink -> {self.target}>"


class MemoryBackend(StorageBackend):
    """Python objects in a dict keyed by normalised absolute paths (``None`` marks a folder).

    Pass ``shared_dict`` (e.g. ``multiprocessing.Manager().dict()``) to share
    the store between processes; it is used as is (``_memory_store``).
    """

    _backend_type = "memory"

    def __init__(self, shared_dict: MutableMapping[str, Any] | None = None) -> None:
        self._memory_store: MutableMapping[str, Any] = {} if shared_dict is None else shared_dict

    # keys --------------------------------------------------------------------------
    def _normalize(self, path: PathLike) -> str:
        """``a/b``, ``/a//b/``, ``PurePosixPath('/a/b')`` -> ``/a/b``."""
        if not isinstance(path, str | os.PathLike):
            raise InvalidArgument(f"expected a str or os.PathLike path, got {type(path).__name__}")
        text = os.fspath(path).replace("\\", "/")
        norm = posixpath.normpath("/" + text.lstrip("/"))
        return "/" if norm in ("/", "//") else norm.rstrip("/")

    @staticmethod
    def _parent(key: str) -> str:
        return posixpath.dirname(key) or "/"

    def _value(self, key: str) -> Any:
        if key == "/":
            return None
        try:
            return self._memory_store[key]
        except KeyError:
            raise NotFound(f"memory:{key}: no such file or directory", path=key) from None

    def _has(self, key: str) -> bool:
        return key == "/" or key in self._memory_store

    def _require_parent(self, key: str, what: str = "parent") -> None:
        parent = self._parent(key)
        if not self._has(parent):
            raise NotFound(f"memory:{key}: {what} path {parent} does not exist", path=key)
        if self._memory_store.get(parent) is not None and parent != "/":
            raise NotADirectory(f"memory:{key}: {what} path {parent} is not a directory", path=key)

    def _children(self, key: str) -> list[str]:
        prefix = "/" if key == "/" else key + "/"
        return [k for k in list(self._memory_store.keys()) if k.startswith(prefix) and k != key]

    def _resolve(self, key: str, depth: int = 0) -> Any:
        value = self._value(key)
        if isinstance(value, MemorySymlink):
            if depth > 32:
                raise InvalidArgument(f"memory:{key}: too many levels of symbolic links")
            return self._resolve(value.target, depth + 1)
        return value

    # objects -------------------------------------------------------------------------
    def save(self, data: Any, output_path: PathLike, **kwargs: Any) -> None:
        """Store ``data`` (not copied); the parent must exist and the path must not."""
        key = self._normalize(output_path)
        if key == "/":
            raise IsADirectory("memory:/: is the root directory", path=key)
        self._require_parent(key, "Parent")
        if key in self._memory_store:
            raise AlreadyExists(f"memory:{key}: path already exists", path=key)
        self._memory_store[key] = data

    def load(self, file_path: PathLike, **kwargs: Any) -> Any:
        """The stored object (symlinks followed); a folder raises ``IsADirectoryError``."""
        key = self._normalize(file_path)
        value = self._resolve(key)
        if value is None:
            raise IsADirectory(f"memory:{key}: is a directory", path=key)
        return value

    def save_batch(self, data_list: list[Any], output_paths: list[PathLike], **kwargs: Any) -> None:
        """Save each object; every path is checked before anything is stored."""
        data_list, output_paths = list(data_list), list(output_paths)
        self._check_batch(data_list, output_paths)
        keys = [self._normalize(p) for p in output_paths]
        if len(set(keys)) != len(keys):
            raise InvalidArgument("output_paths contains the same path twice")
        for key in keys:
            self._require_parent(key, "Parent")
            if key in self._memory_store or key == "/":
                raise AlreadyExists(f"memory:{key}: path already exists", path=key)
        for key, data in zip(keys, data_list, strict=True):
            self._memory_store[key] = data

    # directories ------------------------------------------------------------------------
    def _check_dir(self, key: str) -> None:
        value = self._value(key)
        if value is not None:
            raise NotADirectory(f"memory:{key}: not a directory", path=key)

    def list_files(
        self, directory: PathLike, pattern: str | None = None, extensions: set[str] | None = None, recursive: bool = False
    ) -> list[str]:
        """Files and links under ``directory``: breadth-first, natural order within a level."""
        key = self._normalize(directory)
        self._check_dir(key)
        prefix = "/" if key == "/" else key + "/"
        found = []
        for k in self._children(key):
            rel = k[len(prefix) :]
            depth = rel.count("/")
            if (depth and not recursive) or self._memory_store.get(k) is None:
                continue
            if _match(rel.rsplit("/", 1)[-1], pattern, extensions):
                found.append((depth, natural_key(k), k))
        return [k for _, _, k in sorted(found)]

    def list_dir(self, path: PathLike) -> list[str]:
        """Names of the direct children."""
        key = self._normalize(path)
        self._check_dir(key)
        prefix = "/" if key == "/" else key + "/"
        return sorted({k[len(prefix) :].split("/", 1)[0] for k in self._children(key)})

    def delete(self, path: PathLike) -> None:
        """Delete a file, link or empty folder; a non-empty folder raises ``IsADirectoryError``."""
        key = self._normalize(path)
        if key == "/":
            raise InvalidArgument("refusing to delete the memory root")
        value = self._value(key)
        if value is None and self._children(key):
            raise IsADirectory(f"memory:{key}: cannot delete a non-empty directory (use delete_all)", path=key)
        del self._memory_store[key]

    def delete_all(self, path: PathLike) -> None:
        """Delete a file or a folder and everything below it."""
        key = self._normalize(path)
        if key == "/":
            for k in list(self._memory_store.keys()):
                del self._memory_store[k]
            return
        self._value(key)
        for k in self._children(key):
            del self._memory_store[k]
        del self._memory_store[key]

    def ensure_directory(self, directory: PathLike) -> str:
        """Create the folder and its parents; return its normalised path (``"/a/b"``)."""
        key = self._normalize(directory)
        parts = [p for p in key.split("/") if p]
        current = ""
        for part in parts:
            current += "/" + part
            value = self._memory_store.get(current, 0)
            if value == 0 and current not in self._memory_store:
                self._memory_store[current] = None
            elif value is not None:
                raise NotADirectory(f"memory:{current}: a file is in the way of {key}", path=current)
        return key

    def exists(self, path: PathLike) -> bool:
        """True when the path is stored (or is the root)."""
        return self._has(self._normalize(path))

    def is_file(self, path: PathLike) -> bool:
        """True for a file; missing raises ``NotFound``, a folder ``IsADirectory``."""
        key = self._normalize(path)
        if self._value(key) is None:
            raise IsADirectory(f"memory:{key}: is a directory", path=key)
        return True

    def is_dir(self, path: PathLike) -> bool:
        """True for a folder; missing raises ``NotFound``, a file ``NotADirectory``."""
        self._check_dir(self._normalize(path))
        return True

    def create_symlink(self, source: PathLike, link_name: PathLike, overwrite: bool = False) -> None:
        """Store a link to ``source`` at ``link_name`` (parent must exist)."""
        src, link = self._normalize(source), self._normalize(link_name)
        if not self._has(src):
            raise NotFound(f"memory:{src}: symlink source not found", path=src)
        self._require_parent(link, "Destination parent")
        if link in self._memory_store:
            if not overwrite:
                raise AlreadyExists(f"memory:{link}: symlink destination already exists", path=link)
            if self._memory_store[link] is None:
                raise IsADirectory(f"memory:{link}: a directory is in the way", path=link)
        self._memory_store[link] = MemorySymlink(src)

    def is_symlink(self, path: PathLike) -> bool:
        """True when a link is stored at ``path``."""
        return isinstance(self._memory_store.get(self._normalize(path)), MemorySymlink)

    def _transfer(self, src: PathLike, dst: PathLike, keep_source: bool) -> None:
        import copy as copy_mod

        s, d = self._normalize(src), self._normalize(dst)
        if not self._has(s):
            raise NotFound(f"memory:{s}: Source not found", path=s)
        self._require_parent(d, "Destination parent")
        if d in self._memory_store:
            raise AlreadyExists(f"memory:{d}: destination already exists", path=d)
        take = copy_mod.deepcopy if keep_source else (lambda v: v)
        moves = [(s, d)] + [(k, d + k[len(s) :]) for k in self._children(s)]
        for old, new in moves:
            self._memory_store[new] = take(self._memory_store[old])
        if not keep_source:
            for old, _ in reversed(moves):
                del self._memory_store[old]

    def move(self, src: PathLike, dst: PathLike) -> None:
        """Move a file or folder (destination parent must exist, destination must not)."""
        self._transfer(src, dst, keep_source=False)

    def copy(self, src: PathLike, dst: PathLike) -> None:
        """Deep-copy a file or folder (destination parent must exist, destination must not)."""
        self._transfer(src, dst, keep_source=True)

    def stat(self, path: PathLike) -> dict[str, Any]:
        """``{"type": file|directory|symlink|missing, "path", "exists"[, "target"]}``."""
        key = self._normalize(path)
        if not self._has(key):
            return {"type": "missing", "path": key, "exists": False}
        value = self._memory_store.get(key)
        if isinstance(value, MemorySymlink):
            return {"type": "symlink", "path": key, "target": value.target, "exists": self._has(value.target)}
        return {"type": "directory" if value is None else "file", "path": key, "exists": True}

    def clear_files_only(self) -> None:
        """Remove every file and link, keep the folders."""
        for key in list(self._memory_store.keys()):
            value = self._memory_store.get(key)
            if value is None:
                continue
            if self._is_gpu_object(value):
                self._explicit_gpu_delete(value, key)
            del self._memory_store[key]

    @staticmethod
    def _is_gpu_object(obj: Any) -> bool:
        """True for objects that live in GPU memory (CUDA tensors, CuPy arrays)."""
        try:
            if getattr(obj, "is_cuda", False) is True:
                return True
            return "cupy" in type(obj).__module__
        except Exception as exc:
            logger.debug("_is_gpu_object: caught %s", describe(exc))
            return False

    def _explicit_gpu_delete(self, obj: Any, key: str) -> None:
        """Hook to free GPU memory before dropping ``obj`` (nothing to do without a GPU library)."""


# --------------------------------------------------------------------------- remote (storecore URIs)
class S3StorageBackend(StorageBackend):
    """Objects on S3 (or any storecore URI) over storecore's byte backends.

    ``S3StorageBackend()`` takes full URIs (``s3://bucket/key``, or a scheme
    registered with :func:`storecore.register_scheme`); ``S3StorageBackend("s3://bucket/prefix")``
    also resolves plain keys under that root.  Saving replaces existing
    objects; batch operations run on ``max_workers`` threads.
    """

    _backend_type = "s3"

    def __init__(self, root: str | None = None, *, max_workers: int = BATCH_WORKERS) -> None:
        self.root = root.rstrip("/") if root else None
        self.max_workers = max_workers

    def _where(self, path: PathLike) -> tuple[Any, str, str]:
        from ..backends.registry import backend_for
        from ..location import Location

        text = os.fspath(path)
        if "://" not in text:
            if self.root is None:
                raise InvalidArgument(f"{text!r}: give a full URI (s3://bucket/key) or construct S3StorageBackend(root)")
            text = self.root + "/" + text.lstrip("/")
        backend, loc = backend_for(text)
        return backend, loc.path, str(Location(loc.scheme, loc.bucket, loc.path))

    def save(self, data: Any, output_path: PathLike, **kwargs: Any) -> None:
        """Upload ``data`` encoded by extension (replaces an existing object)."""
        kwargs.pop("metadata", None)
        backend, key, uri = self._where(output_path)
        if not key:
            raise IsADirectory(f"{uri}: is the bucket root", path=uri)
        backend.write_bytes(key, _encode(data, key, **kwargs))

    def load(self, file_path: PathLike, **kwargs: Any) -> Any:
        """Download and decode the object."""
        backend, key, _ = self._where(file_path)
        data = backend.read_bytes(key)
        return _decode(io.BytesIO(data), key, **kwargs)

    def save_batch(self, data_list: list[Any], output_paths: list[PathLike], **kwargs: Any) -> None:
        """Upload concurrently (lengths checked first)."""
        data_list, output_paths = list(data_list), list(output_paths)
        self._check_batch(data_list, output_paths)
        pairs = list(zip(data_list, output_paths, strict=True))

        def one(pair: tuple[Any, PathLike]) -> None:
            backend, key, _ = self._where(pair[1])
            backend.write_bytes(key, _encode(pair[0], key, **kwargs))

        _run_concurrently(one, pairs, self.max_workers)

    def load_batch(self, file_paths: list[PathLike], **kwargs: Any) -> list[Any]:
        """Download concurrently; results in order."""
        return _run_concurrently(lambda p: self.load(p, **kwargs), list(file_paths), self.max_workers)

    def list_files(
        self, directory: PathLike, pattern: str | None = None, extensions: set[str] | None = None, recursive: bool = False
    ) -> list[str]:
        """Object URIs (or keys, for keys given) under ``directory``: breadth-first, natural order within a level."""
        backend, key, _ = self._where(directory)
        if key and not backend.is_dir(key):
            if backend.exists(key):
                raise NotADirectory(f"{backend.uri(key)}: not a directory", path=backend.uri(key))
            raise NotFound(f"{backend.uri(key)}: no such directory", path=backend.uri(key))
        given = os.fspath(directory)
        found = []
        for e in backend.ls(key, recursive=recursive, pattern=None, extensions=extensions):
            if e.is_dir or e.name.endswith("/") or not e.name:
                continue
            if pattern is not None and not fnmatch.fnmatch(e.name, pattern):
                continue
            k = backend.key(e.path)
            rel = k[len(key) :].lstrip("/") if key else k
            found.append((rel.count("/"), natural_key(rel), given.rstrip("/") + "/" + rel))
        return [u for _, _, u in sorted(found)]

    def list_dir(self, path: PathLike) -> list[str]:
        """Names of the direct children (objects and prefixes)."""
        backend, key, uri = self._where(path)
        if key and not backend.is_dir(key):
            raise NotFound(f"{uri}: no such directory", path=uri)
        return sorted({e.name.rstrip("/") for e in backend.ls(key) if e.name.rstrip("/")})

    def delete(self, path: PathLike) -> None:
        """Delete an object or an empty prefix; a non-empty prefix raises ``IsADirectoryError``."""
        backend, key, uri = self._where(path)
        if not backend.exists(key):
            raise NotFound(f"{uri}: no such object", path=uri)
        if backend.is_dir(key) and any(True for _ in backend.ls(key)):
            raise IsADirectory(f"{uri}: cannot delete a non-empty directory (use delete_all)", path=uri)
        backend.delete(key, recursive=True)

    def delete_all(self, path: PathLike) -> None:
        """Delete an object or everything under a prefix."""
        backend, key, uri = self._where(path)
        if not backend.exists(key):
            raise NotFound(f"{uri}: no such object", path=uri)
        backend.delete(key, recursive=True)

    def ensure_directory(self, directory: PathLike) -> str:
        """Create a folder marker; return the path as given."""
        backend, key, _ = self._where(directory)
        if key:
            backend.mkdir(key)
        return os.fspath(directory)

    def exists(self, path: PathLike) -> bool:
        """True for an object or a non-empty prefix."""
        backend, key, _ = self._where(path)
        return backend.exists(key)

    def is_file(self, path: PathLike) -> bool:
        """True for an object; missing raises ``NotFound``, a prefix ``IsADirectory``."""
        backend, key, uri = self._where(path)
        if backend.stat(key).is_dir:
            raise IsADirectory(f"{uri}: is a directory", path=uri)
        return True

    def is_dir(self, path: PathLike) -> bool:
        """True for a prefix; missing raises ``NotFound``, an object ``NotADirectory``."""
        backend, key, uri = self._where(path)
        if not backend.stat(key).is_dir:
            raise NotADirectory(f"{uri}: not a directory", path=uri)
        return True

    def move(self, src: PathLike, dst: PathLike) -> None:
        """Move an object or prefix (server-side on one endpoint)."""
        from ..transfer import move

        _, _, s = self._where(src)
        backend, key, d = self._where(dst)
        if backend.exists(key):
            raise AlreadyExists(f"{d}: destination already exists", path=d)
        move(s, d)

    def copy(self, src: PathLike, dst: PathLike) -> None:
        """Copy an object or prefix (server-side on one endpoint)."""
        from ..transfer import copy

        _, _, s = self._where(src)
        backend, key, d = self._where(dst)
        if backend.exists(key):
            raise AlreadyExists(f"{d}: destination already exists", path=d)
        copy(s, d)


# --------------------------------------------------------------------------- zarr
class ZarrBackend(StorageBackend):
    """NumPy arrays as Zarr v3 arrays at local ``*.zarr`` paths; other paths go to a :class:`DiskBackend`.

    ``save(array, "x.zarr", chunks=..., compressors=...)`` builds the array
    beside the target and swaps it in (an existing array is replaced
    atomically); ``load`` returns a numpy array (``lazy=True``: the
    ``zarr.Array``).  Listings treat ``.zarr`` folders as files.
    """

    _backend_type = "zarr"

    def __init__(self, disk: DiskBackend | None = None) -> None:
        self._disk = disk or DiskBackend()

    @staticmethod
    def _is_zarr(path: PathLike) -> bool:
        return os.fspath(path).rstrip("/").lower().endswith(".zarr")

    def save(self, data: Any, output_path: PathLike, **kwargs: Any) -> None:
        """Write ``data`` as a Zarr array at ``output_path`` (parents created)."""
        if not self._is_zarr(output_path):
            self._disk.save(data, output_path, **kwargs)
            return
        import uuid

        import numpy as np
        import zarr

        from .savers import _zarr_codecs

        kwargs.pop("metadata", None)
        arr = np.asarray(data)
        if arr.dtype == object:
            raise FormatError(f"{output_path}: only numeric/string arrays can be stored as Zarr")
        target = os.path.abspath(os.fspath(output_path))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}")
        try:
            z = zarr.create_array(zarr.storage.LocalStore(tmp), shape=arr.shape, dtype=arr.dtype, **_zarr_codecs(kwargs))
            if arr.size:
                z[...] = arr
            if os.path.lexists(target):
                old = tmp + ".old"
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def load(self, file_path: PathLike, *, lazy: bool = False, **kwargs: Any) -> Any:
        """The array at ``file_path`` (numpy, or the ``zarr.Array`` with ``lazy=True``)."""
        if not self._is_zarr(file_path):
            return self._disk.load(file_path, **kwargs)
        import zarr

        full = os.path.abspath(os.fspath(file_path))
        if not os.path.isdir(full):
            raise NotFound(f"{full}: no such Zarr array", path=full)
        try:
            z = zarr.open_array(zarr.storage.LocalStore(full, read_only=True), mode="r")
        except FileNotFoundError as e:
            raise NotFound(f"{full}: not a Zarr array", path=full) from e
        return z if lazy else z[...]

    def list_files(
        self, directory: PathLike, pattern: str | None = None, extensions: set[str] | None = None, recursive: bool = False
    ) -> list[str]:
        """Files and ``.zarr`` arrays under ``directory`` (breadth-first; arrays are not descended)."""
        given, top = os.fspath(directory), os.path.abspath(os.fspath(directory))
        self._disk._check_dir(top)
        out, pending = [], deque([("", top)])
        while pending:
            rel_dir, full_dir = pending.popleft()
            for e in sorted(os.scandir(full_dir), key=lambda e: natural_key(e.name)):
                if DiskBackend._hidden(e.name):
                    continue
                rel = os.path.join(rel_dir, e.name) if rel_dir else e.name
                if e.is_dir() and not self._is_zarr(e.name):
                    if recursive:
                        pending.append((rel, e.path))
                    continue
                if _match(e.name, pattern, extensions):
                    out.append(os.path.join(given, rel))
        return out

    def list_dir(self, path: PathLike) -> list[str]:
        """Names in the folder."""
        return self._disk.list_dir(path)

    def delete(self, path: PathLike) -> None:
        """Delete a file, an array, or an empty folder."""
        if self._is_zarr(path) and os.path.isdir(os.path.abspath(os.fspath(path))):
            self._disk.delete_all(path)
        else:
            self._disk.delete(path)

    def delete_all(self, path: PathLike) -> None:
        """Delete a file, an array or a tree."""
        self._disk.delete_all(path)

    def ensure_directory(self, directory: PathLike) -> str:
        """Create the folder and its parents."""
        return self._disk.ensure_directory(directory)

    def exists(self, path: PathLike) -> bool:
        """True for an existing file, folder or array."""
        return self._disk.exists(path)

    def is_file(self, path: PathLike) -> bool:
        """True for a file or a ``.zarr`` array."""
        if self._is_zarr(path) and os.path.isdir(os.path.abspath(os.fspath(path))):
            return True
        return self._disk.is_file(path)

    def is_dir(self, path: PathLike) -> bool:
        """True for a folder that is not a ``.zarr`` array."""
        if self._is_zarr(path) and os.path.isdir(os.path.abspath(os.fspath(path))):
            raise NotADirectory(f"{path}: is a Zarr array", path=os.fspath(path))
        return self._disk.is_dir(path)

    def create_symlink(self, source: PathLike, link_name: PathLike, overwrite: bool = False) -> None:
        """Symlink on the local file system."""
        self._disk.create_symlink(source, link_name, overwrite)

    def is_symlink(self, path: PathLike) -> bool:
        """True for a symbolic link."""
        return self._disk.is_symlink(path)


class FileFormatRegistry:
    """polystore's per-extension writer/reader table (for code that registers its own)."""

    def __init__(self) -> None:
        self._writers: dict[str, Callable[..., Any]] = {}
        self._readers: dict[str, Callable[..., Any]] = {}

    def register(self, ext: str, writer: Callable[..., Any], reader: Callable[..., Any]) -> None:
        """Register ``writer(path, data)`` and ``reader(path)`` for extension ``ext``."""
        key = ext.lower() if ext.startswith(".") else "." + ext.lower()
        if key in self._writers:
            raise InvalidArgument(f"extension {key!r} is already registered")
        self._writers[key], self._readers[key] = writer, reader

    def get_writer(self, ext: str) -> Callable[..., Any]:
        """The writer for ``ext``."""
        return self._writers[ext.lower()]

    def get_reader(self, ext: str) -> Callable[..., Any]:
        """The reader for ``ext``."""
        return self._readers[ext.lower()]

    def is_registered(self, ext: str) -> bool:
        """True when ``ext`` has a writer and a reader."""
        return ext.lower() in self._writers


__all__ = [
    "StorageBackend",
    "DiskBackend",
    "MemoryBackend",
    "MemorySymlink",
    "ZarrBackend",
    "S3StorageBackend",
    "FileFormatRegistry",
    "natural_sort",
]
