"""The container node model shared by Zarr and HDF5: :class:`Node` and :class:`Container`.

A :class:`Container` is one opened Zarr store or HDF5 file; a :class:`Node` is a
group, array or link inside it.  Nodes are created on demand: a group lists its
children only when :meth:`Node.children` is called, one level at a time.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import math
import threading
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument, NotFound
from ..location import Location, normalize_inner
from ..logs import suppress_logged

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import numpy as np

    from ..backends.base import Backend

#: what a node is; ``datatype`` is an HDF5 named (committed) datatype
KINDS = ("group", "array", "link", "datatype")


def attr_text(value: Any) -> str:
    """An attribute value as text: a one-element list unwrapped, bytes decoded, None as ``""``."""
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ("" if value is None else str(value))


def json_safe(value: Any, *, strict: bool = False) -> Any:
    """Convert attribute values to plain JSON-able Python (numpy → python, bytes → str).

    Complex numbers become ``"1+2j"`` strings; compound (structured) values
    become dicts; opaque bytes their hex digits; anything else unknown becomes its ``str`` (or, with
    ``strict=True``, raises ``TypeError``).
    """
    import numpy as np

    if isinstance(value, np.generic) and not isinstance(value, np.void | np.datetime64 | np.timedelta64):
        value = value.item()  # numpy scalars subclass float/str: unwrap them first
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        from .values import decode_text

        return decode_text(value)
    if isinstance(value, complex | np.complexfloating):
        return str(complex(value))
    if isinstance(value, np.void) and value.dtype.names:
        return {name: json_safe(value[name], strict=strict) for name in value.dtype.names}
    if isinstance(value, np.datetime64 | np.timedelta64 | _dt.date | _dt.datetime):
        return str(value)
    if isinstance(value, np.void):  # opaque bytes: hex, every byte kept (as opaque datasets show), never read as text
        return value.tobytes().hex()
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(item, np.generic):  # float128/complex256 have no Python equivalent: round to double
            return json_safe(complex(item) if np.iscomplexobj(item) else float(item), strict=strict)
        return json_safe(item, strict=strict)
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return json_safe(value[()], strict=strict)
        if value.dtype.kind in "biu" or (value.dtype.kind == "f" and value.dtype.itemsize <= 8):
            # numpy's own conversion, the same Python values as element by element, ~50x faster: an attribute of
            # millions of numbers (calibration tables) took seconds for every look at the attributes
            return value.tolist()
        return [json_safe(v, strict=strict) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v, strict=strict) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v, strict=strict) for v in value]
    if strict:
        raise TypeError(f"{type(value).__name__} values cannot be stored as attributes")
    return str(value)


class Container:
    """One opened Zarr store or HDF5 file: the root of a tree of :class:`Node` objects.

    ``bytes_read`` counts the bytes fetched from storage where storecore sees
    them (zarr stores, remote HDF5 files); ``None`` when the library reads a
    local file by itself.
    """

    format: str = ""

    def __init__(self, location: Location, backend: Backend, mode: str = "r") -> None:
        self.location = location.outer
        self.backend = backend
        self.mode = mode
        self.uri = str(self.location)
        self.closed = False
        self._lock = threading.RLock()
        #: containers opened to follow external links; closed with this one
        self._linked: list[Container] = []

    # -- to implement --------------------------------------------------------------
    def node(self, path: str) -> Node:
        """The node at the absolute inner ``path``; ``NotFound`` when absent."""
        raise NotImplementedError

    def _close(self) -> None:
        """Release the underlying file or store."""

    @property
    def bytes_read(self) -> int | None:
        """Bytes fetched from storage so far (``None`` when not measurable)."""
        return None

    # -- shared ----------------------------------------------------------------------
    def node_uri(self, path: str) -> str:
        """The full URI (``outer::/inner``) of the node at ``path``."""
        return str(self.location.with_inner(path))

    def close(self) -> None:
        """Close the file/store and every container opened to follow its external links."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            for other in self._linked:
                with suppress_logged(logger, "close"):
                    other.close()
            self._linked.clear()
            self._close()

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uri}{' (closed)' if self.closed else ''}>"

    # -- pickling (Dask workers, other processes) --------------------------------------
    def __reduce__(self) -> tuple:
        """Pickle as what reopens it, read-only: class, location and backend (credentials as the backend holds them)."""
        return (_reopen_container, (type(self), self.location, self.backend, _scheme_of(self.location)))


