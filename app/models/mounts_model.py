"""The mounts tree: one lazy item model over storecore for every backend, containers included.

Top-level rows are mounts; below them folders, files, buckets/prefixes and —
for ``.zarr``/``.h5`` entries — the groups and arrays inside the container.
Children are listed on worker threads (:mod:`app.workers`) when a row is
expanded (``canFetchMore``/``fetchMore``) and inserted page by page, so a
prefix with 100,000 keys shows rows after its first page and the window stays
responsive while the rest streams in.  Errors become text in the row (and an
``error`` signal for the status bar), never an exception in the GUI thread.

The model is a ``QStandardItemModel``: ``index``/``parent``/``data``/``flags``
run in C++, so laying out and painting 100,000 rows never calls into Python
(which would contend for the GIL with the listing worker).  Only the lazy
parts (``hasChildren``, ``canFetchMore``, ``fetchMore``) and drag and drop
are Python.  Each row's name cell carries its :class:`TreeNode` (``NODE_ROLE``)
and URI (``URI_ROLE``).

Rows are inserted as empty rows and filled through the model (``setItemData``),
so their items are created by C++ and never get a Python wrapper: shiboken keeps
every wrapper of an item owned by a model alive in one hash table, and growing
that table past a few hundred thousand entries rehashed it while holding the GIL
(75–150 ms frozen once in a 100,000-key listing).  A node finds its row through
a row hint checked against the row's node, else a C++ search of its URI.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import functools
import gc
import logging
import math
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QMimeData, QModelIndex, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication, QStandardItem, QStandardItemModel

from storecore.cli import printable

from .. import workers
from ..formatting import human_size
from ..icons import icon
from ..mounts import MountSpec
from ..qtcompat import protect_singletons

log = logging.getLogger(__name__)

URI_MIME = "application/x-storescope-uris"
URI_ROLE = Qt.ItemDataRole.UserRole + 1
KIND_ROLE = Qt.ItemDataRole.UserRole + 2
NODE_ROLE = Qt.ItemDataRole.UserRole + 3
SORT_ROLE = Qt.ItemDataRole.UserRole + 4
COLUMNS = ("Name", "Size", "Modified", "Kind")
NAME, SIZE, MODIFIED, KIND = range(4)
CONTAINER_PAGE = 500
#: a listing worker pauses this long every YIELD_EVERY rows, so the GUI thread is never starved of the GIL
YIELD_EVERY = 200
YIELD_SECONDS = 0.001
#: keys in the first page of an object-store folder (its rows show sooner), then in each page after it
FIRST_PAGE, PAGE = 200, 1000
#: in a folder with more rows than this, a page's rows are inserted empty and their cells filled FILL_SLICE at a time
#: on later turns of the event loop: QTreeView lays out every row of an expanded folder after an insert (19–30 ms
#: at 100,000 rows), and filling a 1,000-row page (11 ms) in the same turn kept the window from its 50 ms budget
FILL_NOW_ROWS, FILL_SLICE = 5_000, 250

IDLE, LOADING, DONE, ERROR = "idle", "loading", "done", "error"
#: node kinds that accept drops (copy/move into them)
DROP_KINDS = {"mount", "folder", "container", "group"}
ICON_KINDS = ("folder", "file", "text", "table", "image", "array", "zarr", "hdf5", "group", "link", "broken",
              "error", "mount-local", "mount-s3", "bucket")

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


def preload_icons() -> None:
    """Load every kind's icon (and the bold font) on the GUI thread, so workers only read the caches."""
    for kind in ICON_KINDS:
        icon(kind)
    _bold_font()


def human_time(ts: float | None) -> str:
    """POSIX seconds → local ``YYYY-MM-DD HH:MM``."""
    if ts is None:
        return ""
    try:
        minute = math.floor(ts / 60)
        if not 1e-6 <= ts - minute * 60 <= 60 - 1e-6:  # datetime rounds to microseconds: maybe the next minute
            return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
        return _minute_text(minute)
    except (OverflowError, OSError, ValueError):
        return ""


@functools.lru_cache(maxsize=4096)
def _minute_text(minute: int) -> str:
    # Kept per minute (what the text shows; zone offsets are whole minutes): a listing's keys share few
    # minutes, and strftime per row was a quarter of the Python a listing worker runs for each row.
    return _dt.datetime.fromtimestamp(minute * 60).strftime("%Y-%m-%d %H:%M")


