"""HDF5 files as :class:`~storecore.containers.node.Node` trees, local or remote.

Local files are opened by h5py directly.  Remote files (S3, memory) are read
through :class:`RemoteReader`, a seekable file whose small reads (HDF5
metadata: object headers, B-tree nodes, heaps) go through a block cache and
whose large reads (chunks) are single ranged requests — the file is never
downloaded whole.  h5py's chunk cache is sized so that going back to a recently
shown frame costs no reading.

Soft links, external links and object references are ``kind="link"`` nodes;
a link whose target is missing is ``broken`` rather than an error.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import itertools
import logging
import math
import os
import posixpath
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..backends.base import RangeFile, ReadOnlyFile
from ..errors import CorruptData, FormatError, InvalidArgument, MissingFilter, NotFound, StorecoreError
from ..location import Location
from ..logs import suppress_logged
from ..tuning import cache_bytes
from .node import BrokenNode, Container, Node, json_safe

if TYPE_CHECKING:
    import numpy as np

    from ..backends.base import Backend

logger = logging.getLogger(__name__)

#: h5py raw-data chunk cache per dataset: a few 2-D frames of a large volume stay decoded
CHUNK_CACHE_BYTES = cache_bytes("hdf5_open")
CHUNK_CACHE_SLOTS = 100_003  # a prime, as HDF5 advises, well above the number of cached chunks
#: remote metadata reads: 64 KiB blocks (HDF5 metadata clusters), up to 32 MiB of them cached
METADATA_BLOCK = 64 * 1024
METADATA_BLOCKS = 512
#: reads at least this large are chunk data: fetched exactly, never through the block cache
DIRECT_READ = 32 * 1024
MAX_LINK_HOPS = 16
#: remote chunk reads are fetched ahead, concurrently, before h5py asks for them one by one
PREFETCH_WORKERS = 8
PREFETCH_MAX_BYTES = 256 * 1024 * 1024
PREFETCH_MAX_CHUNKS = 4096

# h5py crashes the interpreter at exit when a file opened on a Python file object is still
# open; remote containers left open by their user are closed first.
_open_remote: weakref.WeakSet[HDF5Container] = weakref.WeakSet()
#: every dataset node: their h5py datasets' creation property lists are closed at exit (below)
_dataset_nodes: weakref.WeakSet[H5Node] = weakref.WeakSet()


@atexit.register
def _close_remote_files() -> None:
    # HDF5 closes the property lists still open when its library ends, after Python is gone; one of a
    # virtual dataset (VDS) whose file is closed crashes it there (exit code 139 on quitting).  A node kept
    # alive to the end (by a widget Qt never deletes, say) must not leave one behind.
    for node in list(_dataset_nodes):
        # only a property list h5py already made (its cached ``_dcpl``): asking for one would make it, and on a
        # dataset whose file is closed that raises (a traceback printed at exit)
        dcpl = vars(node._obj).get("_dcpl")
        with suppress_logged(logger, "closing a dataset's property list at exit"):
            if dcpl is not None and dcpl.valid:
                dcpl.close()
    for container in list(_open_remote):
        with suppress_logged(logger, f"closing {container.uri} at exit"):
            container.close()


_COMPRESSORS = {
    1: "gzip", 4: "szip", 307: "bzip2", 32000: "lzf", 32001: "blosc", 32004: "lz4", 32008: "bitshuffle",
    32013: "zfp", 32015: "zstd", 32017: "sz", 32024: "sz3", 32026: "blosc2",
}  # fmt: skip
_FILTERS = {2: "shuffle", 3: "fletcher32", 5: "nbit", 6: "scaleoffset"}
_plugins_loaded = False


def load_filter_plugins() -> None:
    """Register hdf5plugin's filters (bitshuffle/LZ4, Blosc, Blosc2, Zstd, LZ4, BZip2, SZ, ZFP…) once.

    Imported lazily, before the first HDF5 file is opened, so start-up does not pay for it.
    A missing hdf5plugin is not an error here: reading a chunk that needs a filter raises
    :class:`~storecore.errors.MissingFilter` naming it.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    try:
        import hdf5plugin  # noqa: F401 - registers the filters with h5py's HDF5
    except ImportError:
        logger.warning("hdf5plugin is not installed: HDF5 chunks compressed with filter plugins cannot be read")


def filter_label(code: int, name: Any = b"") -> str:
    """A filter's name: the one storecore knows for ``code``, else the name the file gives."""
    known = _COMPRESSORS.get(code) or _FILTERS.get(code)
    if known:
        return known
    text = name.decode(errors="replace") if isinstance(name, bytes) else str(name or "")
    return text or "unknown filter"


def missing_filters(dset: Any) -> list[tuple[int, str]]:
    """``(id, name)`` of the filters of ``dset`` that this HDF5 library cannot apply."""
    from h5py import h5z

    plist = dset.id.get_create_plist()
    out = []
    for i in range(plist.get_nfilters()):
        code, _flags, _values, name = plist.get_filter(i)
        if not h5z.filter_avail(code):
            out.append((int(code), filter_label(code, name)))
    return out