class Node:
    """A group, array or link inside a Zarr store or HDF5 file.

    Attributes every node has: ``name``, ``path`` (inner path, ``/`` for the
    root), ``uri`` (``outer::/inner``), ``kind`` (``"group"``, ``"array"`` or
    ``"link"``), ``shape``, ``dtype``, ``chunks``, ``compressor``, ``filters``,
    ``fill_value``, ``nbytes``, ``stored_nbytes``, ``attrs`` (a JSON-safe dict),
    ``link_target`` and ``broken``.  Groups list their ``children()`` lazily;
    arrays read with ``read_slice(selection)`` or ``node[selection]``.
    """

    kind: str = "group"

    def __init__(self, container: Container, path: str) -> None:
        self.container = container
        self.path = normalize_inner(path)

    # -- identity ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Last component of the inner path (the container's name for the root)."""
        if self.path == "/":
            return self.container.location.name
        return self.path.rsplit("/", 1)[-1]

    @property
    def uri(self) -> str:
        """Full URI of this node, ``outer::/inner``."""
        return self.container.node_uri(self.path)

    @property
    def location(self) -> Location:
        """The :class:`~storecore.Location` of this node."""
        return self.container.location.with_inner(self.path)

    @property
    def is_group(self) -> bool:
        """True for groups (and links that resolve to groups)."""
        return self.kind == "group"

    @property
    def is_array(self) -> bool:
        """True for arrays."""
        return self.kind == "array"

    @property
    def is_empty(self) -> bool:
        """True for an array with no dataspace at all (HDF5 ``H5S_NULL``, ``h5py.Empty``): no shape, no values."""
        return self.kind == "array" and self.shape is None

    @property
    def value_kind(self) -> str:
        """What the values are: ``numeric``, ``bool``, ``string``, ``enum``, ``compound``, ``reference``,
        ``vlen``, ``datetime``, ``opaque`` or ``object`` (see :mod:`storecore.containers.values`)."""
        from .values import value_kind_of_dtype

        return value_kind_of_dtype(self.dtype) if self.kind in ("array", "datatype") else ""

    @property
    def enum_labels(self) -> dict[int, str] | None:
        """For enumerated values: value → label (``None`` otherwise)."""
        return None

    @property
    def type_text(self) -> str:
        """The value type as a person reads it (``float32``, ``string (UTF-8, variable length)``…)."""
        dtype = self.dtype
        return "" if dtype is None else str(dtype)

    # -- metadata (overridden by the format modules) --------------------------------------
    @property
    def shape(self) -> tuple[int, ...] | None:
        """Array shape; ``None`` for groups."""
        return None

    @property
    def dtype(self) -> np.dtype | None:
        """Array numpy dtype; ``None`` for groups."""
        return None

    @property
    def chunks(self) -> tuple[int, ...] | None:
        """Chunk shape; ``None`` for groups and contiguous HDF5 datasets."""
        return None

    @property
    def layout(self) -> str | None:
        """How an array's values are stored: ``"chunked"`` or ``"contiguous"`` (HDF5 adds ``"compact"``,
        ``"virtual"`` and ``"external"``); ``None`` for groups."""
        if self.kind != "array":
            return None
        return "chunked" if self.chunks else "contiguous"

    @property
    def compressor(self) -> str | None:
        """Name of the compression codec (``"zstd"``, ``"gzip(4)"``...), or ``None``."""
        return None

    @property
    def filters(self) -> list[str]:
        """Names of the other filters/codecs (shuffle, delta...)."""
        return []

    @property
    def reads_chunk_prefixes(self) -> bool:
        """Whether reading the start of a chunk decodes only that start (and reading further resumes there).

        True for HDF5 chunks compressed by deflate alone and Zarr chunks by
        Zstandard alone (read uncached).  A viewer showing one
        plane of a chunk block then reads the plane rather than the whole block:
        the block's later planes are decoded only when asked for.
        """
        return False

    @property
    def fill_value(self) -> Any:
        """The fill value as plain Python, or ``None``."""
        return None

    @property
    def attrs(self) -> dict[str, Any]:
        """Attributes as a plain, JSON-safe dict."""
        return {}

    @property
    def stored_nbytes(self) -> int | None:
        """Bytes used in storage (compressed chunks), when known."""
        return None

    @property
    def link_target(self) -> str | None:
        """For links: the target path (``/a/b``) or ``file::/path`` for external links."""
        return None

    @property
    def link_type(self) -> str | None:
        """For links: ``"soft"``, ``"external"`` or ``"reference"``."""
        return None

    @property
    def broken(self) -> bool:
        """True for a link whose target does not exist (or cannot be read)."""
        return False

    @property
    def ndim(self) -> int:
        """Number of dimensions (0 for groups)."""
        return len(self.shape or ())

    @property
    def size(self) -> int:
        """Number of elements (0 for groups)."""
        return math.prod(self.shape) if self.shape is not None else 0

    @property
    def nbytes(self) -> int:
        """Bytes the whole array takes in memory (0 for groups)."""
        dtype = self.dtype
        return self.size * dtype.itemsize if dtype is not None else 0

    # -- tree ------------------------------------------------------------------------
    def children(self) -> Iterator[Node]:
        """The direct children of a group, listed now (one level only); empty for arrays."""
        return iter(())

    def child(self, name: str) -> Node:
        """The direct child called ``name``; ``NotFound`` when absent."""
        if not name or "/" in name.strip("/"):
            raise InvalidArgument(f"{self.uri}: invalid child name {name!r}", path=self.uri)
        return self.get(name.strip("/"))

    def get(self, path: str) -> Node:
        """The node at ``path``: absolute (``/a/b``, from the root) or relative to this node."""
        if not isinstance(path, str):
            raise InvalidArgument(f"inner paths are strings, not {type(path).__name__}")
        full = path if path.startswith("/") else self.path.rstrip("/") + "/" + path
        return self.container.node(normalize_inner(full, text=f"{self.container.uri}::{full}"))

    def target(self) -> Node:
        """The node a link points to (this node for groups and arrays)."""
        return self

    def parent(self) -> Node | None:
        """The enclosing group (``None`` for the root)."""
        if self.path == "/":
            return None
        return self.container.node(self.path.rsplit("/", 1)[0] or "/")

    def multiscales(self) -> list[Node]:
        """The levels of an OME-Zarr ``multiscales`` image (first one), finest first; else ``[]``."""
        attrs = self.attrs
        ms = attrs.get("multiscales")
        if ms is None and isinstance(attrs.get("ome"), dict):
            ms = attrs["ome"].get("multiscales")
        if not isinstance(ms, list) or not ms or not isinstance(ms[0], dict):
            return []
        levels = []
        for ds in ms[0].get("datasets", []) or []:
            p = ds.get("path") if isinstance(ds, dict) else None
            if not isinstance(p, str):
                continue
            with contextlib.suppress(NotFound):
                levels.append(self.get(p))
        return levels

    # -- data ----------------------------------------------------------------------------
    def slice_identity(self, selection: tuple) -> Hashable | None:
        """What identifies the stored bytes ``selection`` reads, for caches shared across opens: equal
        identities mean equal values.  None when it cannot be told (then cache per open only)."""
        return None

    def read_slice(self, selection: Any = (), *, cache: bool = True) -> np.ndarray:
        """Read ``selection`` (ints and slices, any step, negative indices) as a numpy array.

        ``cache=False``: the container keeps no copy of the slice in its slice caches (Zarr's), for callers
        that keep what they read themselves (a viewer's tile cache): one copy in memory, not two.
        """
        from .slicing import read_slice

        return read_slice(self, selection, cache=cache)

    def display_selection(
        self,
        axes: tuple[int, ...] = (-2, -1),
        index: Any = None,
        target: tuple[int, ...] = (1024, 1024),
        max_bytes: int = 64 * 1024 * 1024,
    ) -> tuple:
        """:func:`~storecore.containers.display_selection` for this array (its shape, item size and chunks)."""
        from .slicing import display_selection

        node = self.target()
        if node.shape is None:
            raise InvalidArgument(f"{self.uri} is a {node.kind}, not an array", path=self.uri)
        itemsize = node.dtype.itemsize if node.dtype is not None else 8
        return display_selection(node.shape, axes, index, target, max_bytes, itemsize, chunks=node.chunks)

    def _read(self, selection: tuple, cache: bool = True) -> np.ndarray:
        """Read a normalised selection (non-negative ints and positive-step slices); ``cache``: see :meth:`read_slice`."""
        raise InvalidArgument(f"{self.uri} is a {self.kind}, not an array", path=self.uri)

    def lazy(self) -> Any:
        """The underlying ``zarr.Array``/``zarr.Group`` or ``h5py.Dataset``/``h5py.Group``."""
        return None

    def __getitem__(self, key: Any) -> Any:
        """``node["name"]`` gives a child node; ``node[0, :, ::2]`` reads a slice."""
        if isinstance(key, str):
            return self.get(key)
        return self.read_slice(key)

    def warnings(self) -> list[str]:
        """One-line notes on what this node's values do not show (an HDF5 virtual dataset whose sources are
        missing reads as its fill value, for instance); empty when there is nothing to say."""
        return []

    def info(self) -> dict[str, Any]:
        """A JSON-safe summary of this node (for info panels)."""
        out: dict[str, Any] = {"name": self.name, "path": self.path, "uri": self.uri, "kind": self.kind}
        warnings = self.warnings()
        if warnings:
            out["warnings"] = warnings
        if self.kind == "link":
            out.update(link_type=self.link_type, link_target=self.link_target, broken=self.broken)
        if self.kind in ("array", "datatype"):
            out.update(value_kind=self.value_kind, type=self.type_text)
        if self.is_empty:
            out.update(shape=None, dtype=str(self.dtype), empty=True)
        if self.shape is not None:
            out.update(
                shape=list(self.shape),
                dtype=str(self.dtype),
                chunks=list(self.chunks) if self.chunks else None,
                compressor=self.compressor,
                filters=self.filters,
                fill_value=json_safe(self.fill_value),
                nbytes=self.nbytes,
            )
        return out

    def close(self) -> None:
        """Close the container this node belongs to (all its nodes become unusable)."""
        self.container.close()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and other.container is self.container and other.path == self.path

    def __hash__(self) -> int:
        return hash((id(self.container), self.path))

    def __repr__(self) -> str:
        extra = f" shape={self.shape} dtype={self.dtype}" if self.shape is not None else ""
        if self.kind == "link":
            extra = f" -> {self.link_target}{' (broken)' if self.broken else ''}"
        return f"<{self.kind} {self.uri}{extra}>"

    # -- pickling and Dask -------------------------------------------------------------
    def __reduce__(self) -> tuple:
        """Pickle as its container (reopened on the other side) and inner path."""
        return (_reopen_node, (self.container, self.path))

    def to_dask(self, chunks: Any = None) -> Any:
        """A ``dask.array.Array`` over this array, chunked like the store (needs ``storescope[cluster]``)."""
        from .dask_support import to_dask

        return to_dask(self, chunks)


