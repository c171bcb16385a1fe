"""atomea-style stores: one ``Store`` interface over arrays (NumPy, Zarr, HDF5) and tables (Polars).

``Store(path, mode, disk_format)`` opens a store at ``path`` with a persistence
mode, exactly as atomea defines them:

* ``r``  read only; the path must exist (else :class:`~storecore.errors.NotFound`);
  every write raises :class:`~storecore.errors.ModeError`;
* ``r+`` read/write; the path must exist;
* ``a``  read/write; created when missing;
* ``w``  created; existing content is removed first;
* ``w-`` created; an existing path raises :class:`~storecore.errors.AlreadyExists`.

With ``disk_format=DiskFormat.NONE`` the store lives in memory and the path is
not checked (the mode still guards writes).

Every store offers ``write(path, data, view=None)`` (``view`` writes into a
slice of existing data), ``read(path, view=None)`` (an in-memory copy; only the
slice is read from disk), ``get(path)`` (a lazy reference: ``numpy.memmap``,
``zarr.Array``, ``h5py.Dataset`` or ``polars.LazyFrame``; ``None`` when
missing, as atomea documents), ``append`` (arrays along axis 0, tables by
rows; a shape/schema mismatch raises :class:`~storecore.errors.ShapeMismatch`
naming both), ``available()`` and ``flush()``.  Stores are context managers.

Where things live
    * ``NumpyArrayStore``: a folder, one ``<path>.npy`` per array.  Writes
      are atomic; appends go in place (no full load).  Remote URIs
      (``s3://``, ``memory://``, registered schemes): write, read (only the
      needed bytes are fetched for first-axis slices), get (a lazy
      :class:`RemoteNpyArray`), append (rewrites the object), available.
    * ``ZarrArrayStore``: a Zarr v3 group (local folder, or any zarr 3
      ``Store`` object passed as ``path``).  storecore URIs to object stores
      are not opened here: use ``storecore.open_container`` for those.
    * ``HDF5ArrayStore``: one HDF5 file, datasets at slash paths.  Remote
      URIs are opened read-only (mode ``r``) through a lazy ranged reader.
    * ``PolarsTableStore``: a folder, one file per table
      (``DiskFormat.PARQUET`` by default; ``CSV``, ``IPC``, ``JSON`` (NDJSON)).
      Remote URIs work for every operation; ``get`` scans S3 Parquet lazily.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from enum import Enum, auto
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AlreadyExists, InvalidArgument, ModeError, NotFound, ShapeMismatch, StorecoreError
from ..logs import suppress_logged

logger = logging.getLogger(__name__)

MODES = ("r", "r+", "a", "w", "w-")

#: a slice specification: a slice, an index, a tuple of them, or (tables) column names
SliceSpec = Any


class StoreKind(Enum):
    """Which kind of data a store holds."""

    ARRAY = auto()
    TABLE = auto()


class DiskFormat(Enum):
    """Format of the data on disk (``NONE``: kept in memory, path not checked)."""

    NONE = auto()
    # arrays
    ZARR = auto()
    NPY = auto()
    NPZ = auto()
    HDF5 = auto()
    # tables
    CSV = auto()
    IPC = auto()
    EXCEL = auto()
    JSON = auto()
    PARQUET = auto()
    AVRO = auto()
    DELTA = auto()
    ICEBERG = auto()


def _is_uri(path: Any) -> bool:
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def _norm_name(name: str | os.PathLike[str]) -> str:
    text = os.fspath(name).replace("\\", "/").strip("/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise InvalidArgument(f"invalid data path {os.fspath(name)!r}")
    return "/".join(parts)


class Store(ABC):
    """Abstract interface for data held in memory or on disk (see the module docs for the modes)."""

    kind: StoreKind = StoreKind.ARRAY
    #: what a missing path is, for error messages
    _what = "store"

    def __init__(self, path: Path | str = "", mode: str = "r", disk_format: DiskFormat = DiskFormat.NONE, **kwargs: Any) -> None:
        if mode not in MODES:
            raise InvalidArgument(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        self.path = path
        self.mode = mode
        self.disk_format = disk_format
        self.options = kwargs
        self._memory: dict[str, Any] = {}
        if disk_format is not DiskFormat.NONE:
            self._prepare()

    # -- mode handling ---------------------------------------------------------------
    def _prepare(self) -> None:
        """Apply the mode to ``self.path``: check existence, create, or clear it."""
        exists = self._exists()
        shown = os.fspath(self.path) if isinstance(self.path, str | os.PathLike) else repr(self.path)
        if self.mode in ("r", "r+") and not exists:
            raise NotFound(f"{shown}: no such {self._what} (mode {self.mode!r} needs an existing one)", path=shown)
        if self.mode == "w-" and exists:
            raise AlreadyExists(f"{shown}: already exists (mode 'w-' creates a new {self._what})", path=shown)
        if self.mode == "w" and exists:
            self._clear()
        if self.mode != "r":
            self._create()

    @abstractmethod
    def _exists(self) -> bool:
        """True when the store's path exists."""

    def _create(self) -> None:  # noqa: B027 - optional hook
        """Create the (empty) store at its path."""

    def _clear(self) -> None:  # noqa: B027 - optional hook
        """Remove the existing store content (mode ``w``)."""

    def _check_writable(self, op: str) -> None:
        if self.mode == "r":
            raise ModeError(f"{op} refused: the store at {os.fspath(self.path) if isinstance(self.path, str | os.PathLike) else self.path!r} is open read-only (mode 'r')")

    @property
    def in_memory(self) -> bool:
        """True for ``DiskFormat.NONE`` stores."""
        return self.disk_format is DiskFormat.NONE

    # -- the interface ---------------------------------------------------------------------
    @abstractmethod
    def write(self, path: Path | str, data: Any, view: SliceSpec = None, **kwargs: Any) -> None:
        """Write ``data`` at ``path``; with ``view``, into that slice of the existing data."""

    @abstractmethod
    def read(self, path: Path | str, view: SliceSpec = None, **kwargs: Any) -> Any:
        """Return the data at ``path`` (or its ``view`` slice) in memory; ``None`` when missing."""

    @abstractmethod
    def get(self, path: Path | str, **kwargs: Any) -> Any:
        """Return a lazy reference to the data at ``path`` (no full load); ``None`` when missing."""

    @abstractmethod
    def append(self, path: Path | str, data: Any, **kwargs: Any) -> None:
        """Append ``data`` (rows / first axis) to the data at ``path``, creating it when missing."""

    @abstractmethod
    def available(self) -> list[str]:
        """The data paths this store holds, sorted."""

    def flush(self, **kwargs: Any) -> None:  # noqa: B027 - writes are durable when they return
        """Make pending changes durable (writes here are already on disk when they return)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release open files."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.flush()
        self.close()

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str | os.PathLike):
            return False
        try:
            return _norm_name(path) in self.available()
        except InvalidArgument:
            return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r} mode={self.mode!r}>"


# =========================================================================== arrays
def _check_append(where: str, existing: tuple[int, ...], new: tuple[int, ...]) -> None:
    if len(existing) == 0 or len(new) != len(existing) or existing[1:] != new[1:]:
        raise ShapeMismatch(
            f"{where}: cannot append data of shape {tuple(new)} to an array of shape {tuple(existing)} "
            "(all but the first dimension must agree)"
        )


def _as_array(data: Any) -> np.ndarray:
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"cannot convert the data to an array: {e}") from e
    if arr.dtype == object:
        raise InvalidArgument("the data converts only to an object array (ragged or mixed types)")
    return arr


class _MemoryArrays:
    """Shared behaviour of the ``DiskFormat.NONE`` array stores."""

    _memory: dict[str, Any]

    def _mem_write(self, name: str, arr: np.ndarray, view: SliceSpec) -> None:
        if view is None:
            self._memory[name] = np.array(arr, copy=True)
            return
        if name not in self._memory:
            raise NotFound(f"{name}: no such array to write a slice into", path=name)
        self._memory[name][view] = arr

    def _mem_append(self, name: str, arr: np.ndarray) -> None:
        if name not in self._memory:
            self._memory[name] = np.array(arr, copy=True)
            return
        old = self._memory[name]
        _check_append(name, old.shape, arr.shape)
        self._memory[name] = np.concatenate([old, arr.astype(np.result_type(old, arr), copy=False)])


class _ChunkedArrays(_MemoryArrays):
    """read / get / write / append shared by the Zarr and HDF5 stores; subclasses say how to find, store and resize a node."""

    #: what a node is called in messages
    _noun = "array"

    def _node(self, name: str) -> Any:
        """The lazy array called ``name`` (``None`` when missing)."""
        raise NotImplementedError

    def _resize_rows(self, node: Any, rows: int) -> None:
        """Set the length of ``node`` along axis 0."""
        raise NotImplementedError

    def _check_growable(self, node: Any, name: str) -> None:
        """Raise when ``node`` cannot grow along axis 0 (default: it always can)."""

    def _replace(self, node: Any, name: str, arr: np.ndarray, kwargs: dict[str, Any]) -> None:
        """Store ``arr`` as the whole of ``name`` (``node``: the array there now, or ``None``)."""
        raise NotImplementedError

    def write(self, path: Path | str, data: Any, view: SliceSpec = None, **kwargs: Any) -> None:
        """Create/replace an array, or write ``data`` into its ``view`` slice.

        kwargs go to the format: Zarr's ``chunks``, ``compressors``...; HDF5 datasets are resizable along axis 0.
        """
        self._check_writable("write")  # type: ignore[attr-defined]
        arr = _as_array(data)
        name = _norm_name(path)
        if self.in_memory:  # type: ignore[attr-defined]
            self._mem_write(name, arr, view)
            return
        node = self._node(name)
        if view is not None:
            if node is None:
                where = f"{self.path}::{name}"  # type: ignore[attr-defined]
                raise NotFound(f"{where}: no such {self._noun} to write a slice into", path=name)
            node[view] = arr
            return
        self._replace(node, name, arr, kwargs)

    def read(self, path: Path | str, view: SliceSpec = None, **kwargs: Any) -> np.ndarray | None:
        """Only ``view`` is read from disk; ``None`` when missing."""
        if self.in_memory:  # type: ignore[attr-defined]
            arr = self._memory.get(_norm_name(path))
            return None if arr is None else np.array(arr if view is None else arr[view], copy=True)
        node = self._node(_norm_name(path))
        if node is None:
            return None
        return np.asarray(node[...] if view is None else node[view])

    def get(self, path: Path | str, **kwargs: Any) -> Any:
        """The lazy array (``zarr.Array``, or ``h5py.Dataset`` valid while the store is open); ``None`` when missing."""
        if self.in_memory:  # type: ignore[attr-defined]
            return self._memory.get(_norm_name(path))
        return self._node(_norm_name(path))

    def append(self, path: Path | str, data: Any, **kwargs: Any) -> None:
        """Append along axis 0 (resizing the array); create it when missing; undo the resize on failure."""
        self._check_writable("append")  # type: ignore[attr-defined]
        arr = _as_array(data)
        name = _norm_name(path)
        if self.in_memory:  # type: ignore[attr-defined]
            self._mem_append(name, arr)
            return
        node = self._node(name)
        if node is None:
            self.write(name, arr, **kwargs)  # type: ignore[attr-defined]
            return
        _check_append(f"{self.path}::{name}", node.shape, arr.shape)  # type: ignore[attr-defined]
        self._check_growable(node, name)
        old = node.shape[0]
        self._resize_rows(node, old + arr.shape[0])
        try:
            node[old:] = arr
        except BaseException:
            self._resize_rows(node, old)
            raise


class RemoteNpyArray:
    """A lazy ``.npy`` array on a remote backend: ``shape``, ``dtype``, and slicing that fetches only what it needs.

    First-axis slices of a C-ordered array cost one ranged read of exactly
    the rows they cover; the rest of the selection is applied in memory.
    """

    def __init__(self, backend: Any, key: str) -> None:
        self.backend, self.key = backend, key
        head = backend.read_bytes(key, 0, 4096)
        f = io.BytesIO(head)
        version = np.lib.format.read_magic(f)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        try:
            self.shape, self.fortran, self.dtype = reader(f)
        except ValueError as e:
            raise StorecoreError(f"{backend.uri(key)}: cannot read the .npy header: {e}") from e
        self.offset = f.tell()
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    def _rows(self, start: int, stop: int) -> np.ndarray:
        row = self.dtype.itemsize * int(np.prod(self.shape[1:]))
        if stop <= start:
            return np.empty((0, *self.shape[1:]), self.dtype)
        data = self.backend.read_bytes(self.key, self.offset + start * row, self.offset + stop * row)
        return np.frombuffer(data, self.dtype).reshape((stop - start, *self.shape[1:])).copy()

    def __getitem__(self, view: SliceSpec) -> np.ndarray:
        if self.fortran or not self.shape:
            return self._rows_all()[view]
        first, rest = (view[0], view[1:]) if isinstance(view, tuple) and view else (view, ())
        if isinstance(first, slice) and first.step in (None, 1):
            start, stop, _ = first.indices(self.shape[0])
            return self._rows(start, stop)[(slice(None), *rest)]
        if isinstance(first, int | np.integer):
            i = int(first) + (self.shape[0] if first < 0 else 0)
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"index {first} is out of bounds for axis 0 with size {self.shape[0]}")
            return self._rows(i, i + 1)[(0, *rest)]
        return self._rows_all()[view]

    def _rows_all(self) -> np.ndarray:
        if not self.shape:
            data = self.backend.read_bytes(self.key, self.offset)
            return np.frombuffer(data, self.dtype).reshape(()).copy()
        if self.fortran:
            data = self.backend.read_bytes(self.key, self.offset)
            return np.frombuffer(data, self.dtype).reshape(self.shape, order="F").copy()
        return self._rows(0, self.shape[0])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self._rows_all()
        return out if dtype is None else out.astype(dtype)


class _FileFolder:
    """A store kept as one file per name (``name + _ext``) in a folder, local or on any backend."""

    _ext: str
    _remote: bool
    _root: str
    _backend: Any

    def _key(self, name: str) -> str:
        rel = _norm_name(name) + self._ext
        if self._remote:
            return f"{self._root}/{rel}" if self._root else rel
        return os.path.join(self._root, *rel.split("/"))

    def _exists(self) -> bool:
        if self._remote:
            return self._backend.is_dir(self._root) if self._root else True
        return os.path.exists(self._root)

    def _create(self) -> None:
        if self._remote:
            if self._root:
                self._backend.mkdir(self._root)
        else:
            os.makedirs(self._root, exist_ok=True)

    def _clear(self) -> None:
        if self._remote:
            for e in list(self._backend.ls(self._root, recursive=True, extensions=[self._ext])):
                self._backend.delete(e.path)
        elif os.path.isdir(self._root):
            shutil.rmtree(self._root)
        else:
            os.unlink(self._root)

    def _has(self, key: str) -> bool:
        return self._backend.is_file(key) if self._remote else os.path.isfile(key)


class NumpyArrayStore(_FileFolder, _MemoryArrays, Store):
    """Arrays as ``.npy`` files in a folder (local, or any storecore URI); ``get`` memory-maps them."""

    kind = StoreKind.ARRAY
    _what = "array folder"
    _ext = ".npy"

    def __init__(self, path: Path | str = "", mode: str = "r", disk_format: DiskFormat = DiskFormat.NPY, **kwargs: Any) -> None:
        self._remote = _is_uri(path)
        if self._remote:
            from ..backends.registry import backend_for

            self._backend, loc = backend_for(path)
            self._root = loc.path.rstrip("/")
        elif disk_format is not DiskFormat.NONE:
            self._root = os.path.abspath(os.fspath(path))
        if disk_format not in (DiskFormat.NPY, DiskFormat.NONE):
            raise InvalidArgument(f"NumpyArrayStore writes DiskFormat.NPY, not {disk_format}")
        super().__init__(path, mode, disk_format, **kwargs)

    # interface -----------------------------------------------------------------
    def write(self, path: Path | str, data: Any, view: SliceSpec = None, **kwargs: Any) -> None:
        """Write an array (atomically), or ``data`` into the ``view`` slice of an existing one."""
        self._check_writable("write")
        arr = _as_array(data)
        if self.in_memory:
            self._mem_write(_norm_name(path), arr, view)
            return
        key = self._key(path)
        if view is None:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            if self._remote:
                self._backend.write_bytes(key, buf.getvalue())
            else:
                from ..backends.local import AtomicLocalFile

                with AtomicLocalFile(key) as out:
                    out.write(buf.getbuffer())
            return
        if not self._has(key):
            raise NotFound(f"{key}: no such array to write a slice into", path=key)
        if self._remote:
            full = RemoteNpyArray(self._backend, key)._rows_all()
            full[view] = arr
            self.write(path, full)
            return
        mm = np.load(key, mmap_mode="r+")
        try:
            mm[view] = arr
            mm.flush()
        finally:
            del mm

    def read(self, path: Path | str, view: SliceSpec = None, **kwargs: Any) -> np.ndarray | None:
        """The array (or its ``view``) in memory; only the slice's bytes are read. ``None`` when missing."""
        if self.in_memory:
            arr = self._memory.get(_norm_name(path))
            return None if arr is None else np.array(arr if view is None else arr[view], copy=True)
        ref = self.get(path)
        if ref is None:
            return None
        if isinstance(ref, RemoteNpyArray):
            return ref._rows_all() if view is None else ref[view]
        try:
            return np.array(ref if view is None else ref[view], copy=True)
        finally:
            del ref

    def get(self, path: Path | str, **kwargs: Any) -> Any:
        """A ``numpy.memmap`` (local) or :class:`RemoteNpyArray`; ``None`` when missing."""
        if self.in_memory:
            return self._memory.get(_norm_name(path))
        key = self._key(path)
        if not self._has(key):
            return None
        if self._remote:
            return RemoteNpyArray(self._backend, key)
        try:
            return np.load(key, mmap_mode="r" if self.mode == "r" else "r+")
        except ValueError:  # empty arrays cannot be memory-mapped
            return np.load(key)

    def append(self, path: Path | str, data: Any, **kwargs: Any) -> None:
        """Append along axis 0 in place (no full load locally); create the array when missing."""
        self._check_writable("append")
        arr = _as_array(data)
        if self.in_memory:
            self._mem_append(_norm_name(path), arr)
            return
        key = self._key(path)
        if not self._has(key):
            self.write(path, arr)
            return
        if self._remote:
            ref = RemoteNpyArray(self._backend, key)
            _check_append(key, ref.shape, arr.shape)
            self.write(path, np.concatenate([ref._rows_all(), arr]))
            return
        from .savers import NumpySaver

        NumpySaver(key, "append").save(arr)

    def available(self) -> list[str]:
        """Array paths (``a/b`` for ``a/b.npy``), sorted."""
        if self.in_memory:
            return sorted(self._memory)
        if not self._exists():
            return []
        if self._remote:
            entries = self._backend.ls(self._root, recursive=True, extensions=[".npy"])
            base = len(self._root) + 1 if self._root else 0
            return sorted(self._backend.key(e.path)[base:-4] for e in entries)
        out = []
        for dirpath, _dirs, files in os.walk(self._root):
            for f in files:
                if f.endswith(".npy") and not f.startswith("."):
                    rel = os.path.relpath(os.path.join(dirpath, f), self._root)
                    out.append(rel[:-4].replace(os.sep, "/"))
        return sorted(out)


