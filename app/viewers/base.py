"""What the viewers share: the resolved selection (:class:`Target`), :func:`classify`, and the :class:`Viewer` base.

:func:`classify` runs on a worker: it resolves a URI into a :class:`Target`
(folder, bucket, table dataset, file, container group or array) with the
little metadata viewers need to rank themselves.  Each viewer class answers
:meth:`Viewer.priority` (0 = cannot show it); :mod:`.registry` picks the best.
Viewers import this module, never the registry or the pane.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from storecore.detect import ZARR_MARKERS

from .budget import Budget

log = logging.getLogger(__name__)

TABLE_EXTS = {".parquet", ".pq", ".csv", ".tsv", ".arrow", ".feather", ".ipc"}
TEXT_EXTS = {
    ".txt", ".md", ".rst", ".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".csv", ".tsv", ".html", ".htm",
    ".xml", ".log", ".ini", ".toml", ".cfg", ".py", ".sh", ".js", ".css", ".c", ".h", ".cpp", ".rs", ".go",
}  # fmt: skip
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}
ARRAY_FILE_EXTS = {".npy", ".npz"}


@dataclass
class Target:
    """A resolved selection: where it is, what kind it is, and cheap metadata for ranking viewers.

    ``kind`` is one of ``bucket``, ``folder``, ``dataset`` (a folder of table
    files), ``file``, ``group`` or ``array`` (container nodes).
    """

    uri: str
    location: Any
    backend: Any
    kind: str
    entry: Any = None
    node: Any = None
    ext: str = ""
    first_page: list = field(default_factory=list)
    note: str = ""
    #: dtype of a ``.npy`` file (from its header), for ranking viewers
    npy_dtype: Any = None

    @property
    def size(self) -> int | None:
        """Object size in bytes (files), else None."""
        return getattr(self.entry, "size", None)

    @property
    def name(self) -> str:
        """Display name (inner node name for container paths)."""
        if self.location.inner:
            return posixpath.basename(self.location.inner.rstrip("/")) or "/"
        return self.location.name or self.location.bucket or "/"

    @property
    def value_kind(self) -> str:
        """What an array's values are (``numeric``, ``string``, ``compound``…; see storecore.containers.values)."""
        if self.npy_dtype is not None:
            from storecore.containers.values import value_kind_of_dtype

            return value_kind_of_dtype(self.npy_dtype)
        return getattr(self.node, "value_kind", "") if self.kind == "array" else ""

    @property
    def is_plottable(self) -> bool:
        """True for arrays whose values a plot can show (numbers, booleans, enums)."""
        from storecore.containers.values import is_plottable

        return is_plottable(self.value_kind) if self.kind == "array" or self.npy_dtype is not None else False

    @property
    def is_structured(self) -> bool:
        """True for arrays read better as rows of text: records, strings, references, sequences."""
        if self.npy_dtype is not None:  # (strings and times of a .npy read as a container's do: as a table)
            return self.npy_dtype.names is not None or not self.is_plottable
        node = self.node
        if self.kind != "array" or node is None or node.shape in (None, ()):
            return False
        return node.dtype is not None and (node.dtype.names is not None or not self.is_plottable)


def _containers() -> Any:
    """The containers module, or None while it has not landed."""
    try:
        from storecore import containers
    except ImportError:
        return None
    return containers if hasattr(containers, "open_container") else None


def classify(uri: str) -> Target:
    """Resolve ``uri`` into a :class:`Target` (runs on a worker; raises storecore errors)."""
    from storecore import backend_for

    backend, loc = backend_for(uri)
    uri = str(loc)
    if loc.inner:
        containers = _containers()
        if containers is None:
            from storecore.errors import MissingDependency

            raise MissingDependency(f"{uri}: container support is not available", path=uri)
        node = containers.open_container(uri)
        note = ""
        if node.kind == "link":
            note = f"link → {node.link_target}" + (" (broken)" if node.broken else "")
            if not node.broken:
                node = node.target()
        kind = "array" if node.kind == "array" else "group"
        return Target(uri, loc, backend, kind, node=node, ext=posixpath.splitext(loc.path)[1].lower(), note=note)
    if not loc.path.strip("/"):
        entry = backend.stat(loc.path)
        return Target(uri, loc, backend, "bucket" if loc.bucket else "folder", entry=entry, first_page=_first_page(backend, loc))
    entry = backend.stat(loc.path)
    ext = posixpath.splitext(loc.path.rstrip("/"))[1].lower()
    if entry.is_dir:
        page = _first_page(backend, loc)
        if ext == ".zarr" or any(e.name in ZARR_MARKERS for e in page):  # a Zarr store, whatever its name
            target = _open_container_target(uri, loc, backend, entry, ext)
            if target is not None:
                return target
        files = [e for e in page if not e.is_dir and not e.name.startswith(("_", "."))]
        dirs = [e for e in page if e.is_dir]
        is_dataset = bool(files) and not dirs and all(posixpath.splitext(e.name)[1].lower() in TABLE_EXTS - {".csv", ".tsv"} for e in files)
        return Target(uri, loc, backend, "dataset" if is_dataset else "folder", entry=entry, ext=ext, first_page=page)
    if _looks_like_container(uri, ext):
        target = _open_container_target(uri, loc, backend, entry, ext)
        if target is not None:
            return target
    target = Target(uri, loc, backend, "file", entry=entry, ext=ext)
    if ext == ".npy":
        target.npy_dtype = _npy_dtype(backend, loc.path)
    return target


