"""The mounts tree: one lazy item model over storecore for every backend, containers included.

Top-level rows are mounts; below them folders, files, buckets/prefixes and —
for ``.zarr``/``.h5`` entries — the groups and arrays inside the container.
Children are listed on worker threads (:mod:`app.workers`) when a row is
expanded (``canFetchMore``/``fetchMore``) and inserted page by page, so a
prefix with 100,000 keys shows rows after its first page and the window stays
responsive while the rest streams in.  Errors become text in the row (and an
``error`` signal for the status bar), never an exception in the GUI thread.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QMimeData, QModelIndex, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication

from .. import workers
from ..mounts import CONTAINER_EXTENSIONS, MountSpec

URI_MIME = "application/x-storescope-uris"
URI_ROLE = Qt.ItemDataRole.UserRole + 1
KIND_ROLE = Qt.ItemDataRole.UserRole + 2
COLUMNS = ("Name", "Size", "Modified", "Kind")
NAME, SIZE, MODIFIED, KIND = range(4)
CONTAINER_PAGE = 500

IDLE, LOADING, DONE, ERROR = "idle", "loading", "done", "error"
#: node kinds that accept drops (copy/move into them)
DROP_KINDS = {"mount", "folder", "container", "group"}

_FILE_KINDS = {
    ".parquet": ("table", "Parquet table"),
    ".pq": ("table", "Parquet table"),
    ".csv": ("table", "CSV table"),
    ".tsv": ("table", "TSV table"),
    ".arrow": ("table", "Arrow table"),
    ".feather": ("table", "Feather table"),
    ".json": ("text", "JSON"),
    ".jsonl": ("text", "JSON lines"),
    ".yaml": ("text", "YAML"),
    ".yml": ("text", "YAML"),
    ".txt": ("text", "Text"),
    ".md": ("text", "Markdown"),
    ".html": ("text", "HTML"),
    ".py": ("text", "Python source"),
    ".png": ("image", "PNG image"),
    ".jpg": ("image", "JPEG image"),
    ".jpeg": ("image", "JPEG image"),
    ".tif": ("image", "TIFF image"),
    ".tiff": ("image", "TIFF image"),
    ".npy": ("array", "NumPy array"),
    ".npz": ("array", "NumPy archive"),
    ".pkl": ("file", "Pickle"),
}


def human_size(n: int | None) -> str:
    """``1536`` → ``1.5 KiB``; ``None`` → ``""``."""
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def human_time(ts: float | None) -> str:
    """POSIX seconds → local ``YYYY-MM-DD HH:MM``."""
    if ts is None:
        return ""
    try:
        return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return ""


def is_container_name(name: str) -> bool:
    """True for names that open as containers (``.zarr``, ``.h5``, ``.hdf5``, ``.nc``, ``.he5``)."""
    return name.rstrip("/").lower().endswith(CONTAINER_EXTENSIONS)


class TreeNode:
    """One row: a mount, folder, file, container, group, array or link."""

    __slots__ = (
        "parent", "children", "row", "uri", "name", "kind", "icon", "size", "mtime",
        "size_text", "time_text", "kind_text", "tooltip", "expandable", "is_dir", "state",
        "error", "task", "spec", "loaded_count", "filter", "all_children",
    )

    def __init__(
        self,
        uri: str,
        name: str,
        kind: str,
        *,
        icon: str | None = None,
        size: int | None = None,
        mtime: float | None = None,
        kind_text: str = "",
        expandable: bool = False,
        is_dir: bool = False,
        tooltip: str = "",
    ) -> None:
        self.parent: TreeNode | None = None
        self.children: list[TreeNode] = []
        self.row = 0
        self.uri, self.name, self.kind = uri, name, kind
        self.icon = icon or kind
        self.size, self.mtime = size, mtime
        self.size_text = human_size(size)
        self.time_text = human_time(mtime)
        self.kind_text = kind_text
        self.tooltip = tooltip
        self.expandable, self.is_dir = expandable, is_dir
        self.state = IDLE
        self.error = ""
        self.task: workers.Task | None = None
        self.spec: MountSpec | None = None
        self.loaded_count = 0
        self.filter = ""
        #: every loaded child while a name filter hides some (``children`` holds the visible ones)
        self.all_children: list[TreeNode] | None = None

    def everything(self) -> list[TreeNode]:
        """All loaded children, including those hidden by a filter."""
        return self.all_children if self.all_children is not None else self.children

    def __repr__(self) -> str:
        return f"<TreeNode {self.kind} {self.uri}>"


# -- listing (worker side, no Qt) --------------------------------------------------
def entry_node(backend: Any, entry: Any) -> TreeNode:
    """A tree node for a storecore ``Entry`` of ``backend``."""
    uri = backend.uri(entry.path)
    lower = entry.name.lower()
    if is_container_name(lower):
        icon = "zarr" if lower.endswith(".zarr") else "hdf5"
        text = "Zarr store" if icon == "zarr" else "HDF5 file"
        return TreeNode(uri, entry.name, "container", icon=icon, size=entry.size, mtime=entry.mtime,
                        kind_text=text, expandable=True, is_dir=entry.is_dir)
    if entry.is_dir:
        return TreeNode(uri, entry.name, "folder", size=None, mtime=entry.mtime, kind_text="Folder",
                        expandable=True, is_dir=True)
    ext = "." + lower.rsplit(".", 1)[-1] if "." in lower else ""
    icon, text = _FILE_KINDS.get(ext, ("file", f"{ext[1:].upper()} file" if ext else "File"))
    return TreeNode(uri, entry.name, "file", icon=icon, size=entry.size, mtime=entry.mtime, kind_text=text)


def shape_text(shape: Iterable[int] | None) -> str:
    """``(3, 4)`` → ``3×4``; scalars → ``scalar``."""
    if shape is None:
        return ""
    shape = tuple(shape)
    return "×".join(str(int(s)) for s in shape) if shape else "scalar"


def container_node(cnode: Any) -> TreeNode:
    """A tree node for a storecore container ``Node`` (group, array or link)."""
    kind = getattr(cnode, "kind", "group")
    if kind == "array":
        dtype = getattr(cnode, "dtype", None)
        text = f"array {shape_text(getattr(cnode, 'shape', None))} {dtype if dtype is not None else ''}".strip()
        stored = getattr(cnode, "stored_nbytes", None)
        size = stored if stored is not None else getattr(cnode, "nbytes", None)
        chunks = getattr(cnode, "chunks", None)
        tip = f"{cnode.uri}\nshape {shape_text(cnode.shape)}, dtype {dtype}" + (
            f", chunks {shape_text(chunks)}" if chunks else "")
        return TreeNode(cnode.uri, cnode.name, "array", size=size, kind_text=text, tooltip=tip)
    if kind == "link":
        target = getattr(cnode, "link_target", None) or "?"
        broken = bool(getattr(cnode, "broken", False))
        text = f"{'broken link' if broken else 'link'} → {target}"
        return TreeNode(cnode.uri, cnode.name, "link", icon="broken" if broken else "link", kind_text=text)
    attrs = getattr(cnode, "attrs", None) or {}
    text = "group" + (f" ({len(attrs)} attributes)" if attrs else "")
    return TreeNode(cnode.uri, cnode.name or "/", "group", kind_text=text, expandable=True, is_dir=True)


def _open_container(uri: str) -> Any:
    try:
        import storecore

        opener = storecore.open_container
    except (ImportError, AttributeError) as e:
        raise NotImplementedError(
            "browsing inside Zarr/HDF5 containers needs storecore.open_container, which this build lacks"
        ) from e
    return opener(uri)


def list_pages(uri: str, mode: str, token: workers.CancelToken | None = None) -> Iterable[list[TreeNode]]:
    """Yield pages of child nodes of ``uri`` (``mode`` is ``"dir"`` or ``"container"``); runs on a worker."""
    if mode == "container":
        try:
            root = _open_container(uri)
        except Exception:
            import storecore

            backend, loc = storecore.backend_for(uri)
            # A folder named *.zarr that is not a Zarr store still browses as a folder.
            if loc.inner is None and backend.is_dir(loc.path):
                yield from list_pages(uri, "dir", token)
                return
            raise
        try:
            page: list[TreeNode] = []
            for child in root.children():
                if token is not None and token.cancelled:
                    return
                page.append(container_node(child))
                if len(page) >= CONTAINER_PAGE:
                    yield page
                    page = []
            if page:
                yield page
        finally:
            close = getattr(root, "close", None)
            if close is not None:
                close()
        return
    import storecore

    backend, loc = storecore.backend_for(uri)
    for entries in backend.ls_pages(loc.path):
        if token is not None and token.cancelled:
            return
        yield [entry_node(backend, e) for e in entries]


def listing_mode(node: TreeNode) -> str:
    """How ``node``'s children are listed: ``"container"`` (open_container) or ``"dir"`` (backend ls)."""
    if node.kind in ("container", "group"):
        return "container"
    if node.kind == "mount" and node.spec is not None and node.spec.kind in ("zarr", "hdf5"):
        return "container"
    return "dir"