class ZarrArrayStore(_ChunkedArrays, Store):
    """Arrays in a Zarr v3 group: a local folder or any zarr 3 ``Store`` object passed as ``path``."""

    kind = StoreKind.ARRAY
    _what = "Zarr group"

    def __init__(self, path: Any = "", mode: str = "r", disk_format: DiskFormat = DiskFormat.ZARR, **kwargs: Any) -> None:
        if _is_uri(path):
            raise InvalidArgument(
                f"{path}: ZarrArrayStore opens local folders or zarr store objects; open remote Zarr with storecore.open_container"
            )
        if disk_format not in (DiskFormat.ZARR, DiskFormat.NONE):
            raise InvalidArgument(f"ZarrArrayStore writes DiskFormat.ZARR, not {disk_format}")
        self._group: Any = None
        super().__init__(path, mode, disk_format, **kwargs)
        if not self.in_memory:
            self._open()

    @property
    def _local(self) -> bool:
        return isinstance(self.path, str | os.PathLike)

    def _exists(self) -> bool:
        if self._local:
            return os.path.exists(os.fspath(self.path))
        import zarr

        try:
            zarr.open_group(self.path, mode="r")
        except (FileNotFoundError, zarr.errors.GroupNotFoundError):
            return False
        return True

    def _clear(self) -> None:
        if self._local:
            shutil.rmtree(os.fspath(self.path))

    def _open(self) -> None:
        import zarr

        store = zarr.storage.LocalStore(os.fspath(self.path), read_only=self.mode == "r") if self._local else self.path
        # modes were applied by _prepare; open the group read-only or for writing
        self._group = zarr.open_group(store, mode={"r": "r", "w": "w"}.get(self.mode, "a"))

    def _array(self, name: str) -> Any:
        import zarr

        try:
            node = self._group[name]
        except KeyError:
            return None
        return node if isinstance(node, zarr.Array) else None

    def _replace(self, z: Any, name: str, arr: np.ndarray, kwargs: dict[str, Any]) -> None:
        """Create/replace the array (kwargs: ``chunks``, ``compressors``...)."""
        if z is not None and z.shape == arr.shape and z.dtype == arr.dtype and not kwargs:
            z[...] = arr
            return
        z = self._group.create_array(name, shape=arr.shape, dtype=arr.dtype, overwrite=True, **kwargs)
        if arr.size:
            z[...] = arr

    _node = _array

    def _resize_rows(self, node: Any, rows: int) -> None:
        node.resize((rows, *node.shape[1:]))

    def available(self) -> list[str]:
        """Paths of every array in the group (nested ones as ``a/b``), sorted."""
        if self.in_memory:
            return sorted(self._memory)
        import zarr

        return sorted(p for p, node in self._group.members(max_depth=None) if isinstance(node, zarr.Array))