class BrokenNode(Node):
    """A child whose metadata cannot be read: listed (``broken=True``) instead of failing its siblings."""

    kind = "link"

    def __init__(self, container: Container, path: str, error: str) -> None:
        super().__init__(container, path)
        self.error = error

    @property
    def broken(self) -> bool:
        return True

    def target(self) -> Node:
        from ..errors import CorruptData

        raise CorruptData(f"{self.uri}: {self.error}", path=self.uri)


def _scheme_of(location: Location) -> tuple[str, str, dict[str, Any]] | None:
    """A registered scheme (``minio://``) travels with a pickled container, as its backend's options do."""
    from ..location import BASE_SCHEMES, scheme_info

    if location.scheme in BASE_SCHEMES:
        return None
    base, options = scheme_info(location.scheme)
    return location.scheme, base, options


def _reopen_container(
    cls: type[Container], location: Location, backend: Backend, scheme: tuple[str, str, dict[str, Any]] | None = None
) -> Container:
    """Unpickle a :class:`Container`: open it again, read-only (registering its scheme where it is unknown)."""
    if scheme is not None:
        from ..location import known_schemes, register_scheme

        if scheme[0] not in known_schemes():
            register_scheme(scheme[0], scheme[1], **scheme[2])
    return cls(location, backend, "r")


def _reopen_node(container: Container, path: str) -> Node:
    """Unpickle a :class:`Node`: the node at ``path`` of the reopened container."""
    return container.node(path)