def name_matches(name: str, text: str) -> bool:
    """Filter-box matching: a glob when ``text`` has wildcards, else a case-insensitive substring."""
    if not text:
        return True
    if any(c in text for c in "*?["):
        import fnmatch

        return fnmatch.fnmatch(name.lower(), text.lower())
    return text.lower() in name.lower()


def is_ancestor_uri(ancestor: str, uri: str) -> bool:
    """True when ``uri`` is ``ancestor`` or lies below it (folders, keys or inner container paths)."""
    if uri == ancestor:
        return True
    base = ancestor.rstrip("/")
    return uri.startswith(base + "/") or (uri.startswith(ancestor + "::") and "::" not in ancestor)


class MountsModel(QAbstractItemModel):
    """The lazy tree of mounts (see the module docstring).

    Signals: ``error(uri, message)`` when a listing fails; ``fetch_started(uri)``,
    ``page_loaded(uri, count)`` and ``fetch_finished(uri)`` while listings run;
    ``transfer_requested(src_uris, dst_uri, op)`` on a drop onto a folder row;
    ``mount_requested(uris)`` on a drop of OS files onto empty space.
    """

    error = Signal(str, str)
    fetch_started = Signal(str)
    page_loaded = Signal(str, int)
    fetch_finished = Signal(str)
    busy_changed = Signal(bool)
    transfer_requested = Signal(list, str, str)
    mount_requested = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root = TreeNode("", "", "root", expandable=True)
        self.root.state = DONE
        self._loading: set[TreeNode] = set()
        self._sort: tuple[int, Qt.SortOrder] | None = (NAME, Qt.SortOrder.AscendingOrder)

    # -- mounts ---------------------------------------------------------------
    def add_mount(self, spec: MountSpec, uri: str | None = None) -> QModelIndex:
        """Append a mount row for ``spec`` (its root is ``uri`` or ``spec.uri``)."""
        uri = uri or spec.uri
        text = {"local": "Local folder", "s3": "S3", "zarr": "Zarr store", "hdf5": "HDF5 file"}.get(spec.kind, spec.kind)
        if spec.kind == "s3":
            text = f"S3 · {spec.endpoint_url}" if spec.endpoint_url else "S3 · AWS"
        icon = {"local": "mount-local", "s3": "mount-s3", "zarr": "zarr", "hdf5": "hdf5"}.get(spec.kind, "folder")
        node = TreeNode(uri, spec.name, "mount", icon=icon, kind_text=text, expandable=True, is_dir=True,
                        tooltip=uri)
        node.spec = spec
        if getattr(spec, "missing_keys", False):
            node.state = ERROR
            node.error = "access keys were not saved: use Mounts ▸ Edit mount… to enter them"
        row = len(self.root.children)
        self.beginInsertRows(QModelIndex(), row, row)
        node.parent, node.row = self.root, row
        self.root.children.append(node)
        self.endInsertRows()
        return self.createIndex(row, 0, node)

    def mounts(self) -> list[MountSpec]:
        """The specs of the mounted roots, in tree order."""
        return [n.spec for n in self.root.children if n.spec is not None]

    def mount_nodes(self) -> list[TreeNode]:
        """The top-level mount rows."""
        return list(self.root.children)

    def remove_mount(self, index: QModelIndex) -> MountSpec | None:
        """Unmount the mount row ``index`` (or the mount containing it); return its spec."""
        node = self.node(index)
        while node is not None and node.parent is not self.root:
            node = node.parent
        if node is None or node is self.root:
            return None
        self._cancel_below(node)
        row = node.row
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.root.children[row]
        self._renumber(self.root, row)
        self.endRemoveRows()
        return node.spec

    def rename_mount(self, index: QModelIndex, name: str) -> None:
        """Give a mount row a new display name."""
        node = self.node(index)
        if node is None or node.kind != "mount" or not name.strip():
            return
        node.name = name.strip()
        if node.spec is not None:
            node.spec.name = node.name
        self.dataChanged.emit(index, index.siblingAtColumn(KIND))

    # -- node access ---------------------------------------------------------
    def node(self, index: QModelIndex) -> TreeNode | None:
        """The node behind ``index`` (``None`` for the invisible root)."""
        if not index.isValid():
            return None
        return index.internalPointer()

    def _node_or_root(self, index: QModelIndex) -> TreeNode:
        return index.internalPointer() if index.isValid() else self.root

    def index_of(self, node: TreeNode, column: int = 0) -> QModelIndex:
        """The index of ``node`` (invalid for the root)."""
        if node is self.root or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.row, column, node)

    def uri(self, index: QModelIndex) -> str:
        """The URI of the row at ``index`` (``""`` for the root)."""
        node = self.node(index)
        return node.uri if node is not None else ""

    def locate(self, uri: str) -> tuple[TreeNode | None, bool]:
        """The deepest loaded node on the way to ``uri`` and whether it *is* ``uri``."""
        best: TreeNode | None = None
        for mount in self.root.children:
            if is_ancestor_uri(mount.uri, uri) and (best is None or len(mount.uri) > len(best.uri)):
                best = mount
        if best is None:
            return None, False
        node = best
        while node.uri != uri:
            nxt = None
            for child in node.children:
                if is_ancestor_uri(child.uri, uri):
                    nxt = child
                    break
            if nxt is None:
                return node, False
            node = nxt
        return node, True

    def find_loaded(self, uri: str) -> TreeNode | None:
        """The loaded node whose URI is exactly ``uri``, if any."""
        node, exact = self.locate(uri)
        return node if exact else None

    @property
    def busy(self) -> bool:
        """True while any listing is running."""
        return bool(self._loading)

    # -- Qt model API ----------------------------------------------------------
    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        node = self._node_or_root(parent)
        if 0 <= row < len(node.children) and 0 <= column < len(COLUMNS):
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        node: TreeNode = index.internalPointer()
        parent = node.parent
        if parent is None or parent is self.root:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._node_or_root(parent).children)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def hasChildren(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return False
        node = self._node_or_root(parent)
        if node.children:
            return True
        return node.expandable and node.state in (IDLE, LOADING)

    def canFetchMore(self, parent: QModelIndex) -> bool:
        if not parent.isValid():
            return False
        node: TreeNode = parent.internalPointer()
        return node.expandable and node.state == IDLE

    def fetchMore(self, parent: QModelIndex) -> None:
        if not parent.isValid():
            return
        node: TreeNode = parent.internalPointer()
        if node.expandable and node.state == IDLE:
            self._start_fetch(node)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: TreeNode = index.internalPointer()
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole or role == Qt.ItemDataRole.EditRole:
            if col == NAME:
                return node.name
            if col == SIZE:
                return node.size_text
            if col == MODIFIED:
                return node.time_text
            if node.state == ERROR:
                return f"⚠ {node.error}"
            if node.state == LOADING:
                return f"loading… {node.loaded_count:,} so far" if node.loaded_count else "loading…"
            return node.kind_text
        if role == Qt.ItemDataRole.DecorationRole and col == NAME:
            from ..icons import icon

            return icon("error" if node.state == ERROR else node.icon)
        if role == Qt.ItemDataRole.ToolTipRole:
            if node.state == ERROR:
                return f"{node.uri}\n{node.error}"
            return node.tooltip or node.uri
        if role == Qt.ItemDataRole.ForegroundRole and col == KIND and node.state == ERROR:
            return QBrush(QColor(190, 30, 30))
        if role == Qt.ItemDataRole.TextAlignmentRole and col == SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == URI_ROLE:
            return node.uri
        if role == KIND_ROLE:
            return node.kind
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        node: TreeNode = index.internalPointer()
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        if node.kind in DROP_KINDS:
            flags |= Qt.ItemFlag.ItemIsDropEnabled
        if not node.expandable:
            flags |= Qt.ItemFlag.ItemNeverHasChildren
        return flags

    # -- loading ---------------------------------------------------------------
    def _start_fetch(self, node: TreeNode) -> None:
        node.state = LOADING
        node.loaded_count = 0
        node.error = ""
        was_busy = self.busy
        self._loading.add(node)
        self._changed(node)
        uri, mode = node.uri, listing_mode(node)
        box: list[workers.Task] = []
        ready = threading.Event()

        def run(token: workers.CancelToken) -> int:
            ready.wait(5)
            task = box[0]
            n = 0
            for page in list_pages(uri, mode, token):
                if token.cancelled:
                    break
                n += len(page)
                task.report(page)
            return n

        task = workers.submit(
            run,
            with_token=True,
            on_progress=lambda page, n=node: self._on_page(n, page),
            on_done=lambda _r, n=node: self._on_done(n),
            on_error=lambda msg, exc, n=node: self._on_error(n, msg, exc),
        )
        node.task = task
        box.append(task)
        ready.set()
        self.fetch_started.emit(uri)
        if not was_busy:
            self.busy_changed.emit(True)

    def _attached(self, node: TreeNode) -> bool:
        """True while ``node`` is still in the tree (not unmounted or refreshed away)."""
        while node.parent is not None:
            parent = node.parent
            if node.row >= len(parent.children) or parent.children[node.row] is not node:
                return False
            node = parent
        return node is self.root

    def _on_page(self, node: TreeNode, page: list[TreeNode]) -> None:
        if node.state != LOADING or not page or not self._attached(node):
            return
        for child in page:
            child.parent = node
        if node.all_children is not None:
            node.all_children.extend(page)
            page = [c for c in page if name_matches(c.name, node.filter)]
        if page:
            first = len(node.children)
            self.beginInsertRows(self.index_of(node), first, first + len(page) - 1)
            for i, child in enumerate(page, first):
                child.row = i
            node.children.extend(page)
            self.endInsertRows()
        node.loaded_count = len(node.everything())
        self._changed(node, KIND)
        self.page_loaded.emit(node.uri, node.loaded_count)

    def _finish(self, node: TreeNode) -> None:
        node.task = None
        self._loading.discard(node)
        if not self._loading:
            self.busy_changed.emit(False)

    def _on_done(self, node: TreeNode) -> None:
        if node.state != LOADING:
            return
        node.state = DONE
        self._finish(node)
        if self._attached(node):
            self._sort_children(node)
            self._changed(node)
            if not node.children:
                # No expand arrow any more for an empty folder.
                idx = self.index_of(node)
                self.dataChanged.emit(idx, idx)
        self.fetch_finished.emit(node.uri)

    def _on_error(self, node: TreeNode, message: str, exc: BaseException) -> None:
        if node.state != LOADING:
            return
        node.state = ERROR
        node.error = message
        self._finish(node)
        if self._attached(node):
            self._changed(node)
        self.error.emit(node.uri, message)
        self.fetch_finished.emit(node.uri)

    def _changed(self, node: TreeNode, first: int = NAME, last: int = KIND) -> None:
        if node is self.root or node.parent is None:
            return
        self.dataChanged.emit(self.createIndex(node.row, first, node), self.createIndex(node.row, last, node))

    def _cancel_below(self, node: TreeNode) -> None:
        stack = [node]
        while stack:
            n = stack.pop()
            n.filter, n.all_children = "", None
            if n.task is not None:
                n.task.cancel()
                n.task = None
            if n in self._loading:
                self._loading.discard(n)
                if not self._loading:
                    self.busy_changed.emit(False)
            n.state = IDLE if n.state == LOADING else n.state
            stack.extend(n.children)

    def refresh(self, index: QModelIndex) -> None:
        """Drop the children of ``index`` and list them again (re-tries errors too)."""
        node = self._node_or_root(index)
        if node is self.root:
            for mount in list(self.root.children):
                self.refresh(self.index_of(mount))
            return
        if not node.expandable:
            node = node.parent or self.root
            return self.refresh(self.index_of(node)) if node is not self.root else None
        was_loaded = node.state != IDLE or node.children
        self._cancel_below(node)
        if node.children:
            self.beginRemoveRows(self.index_of(node), 0, len(node.children) - 1)
            node.children = []
            self.endRemoveRows()
        node.children, node.all_children, node.filter = [], None, ""
        node.state = IDLE
        node.error = ""
        self._changed(node)
        if was_loaded:
            self._start_fetch(node)

    def refresh_uri(self, uri: str) -> None:
        """Refresh the loaded node of ``uri`` (or its nearest loaded ancestor folder)."""
        node, _exact = self.locate(uri)
        while node is not None and not node.expandable:
            node = node.parent
        if node is not None and node is not self.root and node.state != IDLE:
            self.refresh(self.index_of(node))

    # -- sorting ---------------------------------------------------------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort every loaded level (folders first), keeping persistent indexes valid."""
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        nodes = [(i.internalPointer(), i.column()) for i in persistent]
        stack = [self.root]
        while stack:
            n = stack.pop()
            self._sort_list(n)
            stack.extend(c for c in n.everything() if c.everything())
        self.changePersistentIndexList(
            persistent, [self.createIndex(n.row, c, n) if n is not None else QModelIndex() for n, c in nodes]
        )
        self.layoutChanged.emit()

    def _sort_key(self, column: int) -> Any:
        if column == SIZE:
            return lambda n: (not n.is_dir, n.size if n.size is not None else -1, n.name.lower())
        if column == MODIFIED:
            return lambda n: (not n.is_dir, n.mtime or 0.0, n.name.lower())
        if column == KIND:
            return lambda n: (not n.is_dir, n.kind_text.lower(), n.name.lower())
        return lambda n: (not n.is_dir, n.name.lower())

    def _sort_list(self, node: TreeNode) -> bool:
        if node is self.root or self._sort is None or len(node.everything()) < 2:
            return False
        column, order = self._sort
        before = node.children
        key = self._sort_key(column)
        reverse = order == Qt.SortOrder.DescendingOrder
        if node.all_children is not None:
            node.all_children.sort(key=key, reverse=reverse)
            after = [c for c in node.all_children if name_matches(c.name, node.filter)]
        else:
            after = sorted(before, key=key, reverse=reverse)
        if all(a is b for a, b in zip(before, after, strict=True)):
            return False
        node.children = after
        for i, child in enumerate(after):
            child.row = i
        return True

    def _sort_children(self, node: TreeNode) -> None:
        """Sort one freshly loaded level in the current order (rows arrive in listing order)."""
        if self._sort is None or len(node.children) < 2:
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        moved = [(i, i.internalPointer(), i.column()) for i in persistent if i.internalPointer().parent is node]
        if self._sort_list(node):
            self.changePersistentIndexList(
                [m[0] for m in moved], [self.createIndex(n.row, c, n) for _i, n, c in moved]
            )
        self.layoutChanged.emit()

    @staticmethod
    def _renumber(node: TreeNode, start: int = 0) -> None:
        for i in range(start, len(node.children)):
            node.children[i].row = i

    def remove_node(self, node: TreeNode) -> None:
        """Take one (deleted or renamed) row out of the tree."""
        parent = node.parent
        if parent is None or not self._attached(node):
            return
        self._cancel_below(node)
        row = node.row
        self.beginRemoveRows(self.index_of(parent), row, row)
        del parent.children[row]
        if parent.all_children is not None and node in parent.all_children:
            parent.all_children.remove(node)
        self._renumber(parent, row)
        self.endRemoveRows()

    # -- filtering ---------------------------------------------------------------
    def set_filter(self, index: QModelIndex, text: str) -> None:
        """Show only the children of ``index`` whose names match ``text`` (empty: show all)."""
        node = self.node(index)
        if node is None or not node.expandable or text == node.filter:
            return
        full = node.everything()
        visible = full if not text else [c for c in full if name_matches(c.name, text)]
        parent_index = self.index_of(node)
        if node.children:
            self.beginRemoveRows(parent_index, 0, len(node.children) - 1)
            node.children = []
            self.endRemoveRows()
        node.filter = text
        node.all_children = list(full) if text else None
        if visible:
            self.beginInsertRows(parent_index, 0, len(visible) - 1)
            node.children = list(visible)
            self._renumber(node)
            self.endInsertRows()

    # -- drag and drop -----------------------------------------------------------
    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        # Moves are decided by Shift at drop time and done by the transfer queue, never by the view.
        return Qt.DropAction.CopyAction

    def mimeTypes(self) -> list[str]:
        return [URI_MIME, "text/uri-list"]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:
        uris: list[str] = []
        for index in indexes:
            node = self.node(index)
            if node is not None and node.uri not in uris:
                uris.append(node.uri)
        data = QMimeData()
        data.setData(URI_MIME, "\n".join(uris).encode())
        local = [QUrl.fromLocalFile(u) for u in uris if u.startswith("/") and "::" not in u]
        if local:
            data.setUrls(local)
        data.setText("\n".join(uris))
        return data

    @staticmethod
    def uris_from_mime(data: QMimeData) -> list[str]:
        """Source URIs carried by a drag (ours, or local files from the OS)."""
        if data.hasFormat(URI_MIME):
            text = bytes(data.data(URI_MIME).data()).decode()
            return [u for u in text.splitlines() if u.strip()]
        if data.hasUrls():
            return [u.toLocalFile() for u in data.urls() if u.isLocalFile()]
        return []

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: QModelIndex) -> bool:
        if not self.uris_from_mime(data):
            return False
        node = self.node(parent)
        if node is None:
            return data.hasUrls() and not data.hasFormat(URI_MIME)
        return node.kind in DROP_KINDS

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: QModelIndex) -> bool:
        uris = self.uris_from_mime(data)
        if not uris:
            return False
        node = self.node(parent)
        if node is None:
            if data.hasFormat(URI_MIME):
                return False
            self.mount_requested.emit(uris)
            return True
        if node.kind not in DROP_KINDS:
            return False
        shift = bool(QGuiApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier)
        op = "move" if shift or action == Qt.DropAction.MoveAction else "copy"
        sources = [u for u in uris if u != node.uri and not is_ancestor_uri(u, node.uri)]
        if not sources:
            return False
        self.transfer_requested.emit(sources, node.uri, op)
        return True