#: virtual sources checked by :meth:`H5Node.warnings` (a VDS may map thousands of files)
MAX_VDS_CHECKS = 256


def _link_of(f: Any, path: str) -> Any:
    """The link object at ``path`` of the h5py file ``f`` (None when a parent group is missing)."""
    try:
        return f.get(path, getlink=True)
    except (KeyError, OSError, ValueError):
        return None


class RemoteReader(ReadOnlyFile):
    """A read-only seekable file over a backend object, shaped for HDF5's access pattern.

    ``bytes_read`` and ``requests`` count what was fetched from storage.  The
    first storage error is kept in ``error`` because h5py reports failures of
    Python file objects only as a generic ``OSError``.
    """

    def __init__(self, backend: Backend, path: str, size: int, *, name: str = "") -> None:
        super().__init__()
        self.backend = backend
        self.path = path
        self.size = size
        self.name = name
        self.error: BaseException | None = None
        self._pos = 0
        self._direct_bytes = 0
        self._direct_requests = 0
        self._blocks = RangeFile(
            self._fetch, size, name=name, block_size=METADATA_BLOCK, cache_blocks=METADATA_BLOCKS
        )
        #: offset -> bytes fetched ahead for h5py's next chunk reads
        self._ahead: dict[int, bytes] = {}
        #: chunk offsets h5py has most likely still decoded in its chunk cache -> raw chunk size
        self._recent: OrderedDict[int, int] = OrderedDict()
        # Prefetching runs outside h5py's global lock, possibly for two readers' threads at once.
        self._ahead_lock = threading.Lock()

    def _fetch(self, start: int, end: int) -> bytes:
        try:
            return self.backend.read_bytes(self.path, start, end)
        except BaseException as e:
            self.error = self.error or e
            raise

    @property
    def bytes_read(self) -> int:
        """Bytes fetched from storage so far."""
        return self._blocks.bytes_fetched + self._direct_bytes

    @property
    def requests(self) -> int:
        """Ranged requests made so far."""
        return self._blocks.requests + self._direct_requests

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = max(0, self.seek_target(offset, whence))  # clamped: h5py never means a negative position
        return self._pos

    def prefetch(self, ranges: list[tuple[int, int]], raw_chunk_bytes: int) -> None:
        """Fetch ``(offset, size)`` chunk ranges concurrently so h5py's serial reads find them ready.

        Chunks h5py most likely holds in its chunk cache (read recently) are
        skipped, so going back to a frame costs nothing.
        """
        with self._ahead_lock:
            wanted = [(o, n) for o, n in ranges if o not in self._recent and o not in self._ahead]
        total, batch = 0, []
        for o, n in wanted:
            if total + n > PREFETCH_MAX_BYTES:
                break
            batch.append((o, n))
            total += n
        if len(batch) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(PREFETCH_WORKERS, len(batch))) as pool:
                fetched = list(pool.map(lambda r: self._fetch(r[0], r[0] + r[1]), batch))
            with self._ahead_lock:
                for (o, _), data in zip(batch, fetched, strict=True):
                    self._ahead[o] = data
                    self._direct_bytes += len(data)
                    self._direct_requests += 1
        budget = max(1, CHUNK_CACHE_BYTES // max(1, raw_chunk_bytes))
        with self._ahead_lock:
            for o, _ in ranges:
                self._recent[o] = raw_chunk_bytes
                self._recent.move_to_end(o)
            while len(self._recent) > budget:
                self._recent.popitem(last=False)

    def drop_prefetched(self) -> None:
        """Forget chunks fetched ahead that h5py did not read."""
        with self._ahead_lock:
            self._ahead.clear()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), max(0, self.size - self._pos))
        if n <= 0:
            return 0
        with self._ahead_lock:
            ahead = self._ahead.pop(self._pos, None)
        if ahead is not None and len(ahead) >= n:
            view[:n] = ahead[:n]
            self._pos += n
            return n
        if n >= DIRECT_READ:
            data = self._fetch(self._pos, self._pos + n)
            self._direct_bytes += len(data)
            self._direct_requests += 1
        else:
            data = self._blocks.pread(self._pos, n)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


def key_beside(folder: str, name: str) -> str | None:
    """The key of the file HDF5 names ``name`` (a relative path, as in an external link or raw data file) from a
    file in the bucket folder ``folder``; None when its ``..`` steps lead out of the bucket.

    The name is a path (its ``..``, ``.`` and empty steps are steps, as HDF5 takes them); the folder is a key and is
    kept exactly (``a//b`` stays).
    """
    parts = folder.split("/") if folder else []
    for step in name.split("/"):
        if step == "..":
            if not parts:
                return None
            parts.pop()
        elif step not in ("", "."):
            parts.append(step)
    return "/".join(parts)


