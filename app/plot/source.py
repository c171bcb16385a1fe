"""Array sources for the slice plot: one small interface over container nodes, .npy files and arrays.

Reads go through storecore (``open_container`` / ``Node.read_slice``) for Zarr
and HDF5; ``.npy`` files are memory-mapped when local and read by byte range
through the backend otherwise, so a slice never pulls the whole file.
"""

from __future__ import annotations

import itertools
import logging
import math
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_ids = itertools.count(1)


class ArraySource:
    """What the slice plot needs from an array: metadata and ``read(selection)``.

    ``cache_key`` is unique per opened source, so decoded chunks are never
    shared between two openings (a file rewritten in between shows anew);
    sources that know the stored object's identity (URI + size + mtime or
    ETag, see :func:`object_identity`) key by it instead, so reselecting or
    reopening an unchanged object is served from the cache.
    """

    uri: str = ""
    name: str = ""
    shape: tuple[int, ...] = ()
    dtype: np.dtype = np.dtype("f8")
    chunks: tuple[int, ...] | None = None
    attrs: dict = {}
    compressor: str | None = None
    fill_value: Any = None
    stored_nbytes: int | None = None
    #: reading the start of a chunk decodes only that start (``Node.reads_chunk_prefixes``): frames are read, not boxes
    prefix_reads: bool = False

    @property
    def cache_key(self) -> tuple:
        """Identity of this opening in the chunk cache."""
        key = self.__dict__.get("_cache_key")
        if key is None:
            key = self.__dict__["_cache_key"] = (self.uri, next(_ids))
        return key

    @property
    def nbytes(self) -> int:
        """In-memory size of the whole array."""
        return int(math.prod(self.shape)) * self.dtype.itemsize

    def read(self, selection: Sequence[Any]) -> np.ndarray:
        """The values at ``selection`` (a tuple of ints and slices) as a numpy array."""
        raise NotImplementedError

    def plane_identity(self, selection: Sequence[Any]) -> Any:
        """What identifies the stored bytes ``selection`` reads, across openings (None: unknown; worker)."""
        return None

    def multiscales(self) -> list[ArraySource]:
        """Coarser pyramid levels (OME-Zarr), finest first, without this array; [] when none."""
        return []

    def close(self) -> None:
        """Release files the source holds."""


class NumpySource(ArraySource):
    """An in-memory (or memory-mapped) numpy array."""

    def __init__(self, array: np.ndarray, uri: str = "", name: str = "", stored_nbytes: int | None = None) -> None:
        self.array = array
        self.uri, self.name = uri, name
        self.shape, self.dtype = tuple(array.shape), array.dtype
        self.attrs = {}
        self.stored_nbytes = stored_nbytes

    def read(self, selection: Sequence[Any]) -> np.ndarray:
        """Index the array (a copy, so memory maps are not kept alive by views)."""
        return np.array(self.array[tuple(selection)])


class RemoteNpySource(ArraySource):
    """A ``.npy`` object read by byte ranges: only the leading-axis rows a slice needs are fetched."""

    def __init__(self, backend: Any, path: str, uri: str, name: str, size: int | None) -> None:
        from numpy.lib import format as npformat

        self.backend, self.path, self.uri, self.name = backend, path, uri, name
        with backend.open(path, "rb") as f:
            version = npformat.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = npformat.read_array_header_2_0(f)
            self.offset = f.tell()
        if dtype.hasobject:
            from storecore.errors import PickleNotAllowed

            raise PickleNotAllowed(f"{uri}: object arrays need pickle, which previews never load", path=uri)
        self.shape, self.dtype, self.fortran = tuple(shape), dtype, fortran
        self.attrs, self.stored_nbytes = {}, size

    def read(self, selection: Sequence[Any]) -> np.ndarray:
        """Fetch the byte range of the leading-axis rows the selection touches, then index."""
        sel = list(selection) + [slice(None)] * (len(self.shape) - len(selection))
        if self.fortran or not self.shape:
            data = self.backend.read_bytes(self.path, self.offset, self.offset + self.nbytes)
            arr = np.frombuffer(data, dtype=self.dtype).reshape(self.shape, order="F" if self.fortran else "C")
            return np.array(arr[tuple(sel)])
        first = sel[0]
        if isinstance(first, slice):
            start, stop, step = first.indices(self.shape[0])
            stop = max(start, stop)
            rest: tuple = (slice(None, None, step),)
        else:
            start, stop = int(first), int(first) + 1
            rest = (0,)
        row = int(math.prod(self.shape[1:])) * self.dtype.itemsize
        data = self.backend.read_bytes(self.path, self.offset + start * row, self.offset + stop * row)
        arr = np.frombuffer(data, dtype=self.dtype).reshape((stop - start,) + self.shape[1:])
        return np.array(arr[rest + tuple(sel[1:])])


#: identity of each opened container, stat-ed once (a container serves many nodes and pyramid levels)
_identities: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _stat_key(entry: Any) -> tuple | None:
    """(size, mtime, etag) of a backend entry, or None when it names nothing that changes on a rewrite."""
    if entry is None or (entry.mtime is None and entry.etag is None):
        return None
    return (entry.size, entry.mtime, entry.etag)


