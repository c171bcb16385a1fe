"""Zarr (v2 and v3) stores as :class:`~storecore.containers.node.Node` trees, on any backend.

Local stores use zarr's ``LocalStore``; S3 and memory stores use
:class:`~storecore.containers.zarr_store.BackendStore`, so zarr's own codec
pipeline decodes chunks and reads only the ones a slice touches.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import CorruptData, FormatError, NotFound, StorecoreError
from ..logs import suppress_logged
from ..lru import ByteLRU
from ..tuning import cache_bytes
from .node import BrokenNode, Container, Node, json_safe
from .zarr_store import BackendStore, ByteCounter, CountingStore

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import numpy as np

    from ..backends.base import Backend
    from ..location import Location



class _ZarrOrphanTasks(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved" reports for zarr's own tasks.

    ``Group.members()`` fetches every member's metadata in concurrent tasks and raises the first failure; the
    failures of the other tasks are then never retrieved, and asyncio prints each with its traceback (dozens of
    lines per bad member) when the task is collected.  :meth:`ZarrNode.children` then opens the members one by
    one and names each bad one (a :class:`BrokenNode`), so these reports say nothing new: kept at debug level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Task exception was never retrieved") and f"{os.sep}zarr{os.sep}" in message:
            logger.debug("zarr task failed with nobody waiting (its member is listed as broken): %s",
                         record.exc_info[1] if record.exc_info else message.splitlines()[-1])
            return False
        return True


logging.getLogger("asyncio").addFilter(_ZarrOrphanTasks())

ZARR_MARKERS = ("zarr.json", ".zgroup", ".zarray")
#: recent slices kept per read-only store (see ZarrContainer.cached_read)
SLICE_CACHE_BYTES = cache_bytes("zarr_open")


@contextlib.contextmanager
def zarr_errors(uri: str) -> Iterator[None]:
    """Turn zarr/codec exceptions into storecore errors naming ``uri``."""
    try:
        yield
    except StorecoreError:
        raise
    except (KeyError, FileNotFoundError) as e:
        raise NotFound(f"{uri}: no such group or array", path=uri) from e
    except json.JSONDecodeError as e:
        raise CorruptData(f"{uri}: corrupt Zarr metadata ({e})", path=uri) from e
    except Exception as e:
        raise CorruptData(f"{uri}: cannot read Zarr data ({type(e).__name__}: {e})", path=uri) from e


def codec_name(codec: Any) -> str:
    """A short readable name for a zarr v3 codec or numcodecs codec: ``zstd(3)``, ``blosc(lz4)``."""
    name = getattr(codec, "codec_id", None)
    if not isinstance(name, str):
        name = type(codec).__name__
        name = name[:-5] if name.endswith("Codec") else name
    name = name.lower()
    cname = getattr(codec, "cname", None)
    if cname is not None:
        return f"{name}({getattr(cname, 'value', cname)})"
    level = getattr(codec, "level", None)
    if isinstance(level, int):
        return f"{name}({level})"
    return name


class ZarrContainer(Container):
    """An opened Zarr store (v2 or v3) on a local path, in memory or on S3."""

    format = "zarr"

    def __init__(self, location: Location, backend: Backend, mode: str = "r") -> None:
        super().__init__(location, backend, mode)
        import zarr

        self.counter = ByteCounter()
        #: recent read-only slices (a slice over a quarter of the bound is not kept)
        self._slices = ByteLRU(SLICE_CACHE_BYTES, max_item_bytes=SLICE_CACHE_BYTES // 4)
        read_only = mode == "r"
        if self.location.is_local:
            from zarr.storage import LocalStore

            if read_only:
                backend.stat(self.location.path)  # NotFound names the path
            self.store: Any = CountingStore(LocalStore(self.location.path, read_only=read_only), self.counter)
        else:
            self.store = BackendStore(backend, self.location.path, read_only=read_only, counter=self.counter)
        with zarr_errors(self.uri):
            try:
                self.root: Any = zarr.open(store=self.store, mode="r" if read_only else "a")
            except FileNotFoundError as e:
                if backend.exists(self.location.path):
                    raise FormatError(f"{self.uri}: not a Zarr store (no zarr.json/.zgroup/.zarray)", path=self.uri) from e
                raise NotFound(f"{self.uri}: no such Zarr store", path=self.uri) from e
        #: whether listings come from consolidated metadata (one document for the whole store), which goes stale
        #: when a member is added or deleted without consolidating again: checked against the folders it names
        self.consolidated = getattr(getattr(self.root, "metadata", None), "consolidated_metadata", None) is not None

    def unconsolidated(self) -> None:
        """Read members from their own metadata from now on: the consolidated metadata is stale."""
        import zarr

        if not self.consolidated:
            return
        with zarr_errors(self.uri):
            self.root = zarr.open_group(store=self.store, mode="r" if self.mode == "r" else "a", use_consolidated=False)
        self.consolidated = False

    def metadata_exists(self, path: str, zarr_format: int, kind: str | None = None) -> bool:
        """Whether the group or array (``kind``; None: either) at inner ``path`` has its own metadata document."""
        folder = self.location.path.rstrip("/") + (path if path != "/" else "")
        v2 = {"array": (".zarray",), "group": (".zgroup",)}.get(kind or "", (".zarray", ".zgroup"))
        return any(self.backend.exists(f"{folder}/{name}") for name in (("zarr.json",) if zarr_format == 3 else v2))

    @property
    def bytes_read(self) -> int:
        """Bytes zarr has fetched from the store so far (metadata and chunks)."""
        return self.counter.bytes_read

    def cached_read(self, path: str, selection: tuple, read: Any, identity: Hashable | None = None) -> Any:
        """``read()`` through the caches of recent slices, so going back to a frame costs no I/O.

        zarr keeps no decoded chunks between reads (h5py does, with its chunk cache); read-only containers
        keep recent slices instead: in :data:`.zarr_cache.SHARED` across opens when the slice's ``identity``
        is known (:meth:`ZarrNode.slice_identity`: its chunk objects, validated again on every read), else
        here, for this open only.  Copies go in and out, so callers may modify what they get.
        """
        if self.mode != "r":
            return read()
        if identity is not None:
            from .zarr_cache import SHARED, key_for

            shared_key = key_for(self, path, selection)
            hit = SHARED.get(shared_key)
            if hit is not None and hit[0] == identity:
                return hit[1].copy()
            data = read()
            if data.dtype.kind != "O" and data.nbytes <= SHARED.max_item_bytes:
                SHARED.put(shared_key, (identity, data.copy()))
            return data
        key = (path, repr(selection))
        hit = self._slices.get(key)
        if hit is not None:
            return hit.copy()
        data = read()
        if data.dtype.kind != "O" and data.nbytes <= self._slices.max_item_bytes:
            self._slices.put(key, data.copy())
        return data

    def node(self, path: str) -> Node:
        """The node at the absolute inner ``path``."""
        uri = self.node_uri(path)
        if path == "/":
            return ZarrNode(self, "/", self.root)
        if not hasattr(self.root, "members"):
            raise NotFound(f"{uri}: no such group or array (the store root is an array)", path=uri)
        try:
            with zarr_errors(uri):
                obj = self.root[path.strip("/")]
        except NotFound:
            if not self.consolidated:
                raise
            # added after the store was consolidated: its own metadata says what it is
            self.unconsolidated()
            with zarr_errors(uri):
                obj = self.root[path.strip("/")]
            logger.info("%s: not in the store's consolidated metadata (stale): read from its own", uri)
            return ZarrNode(self, path, obj)
        node = ZarrNode(self, path, obj)
        if self.consolidated and not self.metadata_exists(path, node.zarr_format, node.kind):
            raise NotFound(f"{uri}: listed in the store's consolidated metadata, but its own metadata is gone "
                           "(deleted since the store was consolidated)", path=uri)
        return node

    def _close(self) -> None:
        with suppress_logged(logger, "_close"):
            self.store.close()


class ZarrNode(Node):
    """A zarr group or array."""

    def __init__(self, container: ZarrContainer, path: str, obj: Any) -> None:
        super().__init__(container, path)
        self._obj = obj
        self._stored: int | None = None
        self.kind = "group" if hasattr(obj, "members") else "array"

    @property
    def _folder(self) -> str:
        """The backend path of this group's or array's folder (its chunk objects lie below it)."""
        return self.container.location.path.rstrip("/") + (self.path if self.path != "/" else "")

    def _array_attr(self, fn: Any) -> Any:
        if self.kind != "array":
            return None
        with zarr_errors(self.uri):
            return fn(self._obj)

    @property
    def shape(self) -> tuple[int, ...] | None:
        return self._array_attr(lambda a: tuple(a.shape))

    @property
    def dtype(self) -> np.dtype | None:
        dtype = self._array_attr(lambda a: a.dtype)
        # Variable-length strings come back as object arrays of str, as from HDF5.
        if dtype is not None and dtype.kind == "T":
            import numpy as np

            return np.dtype(object)
        return dtype

    @property
    def chunks(self) -> tuple[int, ...] | None:
        return self._array_attr(lambda a: tuple(a.chunks))

    @property
    def compressor(self) -> str | None:
        codecs = self._array_attr(lambda a: a.compressors) or ()
        return codec_name(codecs[0]) if codecs else None

    @property
    def filters(self) -> list[str]:
        return [codec_name(c) for c in (self._array_attr(lambda a: a.filters) or ())]

    @property
    def reads_chunk_prefixes(self) -> bool:
        """True for zstd-only arrays opened for reading: uncached reads decode chunks part-way (:mod:`.zarr_chunks`)."""
        if self.kind != "array" or self.container.mode != "r":
            return False
        from .zarr_chunks import reads_chunk_prefixes

        return reads_chunk_prefixes(self._obj)

    @property
    def fill_value(self) -> Any:
        return json_safe(self._array_attr(lambda a: a.fill_value))

    @property
    def attrs(self) -> dict[str, Any]:
        with zarr_errors(self.uri):
            return json_safe(self._obj.attrs.asdict())

    @property
    def zarr_format(self) -> int:
        """2 or 3."""
        return int(self._obj.metadata.zarr_format)

    @property
    def stored_nbytes(self) -> int | None:
        """Bytes of the stored chunks (lists the array's keys on first access, then cached)."""
        if self.kind != "array":
            return None
        if self._stored is None:
            self._stored = self._listed_bytes()
        if self._stored is None:
            with zarr_errors(self.uri):
                self._stored = int(self._obj.nbytes_stored())
        return self._stored

    def _listed_bytes(self) -> int | None:
        """The bytes of every object below the array's folder, from one recursive listing of the backend.

        zarr's ``nbytes_stored`` asks the store for each key's size in turn: 174 ms for the 4,096 chunks of
        the 2 GiB benchmark volume on a local disk (a request per chunk on S3); a listing carries the sizes.
        None when the backend cannot list it (zarr then counts).
        """
        container = self.container
        try:
            return sum(e.size or 0 for page in container.backend.ls_pages(self._folder, recursive=True) for e in page)
        except Exception as e:  # noqa: BLE001 - zarr's own count follows
            logger.debug("listing %s for its size failed: %s", self.uri, e)
            return None

    def children(self) -> Iterator[Node]:
        """The direct members, read with one concurrent metadata fetch."""
        if self.kind != "group":
            return
        base = self.path.rstrip("/")
        try:
            with zarr_errors(self.uri):
                members = sorted(self._obj.members(max_depth=0), key=lambda m: m[0])
        except CorruptData:
            # One bad member must not hide its siblings: open them one by one.
            container = self.container
            with zarr_errors(self.uri):
                names = sorted(e.name for e in container.backend.ls(self._folder) if e.is_dir)
            for name in names:
                path = f"{base}/{name}"
                try:
                    with zarr_errors(self.container.node_uri(path)):
                        obj = self._obj[name]
                except StorecoreError as e:
                    yield BrokenNode(self.container, path, str(e))
                    continue
                yield ZarrNode(self.container, path, obj)  # type: ignore[arg-type]
            return
        container = self.container
        if getattr(container, "consolidated", False) and not self._members_match_folders(members):
            logger.info("%s: the store's consolidated metadata is stale: members read from their own", self.uri)
            container.unconsolidated()  # type: ignore[attr-defined]
            yield from container.node(self.path).children()
            return
        for name, obj in members:
            yield ZarrNode(self.container, f"{base}/{name}", obj)  # type: ignore[arg-type]

    def _members_match_folders(self, members: list[tuple[str, Any]]) -> bool:
        """Whether consolidated ``members`` are the folders below this group that hold Zarr metadata: one listing
        of the group's folder (its direct entries), and a look inside only at folders not among the members."""
        container = self.container
        try:
            folders = {e.name for e in container.backend.ls(self._folder) if e.is_dir}
        except StorecoreError as e:
            logger.debug("listing %s to check its consolidated members failed: %s", self.uri, e)
            return True  # nothing to check against: keep what the store says
        names = {name for name, _ in members}
        if names - folders:
            return False  # a member deleted since
        fmt = self.zarr_format
        base = self.path.rstrip("/")
        return not any(container.metadata_exists(f"{base}/{name}", fmt)  # type: ignore[attr-defined]
                       for name in folders - names)

    def _read(self, selection: tuple, cache: bool = True) -> np.ndarray:
        if self.kind != "array":
            return super()._read(selection)
        import numpy as np

        def read() -> np.ndarray:
            with zarr_errors(self.uri):
                data = np.asarray(self._obj[selection])
            return data.astype(object) if data.dtype.kind == "T" else data

        if not cache:
            if self.container.mode == "r":  # (an array open for writing may change under a part-decoded chunk)
                from .zarr_chunks import read as read_part_way

                container = self.container
                ranged = container.backend.local_path(container.location.path) is not None
                with zarr_errors(self.uri):
                    data = read_part_way(self._obj, selection, container, self.uri, self._folder, ranged)
                if data is not None:
                    return data
            return read()
        identity = self.slice_identity(selection) if self._shareable(selection) else None
        return self.container.cached_read(self.path, selection, read, identity)  # type: ignore[attr-defined]

    def _shareable(self, selection: tuple) -> bool:
        """Whether the shared slice cache could keep this slice: otherwise taking its chunks' identities (a stat or
        HEAD per chunk) buys nothing."""
        from .zarr_cache import SHARED

        dtype = self._obj.dtype
        if self.container.mode != "r" or getattr(dtype, "kind", "O") in "OT":
            return False
        n = getattr(dtype, "itemsize", 8)
        for s, dim in zip(selection, self._obj.shape, strict=False):
            if isinstance(s, slice):
                n *= len(range(*s.indices(dim)))
        return n <= SHARED.max_item_bytes

    def slice_identity(self, selection: tuple) -> Hashable | None:
        """The identities of the chunk objects ``selection`` reads and of the array's metadata (see
        :mod:`.zarr_cache`); None for groups, fancy selections and selections touching too many chunks."""
        if self.kind != "array":
            return None
        from .zarr_cache import identities, touched_keys

        keys = touched_keys(self._obj, selection)
        ids = identities(self.container, self.path, self._obj, keys) if keys is not None else None
        return None if ids is None else (self.container.uri, self.path, ids)

    def lazy(self) -> Any:
        """The ``zarr.Array`` or ``zarr.Group``."""
        return self._obj