def _open_local(path: str, h5mode: str, cache: dict[str, int], *, uri: str = "") -> Any:
    """Open a local file; reading takes no lock, so a viewer never blocks (or is blocked by) a writer elsewhere.

    A file another program has open for writing is marked so in its superblock and HDF5 refuses a plain
    reader; a writer in SWMR mode (single writer, multiple readers: what detectors and DAQ use while a scan
    runs) lets readers in that say so, as h5py's ``swmr=True`` does.
    """
    import h5py

    try:
        return h5py.File(path, h5mode, locking=h5mode != "r", **cache)
    except OSError as e:
        if h5mode == "r" and "already open for write" in str(e):
            try:
                return h5py.File(path, "r", locking=False, swmr=True, **cache)
            except OSError:
                raise FormatError(
                    f"{uri or path}: open for writing by another program (not in SWMR mode), or left marked open by "
                    "a writer that stopped (h5clear -s clears the mark)", path=uri or path,
                ) from e  # fmt: skip
        # The same process already holds the file open with HDF5's default locking (HDF5 shares one
        # handle per file and refuses a second opening with other flags): open it the same way.
        if "locking flag" not in str(e):
            raise
        return h5py.File(path, h5mode, **cache)


class HDF5Container(Container):
    """An opened HDF5 (or netCDF-4) file: local through h5py, remote through :class:`RemoteReader`.

    ``fileobj`` opens an already open file object instead (used to count the
    bytes of local reads in tests and benchmarks).
    """

    format = "hdf5"

    def __init__(self, location: Location, backend: Backend, mode: str = "r", *, fileobj: Any = None) -> None:
        super().__init__(location, backend, mode)
        import h5py

        load_filter_plugins()
        self.reader: RemoteReader | None = None
        h5mode = "r" if mode == "r" else "a"
        cache = {"rdcc_nbytes": CHUNK_CACHE_BYTES, "rdcc_nslots": CHUNK_CACHE_SLOTS}
        try:
            if fileobj is not None:
                self.file: Any = h5py.File(fileobj, h5mode, **cache)
                _open_remote.add(self)
            elif self.location.is_local:
                if mode == "r":
                    self._check_file()
                self.file = _open_local(self.location.path, h5mode, cache, uri=self.uri)
                _open_remote.add(self)  # closed at exit too (see _close_remote_files)
            else:
                if mode != "r":
                    raise InvalidArgument(
                        f"{self.uri}: remote HDF5 files open read-only (write with storecore.containers.write_array)",
                        path=self.uri,
                    )
                entry = self._check_file()
                self.reader = RemoteReader(backend, self.location.path, entry.size or 0, name=self.uri)
                self.file = h5py.File(self.reader, "r", **cache)
                _open_remote.add(self)
        except StorecoreError:
            raise
        except Exception as e:
            err = self.reader.error if self.reader is not None else None
            if isinstance(err, StorecoreError):
                raise err from e
            raise CorruptData(f"{self.uri}: not a readable HDF5 file (truncated or corrupt: {e})", path=self.uri) from e

    def _check_file(self) -> Any:
        entry = self.backend.stat(self.location.path)
        if entry.is_dir:
            raise FormatError(f"{self.uri}: is a folder, not an HDF5 file", path=self.uri)
        return entry

    @property
    def bytes_read(self) -> int | None:
        """Bytes fetched from storage (remote files); ``None`` for local files h5py reads itself."""
        return self.reader.bytes_read if self.reader is not None else None

    @contextlib.contextmanager
    def errors(self, uri: str) -> Iterator[None]:
        """Turn h5py exceptions into storecore errors naming ``uri`` (storage errors pass through)."""
        try:
            yield
        except CorruptData as e:
            if self.reader is not None:
                self.reader.error = None  # already surfacing
            if uri in str(e):
                raise
            raise CorruptData(f"{uri}: {e}", path=uri) from e  # bad bytes (a chunk's): say whose
        except StorecoreError:
            if self.reader is not None:
                self.reader.error = None  # already surfacing
            raise
        except KeyError as e:
            raise NotFound(f"{uri}: no such group or dataset", path=uri) from e
        except Exception as e:
            err = self.reader.error if self.reader is not None else None
            if isinstance(err, StorecoreError):
                self.reader.error = None  # type: ignore[union-attr]
                raise err from e
            raise CorruptData(f"{uri}: cannot read HDF5 data ({type(e).__name__}: {e})", path=uri) from e

    def node(self, path: str) -> Node:
        """The node at the absolute inner ``path`` (links along the way are followed)."""
        uri = self.node_uri(path)
        if path == "/":
            return H5Node(self, "/", self.file)
        parent_path, name = posixpath.split(path)
        with self.errors(uri):
            parent = self.file.get(parent_path)
            link = parent.get(name, getlink=True) if hasattr(parent, "keys") else None
        if link is None:
            raise NotFound(f"{uri}: no such group or dataset", path=uri)
        return self.make_node(parent, name, path, link)

    def make_node(self, parent: Any, name: str, path: str, link: Any) -> Node:
        """The node for the link ``name`` of the h5py group ``parent``."""
        import h5py

        if isinstance(link, h5py.SoftLink):
            target = link.path if link.path.startswith("/") else posixpath.join(posixpath.dirname(path), link.path)
            return H5LinkNode(self, path, "soft", link.path, _hdf5_path(target))
        if isinstance(link, h5py.ExternalLink):
            return H5LinkNode(self, path, "external", f"{link.filename}::{link.path}", (link.filename, link.path))
        uri = self.node_uri(path)
        try:
            with self.errors(uri):
                obj = parent[name]
                # A scalar object reference is a link to its target; h5py's own type check tells it from a
                # variable-length string (both are numpy object dtypes that compare equal).
                if (
                    isinstance(obj, h5py.Dataset)
                    and obj.shape == ()
                    and h5py.check_ref_dtype(obj.dtype) is h5py.Reference
                ):
                    target = self.resolve_ref(obj[()]) or None
                    return H5LinkNode(self, path, "reference", target, target)
        except CorruptData as e:
            return BrokenNode(self, path, str(e))
        return H5Node(self, path, obj)

    def resolve_ref(self, ref: Any) -> str:
        """The path an object reference points to (``""`` for a null or dangling reference)."""
        try:
            return self.file[ref].name if ref else ""
        except Exception:  # noqa: BLE001 - a dangling reference reads as no target
            logger.debug("%s: unresolvable object reference", self.uri, exc_info=True)
            return ""

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()
        if self.reader is not None:
            self.reader.close()