def object_identity(node: Any) -> tuple | None:
    """What identifies the stored bytes of ``node``: its file's size + mtime (local) or ETag (S3).

    One ``stat`` per container (worker), shared by its nodes and pyramid
    levels.  None when there is no single object whose stat changes on every
    write: a Zarr store is a folder of chunk objects that writers (a running
    acquisition filling a pre-allocated array, ``region=`` writes) rewrite
    without touching any metadata object, so Zarr stays keyed per opening
    (never stale); so do unknown backends and failed stats.
    """
    container = getattr(node, "container", None)
    location = getattr(container, "location", None)
    backend = getattr(container, "backend", None)
    if container is None or location is None or backend is None:
        return None
    try:
        known = _identities.get(container)
    except TypeError:
        known = None
    if known is None:
        try:
            entry = backend.stat(location.path)
        except Exception as e:  # noqa: BLE001 - no identity: per-open keys
            log.debug("no identity for %s: %s", getattr(container, "uri", "?"), e)
            return None
        known = (None if getattr(entry, "is_dir", False) else _stat_key(entry),)
        try:
            _identities[container] = known
        except TypeError:
            pass
    return known[0]


class NodeSource(ArraySource):
    """A Zarr or HDF5 array node from ``storecore.open_container``.

    Built on a worker: it stats the stored file once (:func:`object_identity`)
    so its decoded chunks are cached by object identity (HDF5), not per opening.
    """

    def __init__(self, node: Any, levels: list[Any] | None = None) -> None:
        self.node = node
        self._levels = levels
        self.uri, self.name = node.uri, node.name or node.path
        self.shape = tuple(node.shape or ())
        self.dtype = np.dtype(node.dtype)
        self.chunks = tuple(node.chunks) if node.chunks else None
        self.layout = getattr(node, "layout", None)
        self.attrs = dict(node.attrs or {})
        self.compressor = node.compressor
        self.filters = list(getattr(node, "filters", []) or [])
        self.fill_value = node.fill_value
        self.stored_nbytes = node.stored_nbytes
        self.prefix_reads = bool(getattr(node, "reads_chunk_prefixes", False))
        identity = object_identity(node)
        if identity is not None:
            self._cache_key = (self.uri, getattr(node, "path", ""), identity)

    def read(self, selection: Sequence[Any]) -> np.ndarray:
        """``Node.read_slice`` (whole chunks decoded by zarr/h5py, only those touched).

        Not kept in the container's slice caches: the plot keeps what it reads in its own tile and plane
        caches (Zarr tiles were held twice: peak RSS of the 2 GiB benchmark 762 MB, 128 MB of it copies).
        """
        return np.asarray(self.node.read_slice(tuple(selection), cache=False))

    def plane_identity(self, selection: Sequence[Any]) -> Any:
        """``Node.slice_identity`` (Zarr: the chunk objects' identities; None where a node cannot tell)."""
        try:
            return self.node.slice_identity(tuple(selection))
        except Exception as e:  # noqa: BLE001 - no identity: the plane is cached for this opening only
            log.debug("no plane identity for %s: %s", self.uri, e)
            return None

    def multiscales(self) -> list[ArraySource]:
        """The other OME-Zarr levels of the image this array belongs to (coarser ones), finest first."""
        levels = self._levels
        if levels is None:
            try:
                levels = list(self.node.multiscales() or [])
                parent = self.node.parent() if not levels else None
                if parent is not None:
                    found = list(parent.multiscales() or [])
                    levels = found if any(n.path == self.node.path for n in found) else []
            except Exception as e:  # noqa: BLE001 - a broken pyramid just means no pyramid
                log.debug("no pyramid for %s: %s", self.node.path, e)
                return []
        out = []
        for n in levels:
            if n.path == self.node.path or tuple(n.shape or ()) == self.shape or len(n.shape or ()) != len(self.shape):
                continue
            if all(a <= b for a, b in zip(n.shape, self.shape, strict=False)):
                out.append(NodeSource(n, levels=[]))
        return out

    def close(self) -> None:
        """Close the node (and its file) when the container API offers it."""
        close = getattr(self.node, "close", None)
        if close is not None:
            try:
                close()
            except Exception as e:  # noqa: BLE001
                log.debug("closing a pyramid level failed: %s", e)


def open_npy(backend: Any, location: Any, size: int | None) -> ArraySource:
    """An ``.npy`` object as a source: memory-mapped locally, byte ranges remotely."""
    uri = str(location)
    if location.is_local:
        from storecore.errors import CorruptData, PickleNotAllowed

        try:
            arr = np.load(location.path, mmap_mode="r", allow_pickle=False)
        except ValueError as e:
            if "pickle" in str(e).lower() or "python objects" in str(e).lower():  # (numpy ≥ 2.3 says the latter)
                raise PickleNotAllowed(f"{uri}: object arrays need pickle, which previews never load", path=uri) from e
            raise CorruptData(f"{uri}: not a readable .npy file ({e})", path=uri) from e
        except OSError as e:
            raise CorruptData(f"{uri}: not a readable .npy file ({e})", path=uri) from e
        return NumpySource(arr, uri=uri, name=location.name, stored_nbytes=size)
    try:
        return RemoteNpySource(backend, location.path, uri, location.name, size)
    except (ValueError, EOFError) as e:
        from storecore.errors import CorruptData

        raise CorruptData(f"{uri}: not a readable .npy file ({e})", path=uri) from e