class HDF5ArrayStore(_ChunkedArrays, Store):
    """Arrays as datasets of one HDF5 file (slash paths make groups); remote URIs open read-only."""

    kind = StoreKind.ARRAY
    _what = "HDF5 file"
    _noun = "dataset"

    def __init__(self, path: Path | str = "", mode: str = "r", disk_format: DiskFormat = DiskFormat.HDF5, **kwargs: Any) -> None:
        self._file: Any = None
        self._remote = _is_uri(path)
        if disk_format not in (DiskFormat.HDF5, DiskFormat.NONE):
            raise InvalidArgument(f"HDF5ArrayStore writes DiskFormat.HDF5, not {disk_format}")
        if self._remote and mode != "r" and disk_format is not DiskFormat.NONE:
            raise ModeError(f"{path}: remote HDF5 files open read-only (mode 'r'), not {mode!r}")
        super().__init__(path, mode, disk_format, **kwargs)
        if not self.in_memory:
            self._open()

    def _exists(self) -> bool:
        if self._remote:
            from ..backends.registry import backend_for

            backend, loc = backend_for(self.path)
            return backend.is_file(loc.path)
        return os.path.exists(os.fspath(self.path))

    def _clear(self) -> None:
        os.unlink(os.fspath(self.path))

    def _create(self) -> None:
        parent = os.path.dirname(os.path.abspath(os.fspath(self.path)))
        os.makedirs(parent, exist_ok=True)

    def _open(self) -> None:
        import h5py

        if self._remote:
            from ..backends.registry import backend_for

            backend, loc = backend_for(self.path)
            self._file = h5py.File(backend.open(loc.path, "rb"), "r")
        else:
            self._file = h5py.File(os.fspath(self.path), "r" if self.mode == "r" else "a")

    def _dataset(self, name: str) -> Any:
        import h5py

        node = self._file.get(name)
        return node if isinstance(node, h5py.Dataset) else None

    def _replace(self, d: Any, name: str, arr: np.ndarray, kwargs: dict[str, Any]) -> None:
        """Create/replace the dataset (resizable along axis 0)."""
        opts = dict(kwargs)
        if arr.ndim:
            opts.setdefault("chunks", True)
            opts.setdefault("maxshape", (None, *arr.shape[1:]))
        if name not in self._file:
            self._file.create_dataset(name, data=arr, **opts)
            return
        # Build the replacement beside the old dataset, then swap: a failure keeps the old one.
        tmp = f"{name}.__storecore_tmp_{uuid.uuid4().hex[:8]}"
        try:
            self._file.create_dataset(tmp, data=arr, **opts)
        except BaseException:
            with suppress_logged(logger, "write"):
                del self._file[tmp]
            raise
        del self._file[name]
        self._file.move(tmp, name)

    _node = _dataset

    def _resize_rows(self, node: Any, rows: int) -> None:
        node.resize(rows, axis=0)

    def _check_growable(self, node: Any, name: str) -> None:
        if node.maxshape[0] is not None:
            raise InvalidArgument(f"{self.path}::{name}: the dataset is not resizable along axis 0")

    def available(self) -> list[str]:
        """Paths of every dataset in the file, sorted."""
        if self.in_memory:
            return sorted(self._memory)
        import h5py

        out: list[str] = []
        self._file.visititems(lambda n, obj: out.append(n) if isinstance(obj, h5py.Dataset) else None)
        return sorted(out)

    def flush(self, **kwargs: Any) -> None:
        """Flush HDF5 buffers to disk."""
        if self._file is not None and self.mode != "r":
            self._file.flush()

    def close(self) -> None:
        """Close the HDF5 file (lazy datasets from ``get`` become invalid)."""
        if self._file is not None:
            with suppress_logged(logger, "close"):
                self._file.close()
            self._file = None