def _hdf5_path(path: str) -> str:
    """A soft link's path as HDF5 walks it: empty and ``.`` components skipped, ``..`` kept as the name it is.

    HDF5 has no parent step: ``..`` is a member's name like any other (a link to ``/names/..`` reaches the dataset
    called ``..``, and ``../x`` from a group without such a member is dangling), so it is never collapsed.
    """
    return "/" + "/".join(part for part in path.split("/") if part not in ("", "."))


def _codec_names(dset: Any) -> tuple[str | None, list[str]]:
    plist = dset.id.get_create_plist()
    compressor: str | None = None
    filters: list[str] = []
    for i in range(plist.get_nfilters()):
        code, _flags, values, name = plist.get_filter(i)
        if code in _COMPRESSORS and compressor is None:
            label = _COMPRESSORS[code]
            compressor = f"{label}({values[0]})" if code == 1 and values else label
        else:
            filters.append(filter_label(code, name))
    return compressor, filters


def _holds_refs(dtype: Any) -> bool:
    """Whether values of ``dtype`` hold HDF5 references anywhere: as the type itself, in a compound field, in an
    array field or in a variable-length sequence (``DIMENSION_LIST`` is a sequence of references)."""
    import h5py
    import numpy as np

    if dtype.names:
        return any(_holds_refs(dtype.fields[name][0]) for name in dtype.names)
    if dtype.subdtype is not None:
        return _holds_refs(dtype.subdtype[0])
    if h5py.check_ref_dtype(dtype) is not None:
        return True
    base = h5py.check_vlen_dtype(dtype)
    return isinstance(base, np.dtype) and _holds_refs(base)


def _refs_as_paths(value: Any, resolve: Any) -> Any:
    """``value`` with each HDF5 reference in it replaced by ``resolve(ref)``, the path it points to: in compound
    fields (a structured array keeps its fields, a reference field becomes one of paths), sequences and arrays."""
    import h5py
    import numpy as np

    if isinstance(value, h5py.Reference | h5py.RegionReference):
        return resolve(value)
    if isinstance(value, np.void) and value.dtype.names:
        return {name: _refs_as_paths(value[name], resolve) for name in value.dtype.names}
    if not isinstance(value, np.ndarray) or not (value.dtype.names or value.dtype.kind == "O"):
        return value
    if value.dtype.names:
        fields = value.dtype.fields
        out = value.astype([(n, object if _holds_refs(fields[n][0]) else fields[n][0]) for n in value.dtype.names])
        for name in value.dtype.names:
            if _holds_refs(fields[name][0]):
                column = out[name]
                for index in np.ndindex(column.shape):
                    column[index] = _refs_as_paths(column[index], resolve)
        return out
    out = np.empty(value.shape, object)
    for index in np.ndindex(value.shape):
        out[index] = _refs_as_paths(value[index], resolve)
    return out


def _h5_value_kind(dtype: Any) -> str:
    """What an HDF5 dataset's values are, by h5py's own type checks (never by comparing dtypes)."""
    import h5py

    from .values import value_kind_of_dtype

    if h5py.check_string_dtype(dtype) is not None:
        return "string"
    if h5py.check_ref_dtype(dtype) is not None:
        return "reference"
    if dtype.kind == "b":
        return "bool"
    if h5py.check_enum_dtype(dtype) is not None:
        return "enum"
    if h5py.check_vlen_dtype(dtype) is not None:
        return "vlen"
    if h5py.check_opaque_dtype(dtype):
        return "datetime" if dtype.kind in "Mm" else "opaque"
    return value_kind_of_dtype(dtype)


