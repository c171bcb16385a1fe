"""Metadata-only readers for containers: Zarr documents and HDF5 object headers.

A find must never read array chunks, so these readers take only what
describes a node: ``zarr.json`` / ``.zarray`` / ``.zgroup`` / ``.zattrs`` /
``.zmetadata`` documents, and for HDF5 the object headers h5py visits to
report shapes, dtypes and attributes.  Every byte goes through a
:class:`ReadStats` so callers (and tests) can see exactly what was read.
"""

from __future__ import annotations

import io
import json
import posixpath
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..backends.base import Backend, ReadCounter
from ..errors import CorruptData, NotFound
from .criteria import json_safe

ZARR_V3_META = "zarr.json"
ZARR_V2_META = (".zarray", ".zgroup", ".zattrs", ".zmetadata")
ZARR_META_NAMES = frozenset((ZARR_V3_META, *ZARR_V2_META))
#: block size for remote HDF5 reads: HDF5 object headers are small and scattered
HDF5_BLOCK_SIZE = 16 * 1024


def container_type(name: str) -> str | None:
    """``"zarr"``, ``"hdf5"`` or ``None`` for a file/folder name, judged by its extension (see :mod:`storecore.detect`)."""
    from ..detect import format_by_name

    return format_by_name(name)


@dataclass
class ReadStats:
    """What a walk cost: listing pages and entries, containers opened, bytes and requests read.

    ``reads`` (kept when ``record=True``) lists ``(uri, offset, length)`` of
    every logical read, so a test can prove no chunk was touched.
    """

    record: bool = False
    pages: int = 0
    entries: int = 0
    containers: int = 0
    bytes_read: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    reads: list[tuple[str, int, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_read(self, uri: str, offset: int, length: int, *, physical: int | None = None, requests: int = 1) -> None:
        """Account one read of ``length`` bytes (``physical``: bytes really fetched, if different)."""
        with self._lock:
            self.bytes_read += length if physical is None else physical
            self.requests += requests
            if self.record:
                self.reads.append((uri, offset, length))

    def add_error(self, message: str) -> None:
        """Remember a container or folder that could not be read (the walk goes on)."""
        with self._lock:
            self.errors.append(message)


@dataclass(frozen=True)
class NodeMeta:
    """One group or array inside a container, described from metadata alone."""

    inner: str
    kind: str
    shape: tuple | None = None
    dtype: Any = None
    attrs: dict[str, Any] = field(default_factory=dict)
    chunks: tuple | None = None
    compressor: str | None = None
    mtime: float | None = None

    @property
    def name(self) -> str:
        """Last component of the inner path (``""`` for the root group)."""
        return self.inner.rstrip("/").rsplit("/", 1)[-1]

    @property
    def nbytes(self) -> int | None:
        """Uncompressed size of an array (``None`` for groups or unknown dtypes)."""
        if self.kind != "array" or self.shape is None or self.dtype is None:
            return None
        n = 1
        for s in self.shape:
            n *= int(s)
        return n * int(self.dtype.itemsize)


def _np_dtype(spec: Any) -> Any:
    import numpy as np

    try:
        if isinstance(spec, list):  # v2 structured dtype
            return np.dtype([tuple(f) for f in spec])
        if isinstance(spec, dict):  # v3 extension type {"name": ..., "configuration": ...}: as zarr reads it
            return _zarr_v3_dtype(spec)
        if spec == "string":
            return np.dtype(object)
        return np.dtype(spec)
    except (TypeError, ValueError):
        return None


def _zarr_v3_dtype(spec: dict[str, Any]) -> Any:
    """The numpy dtype of a v3 ``data_type`` with a configuration (``numpy.datetime64`` with its unit,
    ``fixed_length_utf32``, ``structured``…), from zarr's own parser; variable-length strings as ``object``, as
    the nodes give them.  ``np.dtype(spec["name"])`` knew none of these: such arrays had no dtype to find by."""
    import numpy as np
    from zarr.dtype import parse_dtype

    dtype = parse_dtype(spec, zarr_format=3).to_native_dtype()
    return np.dtype(object) if dtype.kind == "T" else dtype


# -- Zarr ---------------------------------------------------------------------------------
class ZarrReader:
    """Reads the hierarchy of one Zarr store (v2 or v3) from its metadata documents only.

    With ``keys`` (the store's keys from a listing already made) no further
    listing is needed; otherwise groups are listed one level at a time and
    arrays are never listed (their folders hold chunks).
    """

    def __init__(
        self,
        backend: Backend,
        prefix: str,
        stats: ReadStats,
        keys: dict[str, Any] | None = None,
        cancel: Any = None,
    ) -> None:
        self.backend = backend
        self.prefix = prefix.rstrip("/")
        self.stats = stats
        self.keys = keys  # relative key -> Entry
        self.cancel = cancel

    def _key(self, rel: str) -> str:
        return posixpath.join(self.prefix, rel) if rel else self.prefix

    def _doc(self, rel: str) -> dict[str, Any] | None:
        if self.keys is not None and rel not in self.keys:
            return None
        key = self._key(rel)
        try:
            data = self.backend.read_bytes(key)
        except NotFound:
            return None
        self.stats.add_read(self.backend.uri(key), 0, len(data))
        try:
            doc = json.loads(data)
        except ValueError as e:
            raise CorruptData(f"{self.backend.uri(key)}: invalid JSON metadata ({e})", path=self.backend.uri(key)) from e
        if not isinstance(doc, dict):
            raise CorruptData(f"{self.backend.uri(key)}: metadata is not a JSON object", path=self.backend.uri(key))
        return doc

    def _mtime(self, rel: str) -> float | None:
        if self.keys is not None and rel in self.keys:
            return self.keys[rel].mtime
        return None

    def _children(self, rel: str) -> list[str]:
        """Names of the sub-folders of group ``rel``."""
        if self.keys is not None:
            base = rel + "/" if rel else ""
            names = set()
            for k in self.keys:
                if k.startswith(base):
                    rest = k[len(base) :]
                    if "/" in rest:
                        names.add(rest.split("/", 1)[0])
            return sorted(names)
        self.stats.pages += 1
        return sorted(e.name for e in self.backend.ls(self._key(rel)) if e.is_dir)

    def nodes(self, want_attrs: bool = True) -> Iterator[NodeMeta]:
        """Yield the root group and every group/array below it (depth first, sorted)."""
        root = self._doc(ZARR_V3_META)
        if root is not None:
            consolidated = root.get("consolidated_metadata") or {}
            if consolidated.get("metadata"):
                yield from self._v3_consolidated(root, consolidated["metadata"])
                return
            yield from self._v3("", root)
            return
        zmeta = self._doc(".zmetadata")
        if zmeta is not None and isinstance(zmeta.get("metadata"), dict):
            yield from self._v2_consolidated(zmeta["metadata"])
            return
        yield from self._v2("", want_attrs)

    # v3 ------------------------------------------------------------------------------
    def _v3_node(self, rel: str, doc: dict[str, Any], mtime: float | None) -> NodeMeta:
        inner = "/" + rel
        attrs = json_safe(doc.get("attributes") or {})
        if doc.get("node_type") == "array":
            grid = (doc.get("chunk_grid") or {}).get("configuration") or {}
            codecs = [c.get("name") for c in doc.get("codecs") or [] if isinstance(c, dict)]
            compressor = next((c for c in codecs if c not in ("bytes", "transpose", "sharding_indexed", "crc32c")), None)
            return NodeMeta(
                inner,
                "array",
                tuple(int(s) for s in doc.get("shape") or ()),
                _np_dtype(doc.get("data_type")),
                attrs,
                tuple(grid.get("chunk_shape") or ()) or None,
                compressor,
                mtime,
            )
        return NodeMeta(inner, "group", attrs=attrs, mtime=mtime)

    def _v3(self, rel: str, doc: dict[str, Any]) -> Iterator[NodeMeta]:
        node = self._v3_node(rel, doc, self._mtime(posixpath.join(rel, ZARR_V3_META)))
        yield node
        if node.kind != "group":
            return
        for child in self._children(rel):
            if self.cancel is not None and self.cancel():
                return
            crel = posixpath.join(rel, child) if rel else child
            cdoc = self._doc(posixpath.join(crel, ZARR_V3_META))
            if cdoc is not None:
                yield from self._v3(crel, cdoc)

    def _v3_consolidated(self, root: dict[str, Any], meta: dict[str, Any]) -> Iterator[NodeMeta]:
        yield self._v3_node("", root, self._mtime(ZARR_V3_META))
        for rel in sorted(meta):
            if isinstance(meta[rel], dict):
                yield self._v3_node(rel.strip("/"), meta[rel], None)

    # v2 ------------------------------------------------------------------------------
    def _v2_node(self, rel: str, arr: dict[str, Any] | None, attrs: dict[str, Any] | None, mtime: float | None) -> NodeMeta:
        inner = "/" + rel
        attrs = json_safe(attrs or {})
        if arr is not None:
            comp = arr.get("compressor")
            return NodeMeta(
                inner,
                "array",
                tuple(int(s) for s in arr.get("shape") or ()),
                _np_dtype(arr.get("dtype")),
                attrs,
                tuple(arr.get("chunks") or ()) or None,
                comp.get("id") if isinstance(comp, dict) else None,
                mtime,
            )
        return NodeMeta(inner, "group", attrs=attrs, mtime=mtime)

    def _v2(self, rel: str, want_attrs: bool) -> Iterator[NodeMeta]:
        def j(name: str) -> str:
            return posixpath.join(rel, name) if rel else name

        arr = self._doc(j(".zarray"))
        if arr is None and self._doc(j(".zgroup")) is None:
            return
        attrs = self._doc(j(".zattrs")) if want_attrs else None
        yield self._v2_node(rel, arr, attrs, self._mtime(j(".zarray" if arr is not None else ".zgroup")))
        if arr is not None:
            return
        for child in self._children(rel):
            if self.cancel is not None and self.cancel():
                return
            yield from self._v2(j(child), want_attrs)

    def _v2_consolidated(self, meta: dict[str, Any]) -> Iterator[NodeMeta]:
        paths: set[str] = {""}
        for key in meta:
            base, _, name = key.rpartition("/")
            if name in (".zarray", ".zgroup"):
                paths.add(base)
        for rel in sorted(paths):
            prefix = rel + "/" if rel else ""
            yield self._v2_node(rel, meta.get(prefix + ".zarray"), meta.get(prefix + ".zattrs"), None)


# -- HDF5 ---------------------------------------------------------------------------------
class CountingReader(io.RawIOBase):
    """A read-only wrapper that reports every read to a :class:`ReadStats` (h5py reads through it).

    Over a :class:`~storecore.backends.base.RangeFile` (``Backend.open_ranged``) the
    physical cost comes from the file's :class:`~storecore.backends.base.ReadCounter`.
    """

    def __init__(self, raw: Any, uri: str, stats: ReadStats) -> None:
        super().__init__()
        self.raw, self.uri, self.stats = raw, uri, stats
        counter = getattr(raw, "stats", None)
        self._counter: ReadCounter | None = counter if isinstance(counter, ReadCounter) else None
        self._fetched = self._counter.bytes if self._counter is not None else None
        self._requests = self._counter.requests if self._counter is not None else None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def sync(self) -> None:
        """Account what the underlying ranged file fetched outside :meth:`readinto` (a prefetch)."""
        if self._counter is not None:
            fetched, requests = self._counter.bytes, self._counter.requests
            self.stats.add_read(self.uri, 0, 0, physical=fetched - self._fetched, requests=requests - self._requests)
            self._fetched, self._requests = fetched, requests

    def readinto(self, buffer: Any) -> int:
        pos = self.raw.tell()
        view = memoryview(buffer).cast("B")
        data = self.raw.read(len(view))
        n = len(data)
        view[:n] = data
        if self._counter is None:
            self.stats.add_read(self.uri, pos, n)
        else:
            # A RangeFile: count what really went over the wire (whole blocks).
            fetched, requests = self._counter.bytes, self._counter.requests
            self.stats.add_read(self.uri, pos, n, physical=fetched - self._fetched, requests=requests - self._requests)
            self._fetched, self._requests = fetched, requests
        return n

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


def hdf5_nodes(
    backend: Backend,
    path: str,
    stats: ReadStats,
    *,
    want_attrs: bool | Iterable[str] = True,
    mtime: float | None = None,
    start: str = "/",
    cancel: Any = None,
) -> Iterator[NodeMeta]:
    """Yield the groups and datasets of an HDF5 file from its object headers (never dataset data).

    ``want_attrs``: True reads every attribute, False none, a collection of
    names only those.  Soft and external links are not followed (an external link would open
    another file); an object reachable by several hard links is reported once.
    """
    import h5py

    from ..backends.local import os_errors

    uri = backend.uri(path)
    reader: CountingReader | None = None
    local = backend.local_path(path)
    if local is not None and not stats.record:
        # Local files: HDF5's own driver (no Python call per read) is twice as fast;
        # the bytes it reads are the same headers, so they are not counted one by one.
        target: Any = local
    elif local is not None:
        # Unbuffered: a buffered reader would pull 8 KiB around every small header read.
        with os_errors(uri):
            reader = CountingReader(open(local, "rb", buffering=0), uri, stats)  # noqa: SIM115
        target = reader
    else:
        raw = backend.open_ranged(path, block_size=HDF5_BLOCK_SIZE, cache_blocks=256)
        reader = CountingReader(raw, uri, stats)
        pread = getattr(raw, "pread", None)
        if pread is not None:
            # Fetch the superblock's block now, outside h5py's global lock, so that
            # several files' first requests overlap instead of queueing behind it.
            pread(0, HDF5_BLOCK_SIZE)
            reader.sync()
        target = reader
    try:
        try:
            f = h5py.File(target, "r")
        except FileNotFoundError as e:
            raise NotFound(f"{uri}: no such file", path=uri) from e
        except OSError as e:
            raise CorruptData(f"{uri}: not a readable HDF5 file ({e})", path=uri) from e
        with f:
            top = f[start] if start != "/" else f
            yield from _h5_walk(top, start, want_attrs, mtime, set(), cancel)
    finally:
        if reader is not None:
            reader.close()


def _h5_walk(obj: Any, inner: str, want_attrs: Any, mtime: float | None, seen: set, cancel: Any) -> Iterator[NodeMeta]:
    """The node of ``obj`` and everything below it (HDF5's own visit: hard links only, each object once)."""
    import h5py

    def node(path: str, o: Any) -> NodeMeta:
        attrs = _h5_attrs(o, want_attrs) if want_attrs else {}
        if isinstance(o, h5py.Dataset):
            return NodeMeta(path, "array", tuple(o.shape or ()), o.dtype, attrs, o.chunks, o.compression, mtime)
        return NodeMeta(path, "group", attrs=attrs, mtime=mtime)

    yield node(inner, obj)
    if not isinstance(obj, h5py.Group):
        return
    found: list[NodeMeta] = []
    base = inner.rstrip("/")

    def visit(name: str, o: Any) -> bool | None:
        if cancel is not None and cancel():
            return True  # a non-None return ends the visit
        found.append(node(f"{base}/{name}", o))
        return None

    obj.visititems(visit)
    found.sort(key=lambda n: n.inner)
    yield from found


def _h5_attrs(obj: Any, names: Any = True) -> dict[str, Any]:
    if names is not True:
        # Only the attributes a search asks for: each read costs a header lookup.
        out_: dict[str, Any] = {}
        for key in names:
            try:
                if key in obj.attrs:
                    out_[key] = json_safe(obj.attrs[key])
            except (OSError, TypeError, ValueError):
                out_[key] = None
        return out_
    try:
        return {k: json_safe(v) for k, v in obj.attrs.items()}
    except (OSError, TypeError, ValueError):
        pass
    out: dict[str, Any] = {}
    for key in obj.attrs:
        try:
            out[key] = json_safe(obj.attrs[key])
        except (OSError, TypeError, ValueError):
            out[key] = None  # an attribute of a type h5py cannot read
    return out


def zarr_keys(entries: Iterable[Any], prefix: str) -> dict[str, Any]:
    """Map the metadata entries of a listing below ``prefix`` to their store-relative keys."""
    base = prefix.rstrip("/") + "/"
    out: dict[str, Any] = {}
    for e in entries:
        rel = e.path[len(base) :] if e.path.startswith(base) else e.path
        out[rel] = e
    return out