def is_container_name(name: str) -> bool:
    """True for names that open as containers (``.zarr``, and the names HDF5 files carry: see storecore.detect)."""
    from storecore.detect import CONTAINER_EXTENSIONS  # imported on first use: storecore is not needed to show

    return name.rstrip("/").lower().endswith(CONTAINER_EXTENSIONS)


class TreeNode:
    """One row: a mount, folder, file, container, group, array or link (plain Python, no Qt)."""

    __slots__ = (
        "parent", "children", "uri", "name", "kind", "icon", "size", "mtime", "kind_text", "tooltip",
        "expandable", "is_dir", "state", "error", "task", "spec", "loaded_count", "row", "removed", "bold",
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
        #: loaded children in arrival order (display order: ``MountsModel.child_nodes``)
        self.children: list[TreeNode] = []
        self.uri, self.name, self.kind = uri, name, kind
        self.icon = icon or kind
        self.size, self.mtime = size, mtime
        self.kind_text = kind_text
        self.tooltip = tooltip
        self.expandable, self.is_dir = expandable, is_dir
        self.state = IDLE
        self.error = ""
        self.task: workers.Task | None = None
        self.spec: MountSpec | None = None
        self.loaded_count = 0
        #: where the row was last seen among its parent's rows (-1: not in the model); checked before use
        self.row = -1
        self.removed = False
        #: shown in bold (the NeXus entry or NXdata its parent's ``@default`` names)
        self.bold = False

    @property
    def size_text(self) -> str:
        """The Size column's text."""
        return human_size(self.size, unknown="")

    def __repr__(self) -> str:
        return f"<TreeNode {self.kind} {self.uri}>"


_flags_cache: dict[tuple[bool, bool], Qt.ItemFlag] = {}


def _flags(droppable: bool, leaf: bool) -> Qt.ItemFlag:
    key = (droppable, leaf)
    if key not in _flags_cache:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        if droppable:
            flags |= Qt.ItemFlag.ItemIsDropEnabled
        if leaf:
            flags |= Qt.ItemFlag.ItemNeverHasChildren
        _flags_cache[key] = flags
    return _flags_cache[key]


#: the flags of a file's row (most rows): the model's item prototype has them, so they are each cell's first role
#: (an item searches its roles in order, and QTreeView asks every row of an expanded folder for its flags on each
#: layout: 100,000 rows took 60 ms with the flags fifth, 45 ms first)
LEAF_FLAGS = _flags(False, True)


_DIGITS = re.compile(r"[0-9]+")


def _padded(match: re.Match[str]) -> str:
    return match.group().rjust(20, "0")


def name_order(node: TreeNode) -> str:
    """The name column's sort text: folders first, then by name with numbers in number order (``scan 2.1`` before
    ``scan 10.1``, ``frame_9`` before ``frame_10``), as file browsers sort.  A string, as Qt compares one."""
    name = node.name.lower()
    return ("0" if node.is_dir else "1") + (_DIGITS.sub(_padded, name) if _DIGITS.search(name) else name)


def sort_key(node: TreeNode, column: int) -> Any:
    """What ``column`` sorts ``node`` by (mirrors :func:`sort_role`; folders first by name)."""
    if column == SIZE:
        return node.size if node.size is not None else -1
    if column == MODIFIED:
        return human_time(node.mtime)
    if column == KIND:
        return node.kind_text
    return name_order(node)


_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_DISPLAY, _DECORATION, _TOOLTIP = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole
_FONT, _ALIGN, _FOREGROUND = Qt.ItemDataRole.FontRole, Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ForegroundRole


#: one row's cells as role → value maps (name, size, modified, kind) and the row's flags when they are not the
#: model's default (``LEAF_FLAGS``)
RowCells = tuple[tuple[dict[int, Any], dict[int, Any], dict[int, Any], dict[int, Any]], Qt.ItemFlag | None]


@functools.cache
def _bold_font() -> QFont:
    font = QFont()
    font.setBold(True)
    return font


def row_cells(node: TreeNode) -> RowCells:
    """The cells of ``node``'s row as role maps (plain Python: built on the listing worker).

    Only the name and size columns carry ``SORT_ROLE`` (folders first, sizes
    as numbers); dates and kinds sort by their text.
    """
    name: dict[int, Any] = {
        _DISPLAY: printable(node.name),  # a name with a newline or a bidi override must not reshape the row
        _DECORATION: icon(node.icon),
        NODE_ROLE: node,
        URI_ROLE: node.uri,
        SORT_ROLE: name_order(node),
    }
    if node.tooltip:
        name[_TOOLTIP] = node.tooltip
    if node.bold:
        name[_FONT] = _bold_font()
    size = {_DISPLAY: human_size(node.size, unknown=""), _ALIGN: _RIGHT,
            SORT_ROLE: node.size if node.size is not None else -1}
    flags = _flags(node.kind in DROP_KINDS, not node.expandable)
    return (name, size, {_DISPLAY: human_time(node.mtime)}, {_DISPLAY: node.kind_text}), (
        None if flags == LEAF_FLAGS else flags)


@dataclass(eq=False)
class UnfilledPage:
    """A page of rows inserted empty, filled a slice at a time (``MountsModel._fill_some``)."""

    node: TreeNode
    #: (row, child, cells) in increasing row
    placed: list[tuple[int, TreeNode, RowCells]]
    #: set once every row is filled: the listing worker waits for it before its next page
    inserted: threading.Event
    #: rows of ``placed`` filled so far
    done: int = 0


class DisplayOrder:
    """Where the rows of each arriving page go so that a folder stays in display order as it loads.

    Keeps the sort keys placed so far (ascending); :meth:`add` returns each new row's final index, or None
    when the whole page goes after what is there (listings mostly arrive in order: rows then append).
    """

    def __init__(self, column: int, order: Qt.SortOrder) -> None:
        self.column = column
        self.descending = order == Qt.SortOrder.DescendingOrder
        self.keys: list[Any] = []

    def add(self, page: list[TreeNode]) -> list[int] | None:
        """The display index of each node of ``page`` once it is inserted (None: append them in turn)."""
        new = [sort_key(child, self.column) for child in page]
        if not new:
            return None
        old, n_old = self.keys, len(self.keys)
        in_order = new == sorted(new, reverse=self.descending)
        if in_order and (not old or (new[0] <= old[0] if self.descending else new[0] >= old[-1])):
            if self.descending:
                self.keys = new[::-1] + old
            else:
                old.extend(new)
            return None
        ranked = sorted(range(len(new)), key=new.__getitem__)
        final = [0] * len(new)
        for j, i in enumerate(ranked):
            final[i] = bisect.bisect_right(old, new[i]) + j  # ascending index among old and new keys
        old.extend(new)
        old.sort()  # two sorted runs: a linear merge
        if self.descending:
            total = n_old + len(new)
            final = [total - 1 - f for f in final]
        return final


def sort_role(column: int) -> int:
    """The role the model sorts ``column`` by."""
    return SORT_ROLE if column in (NAME, SIZE) else Qt.ItemDataRole.DisplayRole


def entry_node(backend: Any, entry: Any) -> TreeNode:
    """A tree node for a storecore ``Entry`` of ``backend``."""
    uri = backend.uri(entry.path)
    lower = entry.name.lower()
    if is_container_name(lower):
        from storecore.detect import format_by_name, kind_label

        fmt = format_by_name(lower)
        icon = "zarr" if fmt == "zarr" else "hdf5"
        text = kind_label(fmt, lower)
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


def container_node(cnode: Any, default: str = "") -> TreeNode:
    """A tree node for a storecore container ``Node`` (group, array or link).

    NeXus groups show their ``NX_class`` in the kind column and tooltip; the
    child named by the parent's ``@default`` (``default``) is marked bold.
    """
    kind = getattr(cnode, "kind", "group")
    if kind == "array":
        dtype = getattr(cnode, "dtype", None)
        values = getattr(cnode, "value_kind", "")
        # strings, records, enums… are named for what they hold, not for numpy's "object"/"void"
        type_word = values if values not in ("", "numeric", "bool", "datetime") else (str(dtype) if dtype is not None else "")
        shape = "empty" if getattr(cnode, "is_empty", False) else shape_text(getattr(cnode, "shape", None))
        text = f"array {shape} {type_word}".strip()
        stored = getattr(cnode, "stored_nbytes", None)
        size = stored if stored is not None else getattr(cnode, "nbytes", None)
        chunks = getattr(cnode, "chunks", None)
        type_text = getattr(cnode, "type_text", "") or dtype
        tip = f"{cnode.uri}\nshape {shape}, {type_text}" + (f", chunks {shape_text(chunks)}" if chunks else "")
        return TreeNode(cnode.uri, cnode.name, "array", size=size, kind_text=text, tooltip=tip)
    if kind == "datatype":
        text = f"named datatype {getattr(cnode, 'type_text', '') or cnode.dtype}"
        return TreeNode(cnode.uri, cnode.name, "array", icon="file", kind_text=text, tooltip=f"{cnode.uri}\n{text}")
    if kind == "link":
        target = getattr(cnode, "link_target", None) or "?"
        broken = bool(getattr(cnode, "broken", False))
        text = f"{'broken link' if broken else 'link'} → {target}"
        return TreeNode(cnode.uri, cnode.name, "link", icon="broken" if broken else "link", kind_text=text)
    attrs = getattr(cnode, "attrs", None) or {}
    nx = attrs.get("NX_class")
    nx = nx if isinstance(nx, str) else ""
    text = (f"{nx} group" if nx else "group") + (f" ({len(attrs)} attributes)" if attrs else "")
    tip = ""
    if nx:
        tip = f"{cnode.uri}\nNX_class: {nx}"
        if isinstance(attrs.get("default"), str):
            tip += f"\n@default → {attrs['default']}"
        if isinstance(attrs.get("signal"), str):
            tip += f"\n@signal → {attrs['signal']}"
    node = TreeNode(cnode.uri, cnode.name or "/", "group", kind_text=text, expandable=True, is_dir=True, tooltip=tip)
    if default and cnode.name == default:
        node.bold = True
        node.tooltip = (node.tooltip or cnode.uri) + "\n(the default plot's path: @default of its parent)"
    return node


def _default_name(group: Any) -> str:
    """The first component of a group's NeXus ``@default`` (``""`` when none)."""
    try:
        value = (group.attrs or {}).get("default")
    except Exception as e:  # noqa: BLE001 - unreadable attributes: no mark
        log.debug("unreadable @default: %s", e)
        return ""
    return value.strip("/").split("/")[0] if isinstance(value, str) else ""


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
            default = _default_name(root)
            first_entry = not default and root.path == "/"  # no @default: the first NXentry is the default
            for child in root.children():
                if token is not None and token.cancelled:
                    return
                page.append(container_node(child, default))
                if first_entry and page[-1].kind_text.startswith(("NXentry ", "NXsubentry ")):
                    first_entry = False
                    page[-1].bold = True
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
    from storecore.transfer.multipart import list_pages as folder_pages

    backend, loc = storecore.backend_for(uri)
    # An object store's folder through the transfer engine's listing (ElementTree on a request it signs): botocore
    # spent ~0.4 ms of Python per key parsing it, holding the GIL the window needs; a small first page shows sooner.
    for entries in folder_pages(backend, loc.path, FIRST_PAGE, PAGE, folders=True):
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


def is_local_uri(uri: str) -> bool:
    """True for a plain local path (not a member inside a container)."""
    return uri.startswith("/") and "::" not in uri


def uri_mime_data(uris: list[str], local_copies: dict[str, str] | None = None) -> QMimeData:
    """Mime data for ``uris``: our URI list, plain text, and ``text/uri-list`` file URLs.

    Local files carry their own path; remote ones only when ``local_copies``
    maps them to a downloaded copy (so other applications can take them).
    """
    data = QMimeData()
    data.setData(URI_MIME, "\n".join(uris).encode())
    local_copies = local_copies or {}
    paths = [u if is_local_uri(u) else local_copies.get(u) for u in uris]
    urls = [QUrl.fromLocalFile(p) for p in paths if p]
    if urls:
        data.setUrls(urls)
    data.setText("\n".join(uris))
    return data


class MountsModel(QStandardItemModel):
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
        protect_singletons()
        preload_icons()
        self.setColumnCount(len(COLUMNS))
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.setSortRole(SORT_ROLE)
        # Cells are created by C++ as rows are filled: they start as copies of this prototype (a file's flags).
        self._prototype = QStandardItem()
        self._prototype.setFlags(LEAF_FLAGS)
        self.setItemPrototype(self._prototype)
        self.root = TreeNode("", "", "root", expandable=True)
        self.root.state = DONE
        #: pages inserted but not yet filled: (folder, [(row, child, cells)], next to fill, the worker's event)
        self._unfilled: list[UnfilledPage] = []
        self._fill_timer = QTimer(self)
        self._fill_timer.setSingleShot(True)
        self._fill_timer.setInterval(1)  # after the view's zero-timer layout of the inserted rows
        self._fill_timer.timeout.connect(self._fill_some)
        self._loading: set[TreeNode] = set()
        self._sort: tuple[int, Qt.SortOrder] = (NAME, Qt.SortOrder.AscendingOrder)

    # -- mounts ---------------------------------------------------------------
    def add_mount(self, spec: MountSpec, uri: str | None = None) -> QModelIndex:
        """Append a mount row for ``spec`` (its root is ``uri`` or ``spec.uri``)."""
        self.flush_fills()
        uri = uri or spec.uri
        text = {"local": "Local folder", "s3": "S3", "zarr": "Zarr store", "hdf5": "HDF5 file"}.get(spec.kind, spec.kind)
        if spec.kind == "s3":
            text = f"S3 · {spec.endpoint_url}" if spec.endpoint_url else "S3 · AWS"
        icon_name = {"local": "mount-local", "s3": "mount-s3", "zarr": "zarr", "hdf5": "hdf5"}.get(spec.kind, "folder")
        node = TreeNode(uri, spec.name, "mount", icon=icon_name, kind_text=text, expandable=True, is_dir=True,
                        tooltip=uri)
        node.spec = spec
        node.parent = self.root
        self.root.children.append(node)
        placed = [(self.rowCount(), node, row_cells(node))]
        self._insert_rows(QModelIndex(), placed)
        self._fill(QModelIndex(), placed)
        if getattr(spec, "missing_keys", False):
            node.state = ERROR
            node.error = "access keys were not saved: use Mounts ▸ Edit mount… to enter them"
            self._show_state(node)
        return self.index_of(node)

    def mount_nodes(self) -> list[TreeNode]:
        """The top-level mount rows, in tree order."""
        return self.child_nodes(self.root)

    def mounts(self) -> list[MountSpec]:
        """The specs of the mounted roots, in tree order."""
        return [n.spec for n in self.mount_nodes() if n.spec is not None]

    def remove_mount(self, index: QModelIndex) -> MountSpec | None:
        """Unmount the mount row ``index`` (or the mount containing it); return its spec."""
        node = self.node(index)
        while node is not None and node.parent is not self.root:
            node = node.parent
        if node is None:
            return None
        self.remove_node(node)
        return node.spec

    def rename_mount(self, index: QModelIndex, name: str) -> None:
        """Give a mount row a new display name."""
        node = self.node(index)
        if node is None or node.kind != "mount" or not name.strip():
            return
        node.name = name.strip()
        if node.spec is not None:
            node.spec.name = node.name
        self.setData(self.index_of(node), node.name, _DISPLAY)

    # -- node access ---------------------------------------------------------
    def node(self, index: QModelIndex) -> TreeNode | None:
        """The node behind ``index`` (``None`` for the invisible root)."""
        if not index.isValid():
            return None
        return index.siblingAtColumn(NAME).data(NODE_ROLE)

    def index_of(self, node: TreeNode | None, column: int = NAME) -> QModelIndex:
        """The index of ``node`` (invalid for the root or a removed node)."""
        if node is None or node is self.root or node.removed or node.parent is None:
            return QModelIndex()
        parent = QModelIndex() if node.parent is self.root else self.index_of(node.parent)
        if node.parent is not self.root and not parent.isValid():
            return QModelIndex()
        index = self.index(node.row, NAME, parent) if node.row >= 0 else QModelIndex()
        if not index.isValid() or index.data(NODE_ROLE) is not node:
            if self._unfilled:  # its row may be inserted and not yet filled
                self.flush_fills()
                return self.index_of(node, column)
            # Rows moved (a sort, rows inserted above): find it by URI, a C++ scan of the parent's rows.
            index = QModelIndex()
            if self.rowCount(parent):
                flags = Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchCaseSensitive
                for hit in self.match(self.index(0, NAME, parent), URI_ROLE, node.uri, -1, flags):
                    if hit.data(NODE_ROLE) is node:
                        index = hit
                        break
            if not index.isValid():
                return index
            node.row = index.row()
        return index if column == NAME else index.siblingAtColumn(column)

    def uri(self, index: QModelIndex) -> str:
        """The URI of the row at ``index`` (``""`` for the root)."""
        node = self.node(index)
        return node.uri if node is not None else ""

    def child_nodes(self, node: TreeNode) -> list[TreeNode]:
        """The children of ``node`` in display (sorted) order."""
        return [child for _row, child in self.child_rows(node)]

    def child_rows(self, node: TreeNode, children: list[TreeNode] | None = None) -> list[tuple[int, TreeNode]]:
        """(row, child) for ``children`` of ``node`` (all of them, in display order, when ``None``)."""
        self.flush_fills()
        parent = self.index_of(node)
        if node is not self.root and not parent.isValid():
            return []
        if children is None:
            return [(r, self.index(r, NAME, parent).data(NODE_ROLE)) for r in range(self.rowCount(parent))]
        rows = []
        for child in children:
            index = self.index_of(child)
            if index.isValid():
                rows.append((index.row(), child))
        return rows

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
            nxt = next((c for c in node.children if is_ancestor_uri(c.uri, uri)), None)
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

    @property
    def loading_count(self) -> int:
        """How many listings are running."""
        return len(self._loading)

    # -- lazy children (the only item-model methods implemented in Python) ---------
    def hasChildren(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: B008
        if not parent.isValid():
            return super().hasChildren(parent)
        if parent.column() != NAME:
            return False
        if super().hasChildren(parent):
            return True
        node = parent.data(NODE_ROLE)
        return node is not None and node.expandable and node.state in (IDLE, LOADING)

    def canFetchMore(self, parent: QModelIndex) -> bool:
        if not parent.isValid() or parent.column() != NAME:
            return False
        node = parent.data(NODE_ROLE)
        return node is not None and node.expandable and node.state == IDLE

    def fetchMore(self, parent: QModelIndex) -> None:
        if not parent.isValid():
            return
        node = parent.siblingAtColumn(NAME).data(NODE_ROLE)
        if node is not None and node.expandable and node.state == IDLE:
            self._start_fetch(node)

    # -- loading ---------------------------------------------------------------
    def _start_fetch(self, node: TreeNode) -> None:
        node.state = LOADING
        node.loaded_count = 0
        node.error = ""
        was_busy = self.busy
        self._loading.add(node)
        self._show_state(node)
        uri, mode = node.uri, listing_mode(node)
        column, order = self._sort

        def run(token: workers.CancelToken) -> tuple[tuple[int, Qt.SortOrder], bool]:
            placed = DisplayOrder(column, order)
            for page in list_pages(uri, mode, token):
                if token.cancelled:
                    break
                # Rows' cells are worked out here, off the GUI thread: the GUI only inserts and fills rows.
                rows = []
                for i, child in enumerate(page, 1):
                    rows.append(row_cells(child))
                    if i % YIELD_EVERY == 0:
                        time.sleep(YIELD_SECONDS)  # let the GUI thread take the GIL between slices
                # Where each row goes in display order is worked out here too (None: they all append), so
                # the folder never needs a sort of every row on the GUI thread at the end.
                positions = placed.add(page)
                # Back-pressure: wait (without the GIL) until the GUI has inserted this page, so the
                # GUI thread's many short calls into Qt never queue behind this thread for the GIL.
                inserted = threading.Event()
                token.report((page, rows, inserted, positions))
                while not inserted.wait(0.05):
                    if token.cancelled:
                        return (column, order), False
            return (column, order), True

        task = workers.submit(
            run,
            with_token=True,
            owner=self,  # a model deleted mid-listing (a closed window) cancels it: no late rows
            on_progress=lambda value, n=node: self._on_page(n, *value),
            on_done=lambda result, n=node: self._on_done(n, *result),
            on_error=lambda msg, exc, n=node: self._on_error(n, msg, exc),
        )
        node.task = task
        self.fetch_started.emit(uri)
        if not was_busy:
            self.busy_changed.emit(True)

    def _on_page(
        self, node: TreeNode, page: list[TreeNode], rows: list[RowCells], inserted: threading.Event,
        positions: list[int] | None = None,
    ) -> None:
        deferred = False
        try:
            if node.state != LOADING or node.removed or not page:
                return
            self.flush_fills()
            parent = self.index_of(node)
            if node is not self.root and not parent.isValid():  # its row was removed while the page was read
                return
            for child in page:
                child.parent = node
            if positions is None:
                start = self.rowCount(parent)
                placed = [(start + i, child, cells) for i, (child, cells) in enumerate(zip(page, rows, strict=True))]
            else:
                # In increasing position: every row before it in display order is in place by then.
                placed = sorted(zip(positions, page, rows, strict=True), key=lambda pr: pr[0])
            self._insert_rows(parent, placed)
            if self.rowCount(parent) <= FILL_NOW_ROWS:
                self._fill(parent, placed)
            else:
                self._unfilled.append(UnfilledPage(node, placed, inserted))
                self._fill_timer.start()
                deferred = True
            gc.freeze()
        finally:
            if not deferred:
                inserted.set()
        node.children.extend(page)
        node.loaded_count = len(node.children)
        self._show_state(node)
        self.page_loaded.emit(node.uri, node.loaded_count)

    def _insert_rows(self, parent: QModelIndex, placed: list[tuple[int, TreeNode, RowCells]]) -> None:
        """Insert empty rows at ``placed``'s positions (increasing) under ``parent``."""
        width = len(COLUMNS)
        if parent.isValid() and self.columnCount(parent) < width:
            self.insertColumns(self.columnCount(parent), width - self.columnCount(parent), parent)
        i = 0
        while i < len(placed):  # one insertRows per run of consecutive positions
            j = i + 1
            while j < len(placed) and placed[j][0] == placed[j - 1][0] + 1:
                j += 1
            self.insertRows(placed[i][0], j - i, parent)
            i = j
        for row, child, _cells in placed:
            child.row = row

    def _fill(self, parent: QModelIndex, placed: list[tuple[int, TreeNode, RowCells]]) -> None:
        """Fill the cells of inserted rows (C++ creates their items: no Python wrappers, see the module docstring)."""
        width = len(COLUMNS)
        index, fill = self.index, self.setItemData
        # One dataChanged for the slice, not one per cell: a view answers each with a repaint request.
        blocked = self.blockSignals(True)
        try:
            for row, _child, (cells, flags) in placed:
                for column, roles in enumerate(cells):
                    fill(index(row, column, parent), roles)
                if flags is not None:  # a folder, container or group: all its cells take drops
                    for column in range(width):
                        self.itemFromIndex(index(row, column, parent)).setFlags(flags)
        finally:
            self.blockSignals(blocked)
        self.dataChanged.emit(index(placed[0][0], 0, parent), index(placed[-1][0], width - 1, parent))

    def _fill_some(self) -> None:
        """Fill the next FILL_SLICE rows of the oldest unfilled page (the fill timer's slot)."""
        if not self._unfilled:
            return
        page = self._unfilled[0]
        # Finding the folder's row may fill every pending page at once (flush_fills): then nothing is left here.
        parent = QModelIndex() if page.node.removed else self._parent_index(page.node)
        if self._unfilled and self._unfilled[0] is page:
            part = page.placed[page.done : page.done + FILL_SLICE]
            page.done += len(part)
            if part and not page.node.removed:
                self._fill(parent, part)
            if page.done >= len(page.placed):
                self._unfilled.pop(0)
                page.inserted.set()
        if self._unfilled:
            self._fill_timer.start()

    def flush_fills(self) -> None:
        """Fill every inserted row now: done before anything moves rows, or looks rows up by their cells."""
        if not self._unfilled:
            return
        self._fill_timer.stop()
        pending, self._unfilled = self._unfilled, []
        for page in pending:
            if not page.node.removed and page.done < len(page.placed):
                self._fill(self._parent_index(page.node), page.placed[page.done :])
            page.inserted.set()

    def _parent_index(self, node: TreeNode) -> QModelIndex:
        """The index rows of ``node`` hang from (the invalid index for the root)."""
        return QModelIndex() if node is self.root else self.index_of(node)

    def _finish(self, node: TreeNode) -> None:
        node.task = None
        self._loading.discard(node)
        if not self._loading:
            self.busy_changed.emit(False)

    # A full (generation 2) garbage collection walks every tracked object while holding the GIL:
    # with a few hundred thousand rows that froze the window for 0.3-0.5 s in the middle of a
    # listing.  So each inserted page (long-lived rows) is moved out of the collector's way with
    # gc.freeze(), a constant-time splice.  Removed rows have their reference cycles broken by hand
    # (``_forget``), so refcounting still frees them although the collector no longer looks at them.
    @staticmethod
    def _forget(node: TreeNode) -> None:
        """Break the parent/child/item references of a removed subtree."""
        stack = [node]
        while stack:
            n = stack.pop()
            stack.extend(n.children)
            n.removed = True
            n.children = []
            n.parent = None
            n.row = -1

    def _on_done(self, node: TreeNode, sorted_by: tuple[int, Qt.SortOrder] | None = None, in_order: bool = False) -> None:
        if node.state != LOADING:
            return
        self.flush_fills()
        node.state = DONE
        self._finish(node)
        if not node.removed:
            if not (in_order and sorted_by == self._sort) and len(node.children) > 1:
                self.setSortRole(sort_role(self._sort[0]))
                self.itemFromIndex(self.index_of(node)).sortChildren(*self._sort)
            self._show_state(node)
        self.fetch_finished.emit(node.uri)

    def _on_error(self, node: TreeNode, message: str, exc: BaseException) -> None:
        if node.state != LOADING:
            return
        node.state = ERROR
        node.error = message
        self._finish(node)
        if not node.removed:
            self._show_state(node)
        self.error.emit(node.uri, message)
        self.fetch_finished.emit(node.uri)

    def _show_state(self, node: TreeNode) -> None:
        """Reflect ``node.state`` in its row: kind text, error colour and icon, tooltip."""
        if node.removed or node is self.root:
            return
        name = self.index_of(node)
        if not name.isValid():
            return
        kind = name.siblingAtColumn(KIND)
        if node.state == ERROR:
            self.setItemData(kind, {_DISPLAY: f"⚠ {node.error}", _FOREGROUND: QBrush(QColor(190, 30, 30)),
                                    _TOOLTIP: f"{node.uri}\n{node.error}"})
            self.setItemData(name, {_DECORATION: icon("error"), _TOOLTIP: f"{node.uri}\n{node.error}"})
            return
        if node.state == LOADING:
            text = f"loading… {node.loaded_count:,} so far" if node.loaded_count else "loading…"
        else:
            text = node.kind_text
        if kind.data(_DISPLAY) != text:
            self.setData(kind, text, _DISPLAY)
        if kind.data(_TOOLTIP):
            self.setData(kind, None, _TOOLTIP)
            self.setData(kind, None, _FOREGROUND)
            self.setItemData(name, {_DECORATION: icon(node.icon), _TOOLTIP: node.tooltip or node.uri})
        if node.state == DONE and not node.children:
            self.dataChanged.emit(name, name)  # the expand arrow goes away

    def _cancel_below(self, node: TreeNode) -> None:
        self.flush_fills()
        stack = [node]
        while stack:
            n = stack.pop()
            if n.task is not None:
                n.task.cancel()
                n.task = None
            if n in self._loading:
                self._loading.discard(n)
                if not self._loading:
                    self.busy_changed.emit(False)
            if n.state == LOADING:
                n.state = IDLE
            stack.extend(c for c in n.children if c.expandable)

    def refresh(self, index: QModelIndex) -> None:
        """Drop the children of ``index`` and list them again (re-tries errors too)."""
        node = self.node(index)
        if node is None:
            for mount in self.mount_nodes():
                self.refresh(self.index_of(mount))
            return
        if not node.expandable:
            if node.parent is not None and node.parent is not self.root:
                self.refresh(self.index_of(node.parent))
            return
        was_loaded = node.state != IDLE or bool(node.children)
        self._cancel_below(node)
        index = self.index_of(node)
        if self.rowCount(index):
            self.removeRows(0, self.rowCount(index), index)
        for child in node.children:
            self._forget(child)
        node.children = []
        node.state = IDLE
        node.error = ""
        if was_loaded:
            # Straight to LOADING: a row shown IDLE and empty is one a view (or a model tester) lists by itself
            # through fetchMore, and that listing ran next to this one (every row twice).
            self._start_fetch(node)
        else:
            self._show_state(node)

    def refresh_uri(self, uri: str) -> None:
        """Refresh the loaded node of ``uri`` (or its nearest loaded ancestor folder)."""
        node, _exact = self.locate(uri)
        while node is not None and not node.expandable:
            node = node.parent
        if node is not None and node is not self.root and node.state != IDLE:
            self.refresh(self.index_of(node))

    def remove_node(self, node: TreeNode) -> None:
        """Take one row (a deleted item, an unmounted root) out of the tree."""
        parent = node.parent
        if parent is None or node.removed:
            return
        self._cancel_below(node)
        index = self.index_of(node)
        if node in parent.children:
            parent.children.remove(node)
        if index.isValid():
            self.removeRow(index.row(), index.parent())
        self._forget(node)

    # -- sorting ---------------------------------------------------------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort every loaded level by ``column`` (folders first when ascending)."""
        self.flush_fills()
        self._sort = (column, order)
        self.setSortRole(sort_role(column))
        super().sort(column, order)

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
        return uri_mime_data(uris)

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