def _decode_strings(data: Any) -> Any:
    """An array of bytes/str values (vlen or fixed length) as an object array of ``str``."""
    import numpy as np

    from .values import decode_text

    arr = np.asarray(data)
    flat = [v if isinstance(v, str) else decode_text(v) for v in arr.ravel().tolist()]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(arr.shape)


class H5Node(Node):
    """An HDF5 group or dataset."""

    def __init__(self, container: HDF5Container, path: str, obj: Any) -> None:
        import h5py

        super().__init__(container, path)
        self.container: HDF5Container = container
        self._obj = obj
        if isinstance(obj, h5py.Dataset):
            self.kind = "array"
            _dataset_nodes.add(self)
        elif isinstance(obj, h5py.Datatype):
            self.kind = "datatype"
        else:
            self.kind = "group"
        self._value_kind = _h5_value_kind(obj.dtype) if self.kind != "group" else ""
        self._is_str = self._value_kind == "string"
        self._is_ref = self._value_kind == "reference"

    @property
    def shape(self) -> tuple[int, ...] | None:
        return tuple(self._obj.shape) if self.kind == "array" and self._obj.shape is not None else None

    @property
    def dtype(self) -> np.dtype | None:
        if self.kind == "group":
            return None
        import numpy as np

        return np.dtype(object) if self._is_str or self._is_ref else self._obj.dtype

    @property
    def value_kind(self) -> str:
        return self._value_kind

    @property
    def enum_labels(self) -> dict[int, str] | None:
        import h5py

        if self._value_kind != "enum":
            return None
        mapping = h5py.check_enum_dtype(self._obj.dtype) or {}
        return {int(v): str(k) for k, v in mapping.items()}

    @property
    def type_text(self) -> str:
        import h5py

        if self.kind == "group":
            return ""
        dtype = self._obj.dtype
        if self._is_str:
            info = h5py.check_string_dtype(dtype)
            size = "variable length" if info.length is None else f"{info.length} bytes"
            return f"string ({info.encoding.upper().replace('ASCII', 'ASCII')}, {size})"
        if self._is_ref:
            ref = h5py.check_ref_dtype(dtype)
            return "region reference" if ref is h5py.RegionReference else "object reference"
        if self._value_kind == "enum":
            labels = ", ".join(f"{k}={v}" for v, k in sorted((self.enum_labels or {}).items()))
            return f"enum {dtype.base} ({labels})"
        if self._value_kind == "vlen":
            return f"variable-length sequence of {h5py.check_vlen_dtype(dtype)}"
        if self._value_kind in ("opaque", "datetime") and h5py.check_opaque_dtype(dtype):
            return f"opaque {dtype}"
        order = {">": " big-endian", "<": ""}.get(dtype.byteorder, "") if dtype.kind in "iufc" else ""
        return f"{dtype}{order}"

    @property
    def chunks(self) -> tuple[int, ...] | None:
        return tuple(self._obj.chunks) if self.kind == "array" and self._obj.chunks else None

    @property
    def layout(self) -> str | None:
        if self.kind != "array":
            return None
        import h5py

        with self.container.errors(self.uri):
            plist = self._obj.id.get_create_plist()
            if plist.get_external_count():
                return "external"
            return {h5py.h5d.COMPACT: "compact", h5py.h5d.VIRTUAL: "virtual", h5py.h5d.CHUNKED: "chunked"}.get(
                plist.get_layout(), "contiguous")

    def warnings(self) -> list[str]:
        """For a virtual dataset: which of its sources cannot be read (they read as the fill value)."""
        if self.kind != "array":
            return []
        with self.container.errors(self.uri):
            if not self._obj.is_virtual:
                return []
            sources = self._obj.virtual_sources()
            missing = [why for why in (self._missing_source(vs) for vs in sources[:MAX_VDS_CHECKS]) if why]
        if not missing:
            return []
        checked = min(len(sources), MAX_VDS_CHECKS)
        of = f"{len(missing)} of {checked}" + (f" checked ({len(sources)} in all)" if checked < len(sources) else "")
        state = "missing" if self.container.location.is_local else "not readable from a remote file"
        return [f"virtual dataset: {of} sources {state}, read as the fill value {self.fill_value!r}: {missing[0]}"]

    def _missing_source(self, vs: Any) -> str:
        """Why the virtual source ``vs`` cannot be read ("" when it can, or when that cannot be told cheaply)."""
        fname, dname = vs.file_name, vs.dset_name
        if fname == ".":
            f = self._obj.file
            try:
                f[dname]
                return ""
            except (KeyError, OSError, ValueError):
                link = _link_of(f, dname)
                if link is not None and hasattr(link, "filename"):
                    return f"{dname} is an external link to {link.filename}, which cannot be opened"
                return f"{dname} is not in the file"
        folder = self.container.backend.local_path(posixpath.dirname(self.container.location.path))
        if folder is None:
            # HDF5 opens a virtual source by its file name; a remote file is read through a file object, so the
            # source files beside it on the server are never opened
            return f"{fname} is another file, which HDF5 cannot open beside a remote file (copy both to a local folder)"
        if "%" in fname:  # a printf-style name pattern: not checked
            return ""
        full = fname if os.path.isabs(fname) else os.path.join(folder, fname)
        return "" if os.path.exists(full) else f"{fname} (no such file beside {self.container.location.name})"

    def missing_filters(self) -> list[tuple[int, str]]:
        """``(id, name)`` of this dataset's filters that cannot be applied here (none for groups)."""
        return missing_filters(self._obj) if self.kind == "array" else []

    @property
    def compressor(self) -> str | None:
        return _codec_names(self._obj)[0] if self.kind == "array" else None

    @property
    def filters(self) -> list[str]:
        return _codec_names(self._obj)[1] if self.kind == "array" else []

    @property
    def reads_chunk_prefixes(self) -> bool:
        if self.kind != "array" or not self._obj.chunks or self._value_kind in ("string", "reference"):
            return False
        from . import h5chunks

        with self.container.errors(self.uri):
            return h5chunks.reads_chunk_prefixes(self._obj, reader=self.container.reader)

    @property
    def fill_value(self) -> Any:
        if self.kind != "array":
            return None
        with self.container.errors(self.uri):
            return json_safe(self._obj.fillvalue)

    @property
    def stored_nbytes(self) -> int | None:
        if self.kind != "array":
            return None
        with self.container.errors(self.uri):
            return int(self._obj.id.get_storage_size())

    @property
    def attrs(self) -> dict[str, Any]:
        import h5py

        out: dict[str, Any] = {}
        with self.container.errors(self.uri):
            names = list(self._obj.attrs.keys())
        for key in names:
            try:
                value = self._obj.attrs[key]
            except Exception as e:  # an unsupported attribute type must not hide the others
                out[key] = f"<unreadable attribute: {type(e).__name__}>"
                continue
            if isinstance(value, h5py.Empty):
                value = None
            out[key] = json_safe(self._refs_to_paths(value))
        return out

    def _refs_to_paths(self, value: Any) -> Any:
        import h5py
        import numpy as np

        if isinstance(value, h5py.Reference | h5py.RegionReference) or (
                isinstance(value, np.ndarray | np.void) and _holds_refs(value.dtype)):
            return _refs_as_paths(value, self.container.resolve_ref)
        return value

    def children(self) -> Iterator[Node]:
        """The links of this group, in name order (named datatypes are ``kind="datatype"`` nodes).

        Names are data: a member called ``..`` or holding control characters is
        listed like any other, and one unreadable member never hides its siblings.
        """
        if self.kind != "group":
            return
        base = self.path.rstrip("/")
        with self.container.errors(self.uri):
            names = list(self._obj.keys())
        for name in names:
            path = f"{base}/{name}"
            try:
                with self.container.errors(self.container.node_uri(path)):
                    link = self._obj.get(name, getlink=True)
                    node = self.container.make_node(self._obj, name, path, link)
            except StorecoreError as e:
                node = BrokenNode(self.container, path, str(e))
            yield node

    def _read(self, selection: tuple, cache: bool = True) -> np.ndarray:
        # ``cache`` is about slice caches, which HDF5 containers do not keep: their decoded-chunk caches
        # (h5py's, storecore.containers.h5chunks') hold chunks that neighbouring reads need too.
        if self.kind != "array":
            return super()._read(selection)
        reader = self.container.reader
        if self._obj.chunks and self._value_kind not in ("string", "reference"):
            from . import h5chunks  # chunks fetched and decoded on a thread pool, outside h5py's lock

            with self.container.errors(self.uri):
                plan = h5chunks.plan(self._obj, selection, reader=reader)
                if plan.parallel:
                    return plan.read()
        if reader is not None and self._obj.chunks:
            with self.container.errors(self.uri):
                self._prefetch(reader, selection)
        try:
            return self._read_now(selection)
        finally:
            if reader is not None:
                reader.drop_prefetched()

    def _prefetch(self, reader: RemoteReader, selection: tuple) -> None:
        """Fetch the allocated chunks ``selection`` touches, concurrently, ahead of h5py."""
        chunks = self._obj.chunks
        per_axis = []
        for item, c in zip(selection, chunks, strict=True):
            if isinstance(item, int):
                per_axis.append([item // c])
            elif item.step >= c:
                per_axis.append(sorted({i // c for i in range(item.start, item.stop, item.step)}))
            else:
                per_axis.append(list(range(item.start // c, (item.stop - 1) // c + 1)))
        if math.prod(len(a) for a in per_axis) > PREFETCH_MAX_CHUNKS:
            return
        dsid = self._obj.id
        ranges = []
        for idx in itertools.product(*per_axis):
            info = dsid.get_chunk_info_by_coord(tuple(i * c for i, c in zip(idx, chunks, strict=True)))
            if info.byte_offset is not None and info.size:
                ranges.append((int(info.byte_offset), int(info.size)))
        reader.prefetch(ranges, math.prod(chunks) * self._obj.dtype.itemsize)

    def _read_now(self, selection: tuple) -> np.ndarray:
        import numpy as np

        try:
            with self.container.errors(self.uri):
                data = self._obj[selection]
        except CorruptData as e:
            if self._value_kind == "opaque":  # a tagged opaque type: HDF5 converts only to the same tag
                return self._read_opaque(selection)
            if self.layout == "external":
                return self._read_external(selection, e)
            missing = self.missing_filters()
            if missing:
                code, name = missing[0]
                raise MissingFilter(
                    f"{self.uri}: HDF5 filter {code} ({name}) is not available: install hdf5plugin",
                    path=self.uri, filter_id=code, filter_name=name,
                ) from e  # fmt: skip
            raise
        if self._is_str:
            return _decode_strings(data)
        if self._is_ref or (self._obj.dtype.names and _holds_refs(self._obj.dtype)):  # references (or fields): paths
            values = np.asarray(data, dtype=object) if self._is_ref else np.asarray(data)
            return np.asarray(_refs_as_paths(values, self.container.resolve_ref))
        return np.asarray(data)

    def _read_external(self, selection: tuple, error: CorruptData) -> np.ndarray:
        """``selection`` of a dataset kept in external raw files (``create_dataset(external=...)``) that HDF5 could
        not open: they are looked for beside this HDF5 file, where their writer put them (in the same folder or
        bucket: a remote file's raw files are read through its backend, by ranges).

        HDF5 looks for relative raw file names in the working folder of the process (unless each dataset is
        opened with an ``efile_prefix``, which HDF5 then refuses to mix with other openings of the same dataset in
        one process), so a file opened from anywhere else read as "corrupt"; a remote file's never read.  The raw
        bytes are the dataset's values in its own (file) type, row-major, segment after segment: numpy reads them
        as that type.
        """
        import numpy as np

        dset = self._obj
        plist = dset.id.get_create_plist()
        segments = [(os.fsdecode(name), offset, size) for name, offset, size in
                    (plist.get_external(i) for i in range(plist.get_external_count()))]  # fmt: skip
        if dset.dtype.hasobject:  # variable-length values hold heap addresses: only HDF5 can read them
            raise error
        here = self.container.location
        folder = self.container.backend.local_path(posixpath.dirname(here.path))
        need = dset.size * dset.dtype.itemsize
        if folder is not None and len(segments) == 1:  # one local raw file (the usual case): mapped, so a frame
            name, offset, size = segments[0]  # reads only that frame
            full = os.path.join(folder, name)  # an absolute name stays as it is
            if dset.shape and need and size >= need and os.path.isfile(full) and os.path.getsize(full) >= offset + need:
                mapped = np.memmap(full, dtype=dset.dtype, mode="r", offset=offset, shape=dset.shape)
                return np.array(mapped[selection])
        data = bytearray()
        for name, offset, size in segments:
            want = min(size, need - len(data))
            part = self._raw_part(folder, name, offset, want, error)
            data += part + bytes(want - len(part))  # past the end of a raw file HDF5 reads zeros: so do we
            if len(data) >= need:
                break
        return np.array(np.frombuffer(bytes(data), dtype=dset.dtype).reshape(dset.shape)[selection])

    def _raw_part(self, folder: str | None, name: str, offset: int, length: int, error: CorruptData) -> bytes:
        """Up to ``length`` bytes at ``offset`` of the external raw file ``name`` beside this HDF5 file."""
        here = self.container.location
        missing = CorruptData(f"{self.uri}: external raw data file {name} not found (neither in the working folder "
                              f"nor beside {here.name})", path=self.uri)  # fmt: skip
        if folder is not None:
            full = os.path.join(folder, name)
            if not os.path.isfile(full):
                raise missing from error
            with open(full, "rb") as raw:
                raw.seek(offset)
                return raw.read(length)
        key = None if posixpath.isabs(name) else key_beside(posixpath.dirname(here.path), name)
        if key is None:
            raise CorruptData(f"{self.uri}: external raw data file {name} is not beside {here.name} in its bucket",
                              path=self.uri) from error  # fmt: skip
        backend = self.container.backend
        try:
            size = backend.stat(key).size or 0
        except NotFound:
            raise missing from error
        return backend.read_bytes(key, offset, min(offset + length, size)) if offset < size and length else b""

    def _read_opaque(self, selection: tuple) -> np.ndarray:
        """``selection`` of an opaque dataset read as its own type: HDF5 has no conversion from an opaque type
        with a tag (C and Fortran writers name their blobs) to h5py's untagged one, but the bytes are the same."""
        import h5py
        import numpy as np
        from h5py._hl import selections  # h5py's own selection machinery: what Dataset.__getitem__ uses

        dset = self._obj
        with self.container.errors(self.uri):
            chosen = selections.select(dset.shape, selection, dset)
            out = np.empty(chosen.array_shape, dset.dtype)
            if out.size:
                mspace = h5py.h5s.create_simple(chosen.mshape) if chosen.mshape else h5py.h5s.create(h5py.h5s.SCALAR)
                dset.id.read(mspace, chosen.id, out, mtype=dset.id.get_type())
        return out

    def lazy(self) -> Any:
        """The ``h5py.Dataset`` or ``h5py.Group``."""
        return self._obj


class H5LinkNode(Node):
    """A soft link, external link or scalar object reference; metadata and data come from its target."""

    kind = "link"

    def __init__(self, container: HDF5Container, path: str, link_type: str, text: str | None, target: Any) -> None:
        super().__init__(container, path)
        self.container: HDF5Container = container
        self._type = link_type
        self._text = text
        self._target_spec = target
        self._resolved: Node | None = None
        self._error: str | None = None
        self._done = False

    @property
    def link_type(self) -> str | None:
        return self._type

    @property
    def link_target(self) -> str | None:
        return self._text

    def _resolve(self) -> Node | None:
        if self._done:
            return self._resolved
        self._done = True
        try:
            node = self._follow()
            hops = 0
            while isinstance(node, H5LinkNode) and hops < MAX_LINK_HOPS:
                node = node._follow()
                hops += 1
            if isinstance(node, H5LinkNode | BrokenNode):
                raise NotFound(f"{self.uri}: link chain does not end at a group or dataset", path=self.uri)
            self._resolved = node
        except StorecoreError as e:
            self._error = str(e)
        return self._resolved

    def _follow(self) -> Node:
        spec = self._target_spec
        if spec is None:
            raise NotFound(f"{self.uri}: null object reference", path=self.uri)
        if self._type != "external":
            return self.container.node(spec)
        filename, inner = spec
        target = self._external_location(filename).with_inner(inner)
        from .opening import open_container

        node = open_container(str(target))
        self.container._linked.append(node.container)
        return node

    def _external_location(self, filename: str) -> Location:
        here = self.container.location
        if "://" in filename:
            return Location.parse(filename)
        if filename.startswith("/"):
            if not here.is_local:
                raise NotFound(f"{self.uri}: external link to a local path {filename!r}", path=self.uri)
            return Location.parse(filename)
        # HDF5 resolves a relative name against the linking file's folder, ".." included (a scan file's
        # "../detector/lima_0000.h5"): normalised here, as a path, not joined as a key (which refuses "..")
        folder = posixpath.dirname(here.path)
        if here.is_local:
            return Location.parse(os.path.normpath(os.path.join(folder, filename)))
        key = key_beside(folder, filename)
        if key is None:
            raise NotFound(f"{self.uri}: external link to {filename!r} leads out of the bucket", path=self.uri)
        return Location(here.scheme, here.bucket, key)

    @property
    def broken(self) -> bool:
        return self._resolve() is None

    @property
    def error(self) -> str | None:
        """Why the link is broken (``None`` when it resolves)."""
        self._resolve()
        return self._error

    def target(self) -> Node:
        """The group or dataset the link leads to; ``NotFound`` when the link is broken."""
        node = self._resolve()
        if node is None:
            raise NotFound(self._error or f"{self.uri}: broken link", path=self.uri)
        return node

    def _delegate(self, name: str, default: Any = None) -> Any:
        node = self._resolve()
        return getattr(node, name) if node is not None else default

    @property
    def shape(self) -> tuple[int, ...] | None:
        return self._delegate("shape")

    @property
    def dtype(self) -> np.dtype | None:
        return self._delegate("dtype")

    @property
    def chunks(self) -> tuple[int, ...] | None:
        return self._delegate("chunks")

    @property
    def layout(self) -> str | None:
        return self._delegate("layout")

    @property
    def compressor(self) -> str | None:
        return self._delegate("compressor")

    @property
    def filters(self) -> list[str]:
        return self._delegate("filters", [])

    @property
    def reads_chunk_prefixes(self) -> bool:
        return bool(self._delegate("reads_chunk_prefixes", False))

    @property
    def fill_value(self) -> Any:
        return self._delegate("fill_value")

    @property
    def stored_nbytes(self) -> int | None:
        return self._delegate("stored_nbytes")

    @property
    def attrs(self) -> dict[str, Any]:
        return self._delegate("attrs", {})

    def children(self) -> Iterator[Node]:
        """The children of the target group (empty when broken or not a group)."""
        node = self._resolve()
        return node.children() if node is not None else iter(())

    def _read(self, selection: tuple, cache: bool = True) -> np.ndarray:
        return self.target()._read(selection, cache)

    def lazy(self) -> Any:
        return self._delegate("lazy", lambda: None)()