def _looks_like_container(uri: str, ext: str) -> bool:
    """True for files storecore.detect names as HDF5, or whose first bytes say HDF5 (any extension)."""
    from storecore.detect import detect_format, format_by_name

    if format_by_name(uri) is not None:
        return True
    if ext in TABLE_EXTS or ext in TEXT_EXTS or ext in IMAGE_EXTS or ext in ARRAY_FILE_EXTS:
        return False
    try:
        return detect_format(uri) == "hdf5"
    except Exception as e:  # noqa: BLE001 - HDF4 and the like: the container open below says why
        log.debug("format detection failed for %s: %s", uri, e)
        return True


def _npy_dtype(backend: Any, path: str) -> Any:
    """The dtype in a ``.npy`` header (one small read), or None when it cannot be parsed."""
    from numpy.lib import format as npformat

    try:
        with backend.open(path, "rb") as f:
            version = npformat.read_magic(f)
            header = npformat.read_array_header_1_0(f) if version == (1, 0) else npformat.read_array_header_2_0(f)
        return header[2]
    except Exception as e:  # noqa: BLE001 - the array viewer reports a broken file properly
        log.debug("unreadable .npy header in %s: %s", path, e)
        return None


def _open_container_target(uri: str, loc: Any, backend: Any, entry: Any, ext: str) -> Target | None:
    containers = _containers()
    if containers is None:
        return None
    try:
        node = containers.open_container(uri)
    except Exception as e:  # noqa: BLE001 - a broken container is still a file/folder to look at
        kind = "folder" if entry.is_dir else "file"
        return Target(uri, loc, backend, kind, entry=entry, ext=ext, note=f"not readable as a container: {e}",
                      first_page=_first_page(backend, loc) if entry.is_dir else [])  # fmt: skip
    kind = "array" if node.kind == "array" else "group"
    return Target(uri, loc, backend, kind, entry=entry, node=node, ext=ext)


def _first_page(backend: Any, loc: Any, limit: int = 1000) -> list:
    """The first listing page of a folder (one request on S3): enough for a summary and a dataset check."""
    for page in backend.ls_pages(loc.path):
        return list(page[:limit])
    return []


def has_default_plot(target: Target) -> bool:
    """True for a container group (file, NXentry, NXdata) that leads to a NeXus plot (worker: may list groups)."""
    if target.kind != "group" or target.node is None:
        return False
    try:
        from storecore.containers import nexus

        return nexus.has_default_plot(target.node)
    except Exception as e:  # noqa: BLE001 - no plot, then
        log.debug("no NeXus default plot for %s: %s", target.uri, e)
        return False


class Viewer(QWidget):
    """Base of the pane's viewers.

    ``prepare`` runs on a worker (no Qt there) and returns a payload that
    ``display`` puts on screen; ``ready`` is emitted once the first pixels are
    shown (viewers that load more afterwards emit it after their first paint).
    """

    #: emitted once the preview is on screen (also after an error message)
    ready = Signal()
    #: status text for the pane's status line
    status = Signal(str)
    #: the user asked to load past the size guard (the pane re-prepares with no budget)
    load_full = Signal()
    #: show the current selection with the viewer class of this name (the pane switches, as "View as")
    view_as_requested = Signal(str)
    #: preview this URI in the pane instead of the current selection
    show_requested = Signal(str)
    title = "Viewer"
    #: the pane may build this viewer in short steps: ``cls(build_now=False)``, then :meth:`build_step` until True
    STEPWISE = False

    @classmethod
    def preload(cls) -> None:
        """Import the heavy modules this viewer's widget needs (worker thread: the pane's warm-up calls it)."""

    def build_step(self) -> bool:
        """Run the next construction step of a viewer made with ``build_now=False``; True once it is complete."""
        return True

    @classmethod
    def priority(cls, target: Target) -> int:
        """How well this viewer fits ``target``: 0 = cannot show it; the highest wins."""
        return 0

    @classmethod
    def prepare(cls, target: Target, budget: Budget, token: Any) -> Any:
        """Read what ``display`` needs, within ``budget`` (worker thread)."""
        return target

    def display(self, payload: Any) -> None:
        """Show ``payload`` (GUI thread); emit ``ready`` once on screen."""
        self.ready.emit()

    def stop(self) -> None:
        """Cancel in-flight work (another selection is coming)."""