# =========================================================================== tables
_TABLE_EXT = {DiskFormat.PARQUET: ".parquet", DiskFormat.CSV: ".csv", DiskFormat.IPC: ".arrow", DiskFormat.JSON: ".ndjson"}


class PolarsTableStore(_FileFolder, Store):
    """Tables as Polars frames, one file per table in a folder (local or any storecore URI).

    ``read(path, view)``: ``view`` selects rows (``slice``/int), columns (a
    name gives a ``Series``, a list of names a frame), or both as
    ``(rows, columns)``; kwargs ``column_name=`` and ``filters=`` (a polars
    expression) are applied lazily before loading.  ``append`` rewrites the
    file by streaming old and new rows into a temporary file (bounded memory)
    that then replaces it.  A ``write`` with ``view`` updates those
    rows/columns of the stored table.
    """

    kind = StoreKind.TABLE
    _what = "table folder"

    def __init__(self, path: Path | str = "", mode: str = "r", disk_format: DiskFormat = DiskFormat.PARQUET, **kwargs: Any) -> None:
        if disk_format not in _TABLE_EXT and disk_format is not DiskFormat.NONE:
            raise InvalidArgument(f"PolarsTableStore writes {', '.join(f.name for f in _TABLE_EXT)} (or NONE), not {disk_format.name}")
        self._remote = _is_uri(path)
        if self._remote:
            from ..backends.registry import backend_for

            self._backend, loc = backend_for(path)
            self._root = loc.path.rstrip("/")
            self._loc = loc
        elif disk_format is not DiskFormat.NONE:
            self._root = os.path.abspath(os.fspath(path))
        self._ext = _TABLE_EXT.get(disk_format, ".parquet")
        super().__init__(path, mode, disk_format, **kwargs)

    # io -----------------------------------------------------------------------------
    def _write_frame(self, df: Any, target: str | io.BytesIO) -> None:
        fmt = self.disk_format
        if fmt is DiskFormat.CSV:
            df.write_csv(target)
        elif fmt is DiskFormat.IPC:
            df.write_ipc(target)
        elif fmt is DiskFormat.JSON:
            df.write_ndjson(target)
        else:
            df.write_parquet(target)

    def _store_frame(self, key: str, df: Any) -> None:
        buf = io.BytesIO()
        self._write_frame(df, buf)
        if self._remote:
            self._backend.write_bytes(key, buf.getvalue())
            return
        from ..backends.local import AtomicLocalFile

        with AtomicLocalFile(key) as out:
            out.write(buf.getbuffer())

    def _scan(self, key: str) -> Any:
        """A LazyFrame over the table file: S3 objects are scanned in place by polars, memory objects from their bytes."""
        import polars as pl

        scan = {
            DiskFormat.CSV: pl.scan_csv,
            DiskFormat.IPC: pl.scan_ipc,
            DiskFormat.JSON: pl.scan_ndjson,
        }.get(self.disk_format, pl.scan_parquet)
        if not self._remote:
            return scan(key)
        options = self._storage_options()
        if options is not None:
            return scan(f"s3://{self._backend.bucket}/{key}", storage_options=options)
        return scan(io.BytesIO(self._backend.read_bytes(key)))

    def _storage_options(self) -> dict[str, str] | None:
        """polars/object_store options for an S3 scheme (None for other remote backends)."""
        from ..location import scheme_info

        base, options = scheme_info(self._loc.scheme)
        if base != "s3":
            return None
        out = {"aws_region": options.get("region_name") or "us-east-1"}
        if options.get("endpoint_url"):
            out["aws_endpoint_url"] = options["endpoint_url"]
            out["aws_allow_http"] = "true" if options["endpoint_url"].startswith("http://") else "false"
        if options.get("aws_access_key_id"):
            out["aws_access_key_id"] = options["aws_access_key_id"]
            out["aws_secret_access_key"] = options.get("aws_secret_access_key", "")
        if options.get("aws_session_token"):
            out["aws_session_token"] = options["aws_session_token"]
        return out

    @staticmethod
    def _as_frame(data: Any) -> Any:
        import polars as pl

        if isinstance(data, pl.DataFrame):
            return data
        if isinstance(data, pl.LazyFrame):
            return data.collect()
        if isinstance(data, pl.Series):
            return data.to_frame()
        try:
            return pl.DataFrame(data)
        except Exception as e:
            raise InvalidArgument(f"cannot convert the data to a table: {e}") from e

    # interface ------------------------------------------------------------------------
    def write(self, path: Path | str, data: Any, view: SliceSpec = None, **kwargs: Any) -> None:
        """Write a whole table (atomically); with ``view``, replace those rows or set those columns."""
        self._check_writable("write")
        name = _norm_name(path)
        if view is None:
            df = self._as_frame(data)
            if self.in_memory:
                self._memory[name] = df
            else:
                self._store_frame(self._key(name), df)
            return
        current = self.read(name)
        if current is None:
            raise NotFound(f"{name}: no such table to update", path=name)
        updated = self._update(current, data, view)
        if self.in_memory:
            self._memory[name] = updated
        else:
            self._store_frame(self._key(name), updated)

    def _update(self, df: Any, data: Any, view: SliceSpec) -> Any:
        import polars as pl

        if isinstance(view, str | list) and (isinstance(view, str) or all(isinstance(c, str) for c in view)):
            cols = [view] if isinstance(view, str) else view
            new = self._as_frame(data) if not isinstance(data, pl.Series) else data.alias(cols[0]).to_frame()
            if new.height != df.height or len(new.columns) != len(cols):
                raise ShapeMismatch(f"cannot set columns {cols} from data of shape {new.shape} in a table of shape {df.shape}")
            return df.with_columns([new.get_column(c).alias(t) for c, t in zip(new.columns, cols, strict=True)])
        if isinstance(view, int):
            view = slice(view, view + 1)
        if not isinstance(view, slice) or view.step not in (None, 1):
            raise InvalidArgument(f"unsupported table view {view!r}: use a row slice, a column name or a list of names")
        start, stop, _ = view.indices(df.height)
        new = self._as_frame(data)
        self._check_schema("update", df.schema, new.schema)
        if new.height != max(0, stop - start):
            raise ShapeMismatch(f"rows {start}:{stop} hold {max(0, stop - start)} rows, the data has {new.height}")
        return pl.concat([df.slice(0, start), new.select(df.columns).cast(dict(df.schema)), df.slice(stop)])

    @staticmethod
    def _check_schema(where: str, old: Any, new: Any) -> None:
        if dict(old) != dict(new):
            raise ShapeMismatch(f"{where}: table schemas differ: existing {dict(old)} vs new {dict(new)}")

    def read(self, path: Path | str, view: SliceSpec = None, **kwargs: Any) -> Any:
        """The table (or its ``view``) collected in memory; ``None`` when missing."""
        lf = self.get(path)
        if lf is None:
            return None
        column = kwargs.get("column_name")
        filters = kwargs.get("filters")
        if filters is not None:
            lf = lf.filter(filters)
        rows, cols = None, None
        if isinstance(view, tuple):
            rows, cols = view
        elif isinstance(view, str | list):
            cols = view
        else:
            rows = view
        if column is not None:
            cols = column
        if isinstance(rows, int):
            rows = slice(rows, rows + 1)
        if isinstance(rows, slice):
            if rows.step not in (None, 1) or (rows.start or 0) < 0 or (rows.stop is not None and rows.stop < 0):
                lf = lf.collect()[rows].lazy()
            else:
                start = rows.start or 0
                lf = lf.slice(start, None if rows.stop is None else max(0, rows.stop - start))
        elif rows is not None:
            raise InvalidArgument(f"unsupported row view {rows!r}")
        if isinstance(cols, str):
            return lf.select(cols).collect().to_series()
        if cols is not None:
            lf = lf.select(cols)
        return lf.collect()

    def get(self, path: Path | str, **kwargs: Any) -> Any:
        """A ``polars.LazyFrame`` over the table (nothing loaded yet); ``None`` when missing."""
        name = _norm_name(path)
        if self.in_memory:
            df = self._memory.get(name)
            return None if df is None else df.lazy()
        key = self._key(name)
        if not self._has(key):
            return None
        return self._scan(key)

    def append(self, path: Path | str, data: Any, **kwargs: Any) -> None:
        """Append rows; the columns must match the stored schema (``ShapeMismatch`` names both)."""
        import polars as pl

        self._check_writable("append")
        name = _norm_name(path)
        new = self._as_frame(data)
        lf = self.get(name)
        if lf is None:
            self.write(name, new)
            return
        schema = lf.collect_schema()
        self._check_schema(f"append to {name}", schema, new.schema)
        combined = pl.concat([lf, new.lazy()], how="vertical")
        if self.in_memory:
            self._memory[name] = combined.collect()
            return
        key = self._key(name)
        if self._remote:
            self._store_frame(key, combined.collect())
            return
        tmp = os.path.join(os.path.dirname(key), f".{os.path.basename(key)}.{uuid.uuid4().hex[:8]}.storecore-tmp")
        try:
            fmt = self.disk_format
            if fmt is DiskFormat.CSV:
                combined.sink_csv(tmp)
            elif fmt is DiskFormat.IPC:
                combined.sink_ipc(tmp)
            elif fmt is DiskFormat.JSON:
                combined.sink_ndjson(tmp)
            else:
                combined.sink_parquet(tmp)
            os.replace(tmp, key)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def available(self) -> list[str]:
        """Table names (``a/b`` for ``a/b.parquet``), sorted."""
        if self.in_memory:
            return sorted(self._memory)
        if not self._exists():
            return []
        n = len(self._ext)
        if self._remote:
            base = len(self._root) + 1 if self._root else 0
            entries = self._backend.ls(self._root, recursive=True, extensions=[self._ext])
            return sorted(self._backend.key(e.path)[base:-n] for e in entries)
        out = []
        for dirpath, _dirs, files in os.walk(self._root):
            for f in files:
                if f.endswith(self._ext) and not f.startswith("."):
                    out.append(os.path.relpath(os.path.join(dirpath, f), self._root)[:-n].replace(os.sep, "/"))
        return sorted(out)


__all__ = [
    "Store",
    "StoreKind",
    "DiskFormat",
    "MODES",
    "NumpyArrayStore",
    "ZarrArrayStore",
    "HDF5ArrayStore",
    "PolarsTableStore",
    "RemoteNpyArray",
]
