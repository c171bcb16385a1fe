"""The Storescope main window: mounts tree, preview, transfer queue and find docks, path bar, menus.

Everything that touches storage goes through :mod:`app.workers`; the window
only wires views together.  Panels whose modules may be heavy (preview,
transfer queue, find) are built right after the first paint, so the window is
on screen fast (``MainWindow(lazy=True)`` + :meth:`MainWindow.finish_startup`).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QDesktopServices,
    QDrag,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QToolBar,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from . import workers
from .icons import app_icon, icon
from .models.mounts_model import (
    DROP_KINDS,
    IDLE,
    LOADING,
    URI_MIME,
    MountsModel,
    TreeNode,
    human_size,
    is_ancestor_uri,
    is_local_uri,
    name_matches,
    uri_mime_data,
)
from .mounts import MountSpec, MountStore, default_name, guess_kind, register
from .pathbar import PathBar
from .qtcompat import add_action

STATUS_TIMEOUT_MS = 12_000
#: remote files dragged out to other applications are downloaded first when together at most this big
DRAG_DOWNLOAD_MAX = 512 * 1024 * 1024


_clipboard_guarded = False


def _release_clipboard() -> None:
    """Drop our mime data from the clipboard before Qt shuts down.

    PySide6 crashes at exit (segmentation fault) when the clipboard still holds
    a QMimeData created from Python; plain text is unaffected.
    """
    app = QGuiApplication.instance()
    if app is None:
        return
    clipboard = QGuiApplication.clipboard()
    data = clipboard.mimeData()
    if data is not None and data.hasFormat(URI_MIME):
        text = data.text()
        clipboard.setText(text)  # the URIs stay available as text


def set_clipboard(mime: Any) -> None:
    """Put ``mime`` on the clipboard (with the exit guard above armed once)."""
    global _clipboard_guarded
    QGuiApplication.clipboard().setMimeData(mime)
    if not _clipboard_guarded:
        _clipboard_guarded = True
        app = QGuiApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(_release_clipboard)
        atexit.register(_release_clipboard)


class MountsTree(QTreeView):
    """The tree view: uniform rows (fast with 100k rows), sorting, drag out and drop in.

    Ctrl+C / Ctrl+V become ``copy_requested`` / ``paste_requested`` (handled here,
    not as window shortcuts, so text fields and the preview keep their own copy).
    """

    copy_requested = Signal()
    paste_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: called instead of Qt's drag start (the window downloads remote items before the drag)
        self.drag_handler: Callable[[], None] | None = None
        self.setUniformRowHeights(True)
        self.setAnimated(False)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)

    def configure_header(self) -> None:
        """Readable default column widths (interactive: resize-to-contents is too slow for big folders)."""
        header = self.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in enumerate((205, 68, 116, 110)):
            self.setColumnWidth(col, width)

    def startDrag(self, supported_actions: Qt.DropAction) -> None:
        if self.drag_handler is not None:
            self.drag_handler()
        else:
            super().startDrag(supported_actions)

    def exec_drag(self, mime: Any) -> None:
        """Run a copy drag carrying ``mime`` (blocks in Qt's drag loop until the drop)."""
        drag = QDrag(self)
        drag.setMimeData(mime)
        index = self.currentIndex()
        if index.isValid():
            pixmap_icon = index.siblingAtColumn(0).data(Qt.ItemDataRole.DecorationRole)
            if pixmap_icon is not None:
                drag.setPixmap(pixmap_icon.pixmap(24, 24))
        drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_requested.emit()
            event.accept()
        elif event.matches(QKeySequence.StandardKey.Paste):
            self.paste_requested.emit()
            event.accept()
        else:
            super().keyPressEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        super().dragMoveEvent(event)
        if event.isAccepted():
            # The transfer queue does moves itself; the drag source must never delete anything.
            event.setDropAction(Qt.DropAction.CopyAction)

    def dropEvent(self, event: QDropEvent) -> None:
        event.setDropAction(Qt.DropAction.CopyAction)
        super().dropEvent(event)


class MainWindow(QMainWindow):
    """The application window (see the module docstring).

    ``settings`` is the QSettings that holds mounts and window state (tests pass
    an isolated INI file); with ``persist=False`` nothing is written back.
    Signals: ``first_shown`` after the first show, ``revealed(uri)`` when
    :meth:`reveal` selected its target, ``mounted(uri)`` when a mount was added.
    """

    first_shown = Signal()
    revealed = Signal(str)
    mounted = Signal(str)
    #: remote items dragged out are downloaded: emitted with their URIs once local copies exist
    drag_copies_ready = Signal(list)
    _drag_progress = Signal(str)

    def __init__(self, settings: QSettings | None = None, *, persist: bool = True, lazy: bool = False) -> None:
        super().__init__()
        self.store = MountStore(settings)
        self.settings = self.store.settings
        self.persist = persist
        self.preview: Any = None
        self.queue_dock: Any = None
        self.find_dock: Any = None
        self._shown_once = False
        self._started = False
        self._pending: set[workers.Task] = set()
        self._reveal_target: str | None = None
        self._deferred_select: str | None = None
        self._filter_node: TreeNode | None = None
        self._filter_text = ""
        self._hidden = 0
        self._filtered_upto = 0
        self._current_folder: TreeNode | None = None
        self._drag_dir: str | None = None
        self._drag_copies: dict[str, tuple[tuple, str]] = {}  # uri → ((size, mtime), local copy)
        self._drag_task: workers.Task | None = None

        self.setWindowTitle("Storescope")
        self.setWindowIcon(app_icon())
        self.resize(1500, 920)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)

        self.model = MountsModel(self)
        self.tree = MountsTree()
        self.tree.setModel(self.model)
        # Our own selection model, held from Python: a wrapper looked up from C++ by address
        # (``tree.selectionModel()``) can be a stale wrapper of a freed tree item (a PySide6 bug).
        self.selection = QItemSelectionModel(self.model, self.tree)
        self.tree.setSelectionModel(self.selection)
        self.tree.configure_header()
        self.filter_box = QLineEdit()
        self.filter_box.setPlaceholderText("Filter this folder (text or *.glob)")
        self.filter_box.setClearButtonEnabled(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        left_layout.setSpacing(4)
        left_layout.addWidget(self.filter_box)
        left_layout.addWidget(self.tree, 1)
        self.mounts_dock = QDockWidget("Mounts", self)
        self.mounts_dock.setObjectName("MountsDock")
        self.mounts_dock.setWidget(left)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.mounts_dock)

        self._placeholder = QLabel("Loading…")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(self._placeholder)

        self.path_bar = PathBar()
        self.count_label = QLabel("")
        self.activity_label = QLabel("")
        self.statusBar().addPermanentWidget(self.activity_label)
        self.statusBar().addPermanentWidget(self.count_label)

        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._connect()
        if not lazy:
            self._build_panels()

    # -- construction -------------------------------------------------------------
    def _action(self, text: str, slot: Any, shortcut: Any = None, icon_name: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon_name:
            action.setIcon(icon(icon_name))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        self.act_add = self._action("&Add mount…", self.add_mount_dialog, "Ctrl+M", "mount-local", "Mount a folder, bucket, Zarr store or HDF5 file")
        self.act_open = self._action("&Open location…", self.focus_path_bar, "Ctrl+L", None, "Type a path or URI")
        self.act_refresh = self._action("&Refresh", self.refresh_current, QKeySequence.StandardKey.Refresh, None, "List the selected folder again")
        self.act_up = self._action("&Up", self.go_up, "Alt+Up", None, "Select the parent folder")
        self.act_find = self._action("&Find…", self.find_here, QKeySequence.StandardKey.Find, None, "Search below the selected folder")
        self.act_unmount = self._action("&Unmount", self.unmount_current, None, None, "Remove the selected mount")
        self.act_rename_mount = self._action("Re&name mount…", self.rename_mount_current, None, None)
        self.act_edit_mount = self._action("&Edit mount…", self.edit_mount_current, None, None)
        self.act_refresh_all = self._action("Refresh &all", lambda: self.model.refresh(QModelIndex()), None, None)
        self.act_quit = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_about = self._action("&About Storescope", self.show_about)
        self.act_copy_uri = self._action("Copy &URI", self.copy_uri, "Ctrl+Shift+C")
        self.act_compare = self._action("&Compare selected…", self.compare_selected, "Ctrl+D", None, "Compare two selected folders or files")
        for a in (self.act_refresh, self.act_up, self.act_find, self.act_copy_uri):
            self.addAction(a)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Navigation", self)
        bar.setObjectName("NavigationToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        style = self.style()
        self.act_refresh.setIcon(style.standardIcon(style.StandardPixmap.SP_BrowserReload))
        self.act_up.setIcon(style.standardIcon(style.StandardPixmap.SP_FileDialogToParent))
        self.act_find.setIcon(style.standardIcon(style.StandardPixmap.SP_FileDialogContentsView))
        bar.addAction(self.act_add)
        bar.addAction(self.act_up)
        bar.addAction(self.act_refresh)
        bar.addWidget(self.path_bar)
        bar.addAction(self.act_find)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.toolbar = bar

    def _build_menus(self) -> None:
        menu = self.menuBar()
        m = menu.addMenu("&File")
        m.addAction(self.act_open)
        m.addAction(self.act_add)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = menu.addMenu("&Mounts")
        for a in (self.act_add, self.act_edit_mount, self.act_rename_mount, self.act_unmount):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_refresh)
        m.addAction(self.act_refresh_all)
        self.view_menu = menu.addMenu("&View")
        self.view_menu.addAction(self.mounts_dock.toggleViewAction())
        self.view_menu.addAction(self.act_find)
        self.view_menu.addAction(self.act_compare)
        m = menu.addMenu("&Help")
        m.addAction(self.act_about)

    def _connect(self) -> None:
        self.selection.currentChanged.connect(self._on_current)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.activated.connect(self._on_activated)
        self.tree.copy_requested.connect(self.copy_selection)
        self.tree.drag_handler = self.start_drag
        self._drag_progress.connect(self.status)
        self.tree.paste_requested.connect(self.paste_into_current)
        self.path_bar.navigate.connect(self.navigate)
        self.filter_box.textChanged.connect(self._apply_filter)
        self.model.error.connect(self._on_model_error)
        self.model.busy_changed.connect(self._update_activity)
        self.model.page_loaded.connect(self._on_page_loaded)
        self.model.fetch_finished.connect(self._on_fetch_finished)
        self.model.transfer_requested.connect(self.submit_transfer)
        self.model.mount_requested.connect(lambda uris: [self.open_uri(u) for u in uris])

    def _build_panels(self) -> None:
        """Create the preview pane and the transfer/find docks (imports deferred past the first paint)."""
        if self.preview is not None:
            return
        from .find_dock import FindDock
        from .queue_dock import TransferQueueDock
        from .viewers.pane import PreviewPane

        self.preview = PreviewPane(self)
        self.setCentralWidget(self.preview)
        self._placeholder = None
        if hasattr(self.preview, "message"):
            self.preview.message.connect(lambda text: self.statusBar().showMessage(text, STATUS_TIMEOUT_MS))
        self.queue_dock = TransferQueueDock(self)
        self.queue_dock.setObjectName("TransferQueueDock")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.queue_dock)
        self.queue_dock.job_finished.connect(self.model.refresh_uri)
        if hasattr(self.queue_dock, "reveal_requested"):
            self.queue_dock.reveal_requested.connect(self.reveal)
        self.find_dock = FindDock(self)
        self.find_dock.setObjectName("FindDock")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.find_dock)
        # Beside the queue (not tabbed): the find form is tall, the queue is fine short; shown by Ctrl+F.
        self.splitDockWidget(self.queue_dock, self.find_dock, Qt.Orientation.Horizontal)
        self.find_dock.hide()
        self.find_dock.reveal_requested.connect(self.reveal)
        self.view_menu.addAction(self.queue_dock.toggleViewAction())
        self.view_menu.addAction(self.find_dock.toggleViewAction())
        if not self._restore_state():
            # Docks only take sizes once laid out: apply the default proportions on the next turn.
            QTimer.singleShot(0, self._default_dock_sizes)

    def _default_dock_sizes(self) -> None:
        self.layout().activate()  # docks added after the first show need a laid-out window to take sizes
        # the tree's four columns need ~520 px; the preview wraps its controls and is fine narrower
        self.resizeDocks([self.mounts_dock], [max(380, int(self.width() * 0.36))], Qt.Orientation.Horizontal)
        # an empty queue needs its buttons, header and a couple of rows; it grows when dragged
        self.resizeDocks([self.queue_dock], [120], Qt.Orientation.Vertical)

    # -- start-up ----------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            QTimer.singleShot(0, self.first_shown.emit)

    def finish_startup(
        self, uris: list[str] | None = None, *, select: str | None = None, demo: bool = True, restore: bool = True
    ) -> None:
        """Build the panels, restore saved mounts and mount ``uris`` (demo data + home when nothing is mounted)."""
        if self._started:
            return
        self._started = True
        self._build_panels()
        for spec in self.store.load() if restore else []:
            self.add_mount(spec, save=False, expand=False)
        for uri in uris or []:
            self.open_uri(uri)
        if demo and not uris and not self.model.mount_nodes():
            self._mount_demo()
        if select:
            self.select_when_mounted(select)
        self._expand_first_mount()
        self.tree.setFocus()

    def select_when_mounted(self, uri: str) -> None:
        """Reveal ``uri`` now, or as soon as a mount that contains it appears (start-up mounts are async).

        When nothing pending can provide it, the URI is opened (mounted) itself.
        """
        self._deferred_select = uri
        self._try_deferred_select()

    def _try_deferred_select(self) -> None:
        uri = self._deferred_select
        if uri is None:
            return
        try:
            import storecore

            norm = str(storecore.Location.parse(uri))
        except Exception as e:  # noqa: BLE001
            self._deferred_select = None
            self.status(workers.describe_error(e))
            return
        if self.model.locate(norm)[0] is not None:
            self._deferred_select = None
            self.reveal(norm)
        elif not self._pending:
            self._deferred_select = None
            self.open_uri(norm)

    @property
    def selecting(self) -> bool:
        """True while a ``--select``/reveal target is still being looked for."""
        return self._deferred_select is not None or self._reveal_target is not None

    def _mount_demo(self) -> None:
        def built(path: str) -> None:
            self.add_mount(MountSpec("Demo data", path, "local"), expand=True)
            self.add_mount(MountSpec("Home", os.path.expanduser("~"), "local"), expand=False)

        def failed(message: str, _exc: BaseException) -> None:
            self.status(f"Could not build the demo data: {message}")
            self.add_mount(MountSpec("Home", os.path.expanduser("~"), "local"), expand=True)

        from resources.demo_data import ensure_demo_data

        self.activity_label.setText("Preparing demo data…")
        self._track(workers.submit(ensure_demo_data, on_done=built, on_error=failed))

    def _expand_first_mount(self) -> None:
        nodes = self.model.mount_nodes()
        if nodes and not self.tree.isExpanded(self.model.index_of(nodes[0])):
            self.tree.expand(self.model.index_of(nodes[0]))

    def _track(self, task: workers.Task) -> workers.Task:
        """Remember a pending start-up/mount task (``idle`` waits for them)."""
        self._pending.add(task)
        task.signals.done.connect(lambda *_: self._untrack(task))
        task.signals.failed.connect(lambda *_: self._untrack(task))
        return task

    def _untrack(self, task: workers.Task) -> None:
        self._pending.discard(task)
        self._update_activity()
        # Deliver after the task's own callbacks (which may add the mount) have run.
        QTimer.singleShot(0, self._try_deferred_select)

    def idle(self) -> bool:
        """True when nothing is loading: no listing, no pending mount, no reveal in progress."""
        return self._started and not self.model.busy and not self._pending and not self.selecting

    # -- mounts ----------------------------------------------------------------------
    def add_mount(self, spec: MountSpec, *, save: bool = True, expand: bool = True) -> QModelIndex:
        """Mount ``spec`` (registering its S3 scheme when needed) and show it in the tree."""
        try:
            uri = register(spec)
        except Exception as e:  # noqa: BLE001 - a bad spec becomes a message
            self.status(f"Cannot mount {spec.name}: {workers.describe_error(e)}")
            return QModelIndex()
        index = self.model.add_mount(spec, uri)
        if save:
            self.save_mounts()
        if expand and self.model.node(index).state == IDLE:
            self.tree.expand(index)
        self.status(f"Mounted {spec.name} ({uri})")
        self.mounted.emit(uri)
        return index

    def save_mounts(self) -> None:
        """Write the current mounts to the settings (secrets excluded)."""
        if self.persist:
            self.store.save(self.model.mounts())

    def open_uri(self, text: str) -> None:
        """Show ``text`` in the tree: reveal it under an existing mount, or mount it (folder, bucket, container)."""
        import storecore

        try:
            loc = storecore.Location.parse(text)
        except Exception as e:  # noqa: BLE001
            self.status(workers.describe_error(e))
            return
        uri = str(loc)
        node, _exact = self.model.locate(uri)
        if node is not None:
            self.reveal(uri)
            return

        def probe() -> tuple[str, str, str]:
            """(kind, mount uri, target) for ``uri``: containers mount whole, files mount their folder."""
            outer = str(loc.outer)
            kind = guess_kind(outer)
            if kind in ("zarr", "hdf5"):
                backend, l2 = storecore.backend_for(outer)
                backend.stat(l2.path)
                return kind, outer, uri
            backend, l2 = storecore.backend_for(uri)
            entry = backend.stat(l2.path)
            if entry.is_dir:
                return kind, uri, uri
            return kind, str(loc.parent), uri

        def done(result: tuple[str, str, str]) -> None:
            kind, root, target = result
            if self.model.locate(root)[0] is None:
                spec = MountSpec(default_name(root) or root, root, kind)
                self.add_mount(spec, save=self.persist, expand=True)
            if target != root:
                self.reveal(target)
            else:
                node = self.model.find_loaded(root)
                if node is not None:
                    self.tree.setCurrentIndex(self.model.index_of(node))

        self.status(f"Opening {uri}…")
        self._track(workers.submit(probe, on_done=done, on_error=lambda m, _e: self.status(m)))

    def current_index(self) -> QModelIndex:
        """The tree's current index (column 0)."""
        index = self.tree.currentIndex()
        return index.siblingAtColumn(0) if index.isValid() else index

    def current_node(self) -> TreeNode | None:
        """The node of the current row."""
        return self.model.node(self.current_index())

    def _mount_index(self, index: QModelIndex) -> QModelIndex:
        node = self.model.node(index)
        while node is not None and node.kind != "mount":
            node = node.parent
        return self.model.index_of(node) if node is not None else QModelIndex()

    def unmount_current(self) -> None:
        """Remove the mount of the current row."""
        index = self._mount_index(self.current_index())
        if index.isValid():
            spec = self.model.remove_mount(index)
            self.save_mounts()
            if spec is not None:
                self.status(f"Unmounted {spec.name}")

    def rename_mount_current(self) -> None:
        """Ask for a new display name for the current mount."""
        index = self._mount_index(self.current_index())
        node = self.model.node(index)
        if node is None:
            return
        name, ok = QInputDialog.getText(self, "Rename mount", "Name:", text=node.name)
        if ok and name.strip():
            self.model.rename_mount(index, name)
            self.save_mounts()

    def edit_mount_current(self) -> None:
        """Re-open the mount dialog for the current mount (e.g. to enter keys again)."""
        index = self._mount_index(self.current_index())
        node = self.model.node(index)
        if node is None or node.spec is None:
            return
        from .dialogs.mount_dialog import MountDialog

        dialog = MountDialog(self, node.spec)
        if dialog.exec():
            self.model.remove_mount(index)
            self.add_mount(dialog.spec())

    def add_mount_dialog(self) -> None:
        """Open the "Add mount" dialog and mount what it returns."""
        from .dialogs.mount_dialog import MountDialog

        dialog = MountDialog(self)
        if dialog.exec():
            self.add_mount(dialog.spec())

    # -- navigation ---------------------------------------------------------------------
    def navigate(self, text: str) -> None:
        """Path bar Enter: go to ``text`` (mounting it when no mount contains it)."""
        self.open_uri(text)

    def focus_path_bar(self) -> None:
        """Put the cursor in the path bar."""
        self.path_bar.setFocus()
        self.path_bar.selectAll()

    def reveal(self, uri: str) -> None:
        """Expand the tree down to ``uri`` (listing levels as needed) and select it; ``revealed`` when done."""
        try:
            import storecore

            uri = str(storecore.Location.parse(uri))
        except Exception as e:  # noqa: BLE001
            self.status(workers.describe_error(e))
            return
        self._reveal_target = uri
        self._continue_reveal()

    def _continue_reveal(self) -> None:
        target = self._reveal_target
        if target is None:
            return
        node, exact = self.model.locate(target)
        if node is None:
            self._reveal_target = None
            self.status(f"{target} is not under any mount")
            return
        index = self.model.index_of(node)
        if exact:
            self._reveal_target = None
            self.tree.scrollTo(index)
            self.tree.setCurrentIndex(index)
            self.revealed.emit(target)
            return
        self.tree.expand(index)
        if node.state == IDLE and node.expandable:
            self.model.fetchMore(index)
        elif node.state != LOADING or not node.expandable:
            self._reveal_target = None
            self.tree.setCurrentIndex(index)
            self.status(f"{target} was not found" + (f": {node.error}" if node.error else ""))
        # else: still loading; page_loaded / fetch_finished call back here

    def go_up(self) -> None:
        """Select the parent of the current row."""
        index = self.current_index()
        if index.isValid() and index.parent().isValid():
            self.tree.setCurrentIndex(index.parent())

    def refresh_current(self) -> None:
        """List the current folder (or the current file's folder) again."""
        index = self.current_index()
        if index.isValid():
            self.model.refresh(index)
        else:
            self.model.refresh(QModelIndex())

    def compare_selected(self) -> None:
        """Compare the two selected locations (rclone-check style) in a dialog that can copy what is missing."""
        uris = self.selected_uris()
        if len(uris) != 2:
            self.status("Select two folders or files to compare (Ctrl+click)")
            return
        from .dialogs.compare_dialog import CompareDialog

        submit = self.queue_dock.submit if self.queue_dock is not None else None
        dialog = CompareDialog(uris[0], uris[1], copy_callback=submit, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.compare_dialog = dialog

    def find_here(self) -> None:
        """Ctrl+F: start a search below the current folder."""
        if self.find_dock is None:
            return
        folder = self._folder_of(self.current_node())
        self.find_dock.show()
        self.find_dock.raise_()
        self.find_dock.start_search(folder.uri if folder is not None else "")

    def copy_selection(self) -> None:
        """Ctrl+C: put the selected rows on the clipboard (URI list, text, file URLs of local files)."""
        uris = self.selected_uris()
        if uris:
            set_clipboard(uri_mime_data(uris))
            self.status(f"Copied {len(uris)} item{'s' if len(uris) > 1 else ''}: {uris[0]}{' …' if len(uris) > 1 else ''}")

    def copy_uri(self) -> None:
        """Copy the selected rows' URIs to the clipboard (the same as Ctrl+C)."""
        self.copy_selection()

    def copy_as_python(self, node: TreeNode | None = None) -> None:
        """Copy the few lines of Python that open ``node`` (the current row) with storecore and slice it."""
        from storecore.snippets import python_snippet

        node = node or self.current_node()
        if node is None or not node.uri:
            return
        QGuiApplication.clipboard().setText(python_snippet(node.uri, node.kind))
        self.status(f"Copied Python for {node.uri}")

    @staticmethod
    def clipboard_uris() -> list[str]:
        """URIs on the clipboard: ours, local file URLs (OS file manager), or text lines that are all URIs/paths."""
        data = QGuiApplication.clipboard().mimeData()
        if data is None:
            return []
        uris = MountsModel.uris_from_mime(data)
        if not uris and data.hasText():
            lines = [line.strip() for line in data.text().splitlines() if line.strip()]
            if lines and all(line.startswith("/") or "://" in line for line in lines):
                uris = lines
        return uris

    def paste_target(self) -> TreeNode | None:
        """Where Ctrl+V copies to: the current folder/bucket/group row, or the folder of the current file."""
        node = self.current_node()
        if node is not None and node.kind not in DROP_KINDS:
            node = node.parent
        return node if node is not None and node.kind in DROP_KINDS else None

    def paste_into_current(self) -> None:
        """Ctrl+V: copy the clipboard's URIs into the current folder through the transfer queue."""
        uris = self.clipboard_uris()
        if not uris:
            self.status("Nothing to paste: copy files or folders first")
            return
        target = self.paste_target()
        if target is None:
            self.status("Select a folder, bucket or group to paste into")
            return
        sources = [u for u in uris if not is_ancestor_uri(u, target.uri)]
        if not sources:
            self.status(f"Cannot paste {uris[0]} into itself")
            return
        self.submit_transfer(sources, target.uri, "copy")

    def selected_uris(self) -> list[str]:
        """URIs of the selected rows (the current row when nothing is selected)."""
        rows = self.selection.selectedRows(0)
        if not rows and self.current_index().isValid():
            rows = [self.current_index()]
        return [self.model.uri(i) for i in rows]

    # -- drag out to other applications ------------------------------------------------------
    def _drag_stamp(self, uri: str) -> tuple | None:
        """(size, mtime) of a remote file row that can be downloaded for a drag; None otherwise."""
        node = self.model.find_loaded(uri)
        if node is None or node.kind != "file" or "::" in uri or node.size is None:
            return None
        return (node.size, node.mtime)

    def drag_local_copy(self, uri: str) -> str | None:
        """The downloaded copy of remote ``uri`` when it is still current (local paths are their own copy)."""
        if is_local_uri(uri):
            return uri
        cached = self._drag_copies.get(uri)
        if cached is None or cached[0] != self._drag_stamp(uri) or not os.path.isfile(cached[1]):
            return None
        return cached[1]

    def drag_mime(self, uris: list[str]) -> Any:
        """Mime data for dragging ``uris``: our URI list (in-app drops) plus file URLs of local copies."""
        copies = {u: p for u in uris if not is_local_uri(u) and (p := self.drag_local_copy(u))}
        return uri_mime_data(uris, copies)

    def prepare_drag_copies(self, uris: list[str], then: Callable[[list[str]], None] | None = None) -> workers.Task:
        """Download remote files into a private temporary folder on a worker; ``drag_copies_ready`` when done."""
        if self._drag_dir is None:
            self._drag_dir = tempfile.mkdtemp(prefix="storescope-drag-")
        jobs = []
        for uri in uris:
            stamp = self._drag_stamp(uri)
            # one folder per version, so the file keeps its own name for the drop target
            sub = hashlib.sha256(repr((uri, stamp)).encode()).hexdigest()[:20]
            jobs.append((uri, stamp, os.path.join(self._drag_dir, sub, uri.rstrip("/").rsplit("/", 1)[-1])))
        total = sum(stamp[0] for _u, stamp, _p in jobs if stamp) or None
        emit = self._drag_progress.emit

        def download(token: workers.CancelToken) -> list[tuple[str, tuple, str]]:
            import storecore.transfer

            done_before = 0
            for uri, _stamp, path in jobs:
                if token.cancelled:
                    break
                if not os.path.isfile(path):
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    storecore.transfer.copy(uri, path, progress=lambda d, _t, base=done_before: emit(
                        f"Downloading for the drag… {human_size(base + d)}" + (f" of {human_size(total)}" if total else "")
                    ), cancel=token)
                done_before += os.path.getsize(path)
            return jobs

        def ready(result: list[tuple[str, tuple, str]]) -> None:
            self._drag_task = None
            for uri, stamp, path in result:
                self._drag_copies[uri] = (stamp, path)
            done = [u for u, _s, _p in result]
            if then is not None:
                then(done)
            self.drag_copies_ready.emit(done)

        def failed(message: str, _exc: BaseException) -> None:
            self._drag_task = None
            self.status(f"Could not download for the drag: {message}")

        if self._drag_task is not None:
            self._drag_task.cancel()
        self.status(f"Downloading {len(uris)} item{'s' if len(uris) > 1 else ''} for the drag…")
        self._drag_task = workers.submit(download, with_token=True, on_done=ready, on_error=failed)
        return self._drag_task

    def start_drag(self) -> None:
        """Drag the selected rows; remote files are downloaded first so other applications get local files.

        The drag starts at once when every item is local or already downloaded.
        Otherwise the download runs on a worker; the drag starts when it ends if
        the mouse button is still held, else a message asks to drag again.
        In-app drops always use the original URIs (never the downloaded copies).
        """
        uris = self.selected_uris()
        if not uris:
            return
        missing = [u for u in uris if self.drag_local_copy(u) is None]
        wanted = [u for u in missing if self._drag_stamp(u) is not None]
        size = sum(self._drag_stamp(u)[0] for u in wanted)
        if not wanted or size > DRAG_DOWNLOAD_MAX:
            if missing:
                self.status("Remote folders, container members and large files are offered to other applications "
                            "as URIs only; use Download to… for local copies")  # fmt: skip
            self.tree.exec_drag(self.drag_mime(uris))
            return
        def go(done: list[str]) -> None:
            if QGuiApplication.mouseButtons() & Qt.MouseButton.LeftButton:
                self.status("")
                self.tree.exec_drag(self.drag_mime(uris))
            else:
                self.status(f"Downloaded {len(done)} item{'s' if len(done) > 1 else ''}: drag again to drop them "
                            "outside Storescope")  # fmt: skip

        self.prepare_drag_copies(wanted, then=go)

    # -- selection, filter, status --------------------------------------------------------
    @staticmethod
    def _folder_of(node: TreeNode | None) -> TreeNode | None:
        while node is not None and not node.expandable:
            node = node.parent
        return node

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        node = self.model.node(current)
        if node is None:
            return
        self.path_bar.set_uri(node.uri)
        folder = self._folder_of(node)
        if folder is not self._current_folder:
            self._current_folder = folder
            if self._filter_node is not None and self._filter_node is not folder:
                self.filter_folder(None, "")
                self.filter_box.blockSignals(True)
                self.filter_box.clear()
                self.filter_box.blockSignals(False)
        self._update_counts()
        if self.preview is not None:
            self.preview.show_location(node.uri)

    def _apply_filter(self, text: str) -> None:
        folder = self._current_folder
        if folder is None or folder.parent is None:
            return
        self.filter_folder(folder, text)
        index = self.model.index_of(folder)
        if folder.state == IDLE:
            self.model.fetchMore(index)
        self.tree.expand(index)

    def filter_folder(self, folder: TreeNode | None, text: str) -> None:
        """Hide the rows of ``folder`` whose names do not match ``text`` (``None``/empty: clear the filter)."""
        old = self._filter_node
        if old is not None and old is not folder and not old.removed:
            self._filter_rows(old, "", 0)
        self._filter_node = folder if folder is not None and text else None
        self._filter_text = text
        self._hidden = 0
        self._filtered_upto = 0
        if folder is not None:
            self._filter_rows(folder, text, 0)
        self._update_counts()

    def _filter_rows(self, folder: TreeNode, text: str, start: int) -> None:
        """Apply ``text`` to ``folder.children[start:]`` (rows arriving while a filter is set go through here)."""
        parent = self.model.index_of(folder)
        children = folder.children
        for child in children[start:]:
            if child.item is None or child.removed:
                continue
            hide = bool(text) and not name_matches(child.name, text)
            self.tree.setRowHidden(child.item.row(), parent, hide)
            self._hidden += hide
        self._filtered_upto = len(children)

    def _update_counts(self) -> None:
        folder = self._current_folder
        if folder is None or folder.parent is None or folder.removed:
            self.count_label.setText(f"{len(self.model.mount_nodes())} mounts")
            return
        total = len(folder.children)
        if folder.state == IDLE and not total:
            self.count_label.setText(f"{folder.name}: not listed yet")
            return
        hidden = self._hidden if folder is self._filter_node else 0
        text = f"{total:,} items" if not hidden else f"{total - hidden:,} of {total:,} items"
        if folder.state == LOADING:
            text += " (loading…)"
        self.count_label.setText(f"{folder.name}: {text}")

    def _update_activity(self, *_args: Any) -> None:
        if self.model.busy:
            loading = self.model.loading_count
            self.activity_label.setText(f"Listing {loading} folder{'s' if loading > 1 else ''}…")
        elif self._pending:
            self.activity_label.setText("Working…")
        else:
            self.activity_label.setText("")

    def _on_page_loaded(self, uri: str, _count: int) -> None:
        folder = self._filter_node
        if folder is not None and folder.uri == uri:
            if self._filtered_upto > len(folder.children):  # refreshed: start over
                self._hidden, self._filtered_upto = 0, 0
            self._filter_rows(folder, self._filter_text, self._filtered_upto)
        self._update_counts()
        self._update_activity()
        if self._reveal_target is not None:
            self._continue_reveal()

    def _on_fetch_finished(self, _uri: str) -> None:
        self._update_counts()
        self._update_activity()
        if self._reveal_target is not None:
            self._continue_reveal()

    def _on_model_error(self, uri: str, message: str) -> None:
        self.status(message)

    def status(self, text: str) -> None:
        """Show a message in the status bar for a while."""
        self.statusBar().showMessage(text, STATUS_TIMEOUT_MS)

    # -- actions on items -------------------------------------------------------------------
    def _on_activated(self, index: QModelIndex) -> None:
        node = self.model.node(index)
        if node is not None and not node.expandable and self.preview is not None:
            self.preview.show_location(node.uri)

    def open_item(self, index: QModelIndex) -> None:
        """Open: toggle a folder, open a local file with the system, preview anything else."""
        node = self.model.node(index)
        if node is None:
            return
        if node.expandable:
            self.tree.setExpanded(index, not self.tree.isExpanded(index))
        elif node.uri.startswith("/") and "::" not in node.uri:
            QDesktopServices.openUrl(QUrl.fromLocalFile(node.uri))
        elif self.preview is not None:
            self.preview.show_location(node.uri)

    def build_context_menu(self, index: QModelIndex) -> QMenu:
        """The context menu for the row at ``index`` (empty space: mount actions only)."""
        menu = QMenu(self)
        # The actions are also kept in a Python list (``menu.action_list``): ``menu.actions()`` looks
        # wrappers up by address and can hand back a stale one after many tree items were freed.
        actions: list[QAction] = []
        menu.action_list = actions

        def add(text: str, slot: Any) -> None:
            actions.append(add_action(menu, text, slot))

        def add_existing(action: QAction) -> None:
            menu.addAction(action)
            actions.append(action)

        def separator() -> None:
            action = QAction(menu)
            action.setSeparator(True)
            add_existing(action)

        node = self.model.node(index)
        if node is None:
            add_existing(self.act_add)
            add_existing(self.act_refresh_all)
            return menu
        inside_container = "::" in node.uri
        writable_folder = node.kind in ("mount", "folder") and not (node.spec and node.spec.kind in ("zarr", "hdf5"))
        add("Open", lambda: self.open_item(index))
        add("Copy URI", self.copy_uri)
        add("Copy as Python", lambda: self.copy_as_python(node))
        if node.kind in DROP_KINDS:  # (the clipboard is read on paste, not each time the menu opens)
            add("Paste here", self.paste_into_current)
        add("Refresh", lambda: self.model.refresh(index))
        separator()
        if writable_folder:
            add("New folder…", lambda: self.new_folder_dialog(node))
        if node.kind != "mount" and not inside_container:
            add("Rename…", lambda: self.rename_item_dialog(node))
            add("Delete…", lambda: self.delete_selected(confirm=True))
        separator()
        add("Download to…", self.download_dialog)
        if node.kind in DROP_KINDS:
            add("Upload here…", lambda: self.upload_dialog(node))
        if node.expandable and self.find_dock is not None:
            add("Find here…", self.find_here)
        if len(self.selected_uris()) == 2:
            separator()
            add("Compare…", self.compare_selected)
        if node.kind == "mount":
            separator()
            add_existing(self.act_edit_mount)
            add_existing(self.act_rename_mount)
            add_existing(self.act_unmount)
        return menu

    def _context_menu(self, pos: Any) -> None:
        index = self.tree.indexAt(pos)
        if index.isValid():
            self.tree.setCurrentIndex(index)
        self.build_context_menu(index.siblingAtColumn(0) if index.isValid() else index).exec(
            self.tree.viewport().mapToGlobal(pos)
        )

    def _run(self, what: str, fn: Any, *args: Any, then: Any = None) -> workers.Task:
        """Run a storage operation on a worker; report success or the error in the status bar."""
        self.status(f"{what}…")

        def ok(_result: Any) -> None:
            self.status(f"{what}: done")
            if then is not None:
                then()

        return self._track(workers.submit(fn, *args, on_done=ok, on_error=lambda m, _e: self.status(f"{what} failed: {m}")))

    def new_folder(self, folder: TreeNode, name: str) -> workers.Task:
        """Create the folder ``name`` inside ``folder`` (on a worker), then refresh it."""
        import storecore

        def make() -> None:
            backend, loc = storecore.backend_for(folder.uri)
            backend.mkdir(loc.join(name).path)

        return self._run(f"New folder {name}", make, then=lambda: self.model.refresh_uri(folder.uri))

    def new_folder_dialog(self, folder: TreeNode) -> None:
        """Ask for a name and create the folder."""
        name, ok = QInputDialog.getText(self, "New folder", f"Name of the new folder in {folder.name}:")
        if ok and name.strip():
            self.new_folder(folder, name.strip())

    def rename_item(self, node: TreeNode, new_name: str) -> workers.Task:
        """Rename a file or folder in place (on a worker), then refresh its folder."""
        import storecore

        parent_uri = node.parent.uri if node.parent is not None else ""

        def move() -> None:
            backend, loc = storecore.backend_for(node.uri)
            backend.move(loc.path, loc.parent.join(new_name).path)

        return self._run(f"Rename {node.name} → {new_name}", move, then=lambda: self.model.refresh_uri(parent_uri))

    def rename_item_dialog(self, node: TreeNode) -> None:
        """Ask for the new name and rename."""
        name, ok = QInputDialog.getText(self, "Rename", "New name:", text=node.name)
        if ok and name.strip() and name.strip() != node.name:
            self.rename_item(node, name.strip())

    def delete_uris(self, uris: list[str]) -> workers.Task:
        """Delete ``uris`` (files or whole folders) on a worker, then refresh their folders."""
        import storecore

        def delete() -> int:
            for uri in uris:
                backend, loc = storecore.backend_for(uri)
                backend.delete(loc.path, recursive=True)
            return len(uris)

        parents = {str(storecore.Location.parse(u).parent) for u in uris}
        what = f"Delete {len(uris)} item{'s' if len(uris) > 1 else ''}"
        return self._run(what, delete, then=lambda: [self.model.refresh_uri(p) for p in parents])

    def delete_selected(self, *, confirm: bool = True) -> None:
        """Delete the selected rows after a confirmation."""
        uris = [u for u in self.selected_uris() if "::" not in u and self.model.find_loaded(u) is not None
                and self.model.find_loaded(u).kind != "mount"]
        if not uris:
            return
        if confirm:
            listing = "\n".join(uris[:10]) + ("\n…" if len(uris) > 10 else "")
            answer = QMessageBox.question(
                self, "Delete", f"Delete {len(uris)} item(s) permanently?\n\n{listing}",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.delete_uris(uris)

    def download_dialog(self) -> None:
        """Copy the selected rows into a local folder chosen by the user (through the transfer queue)."""
        uris = self.selected_uris()
        if not uris:
            return
        folder = QFileDialog.getExistingDirectory(self, "Download to")
        if folder:
            self.submit_transfer(uris, folder, "copy")

    def upload_dialog(self, node: TreeNode) -> None:
        """Copy local files chosen by the user into ``node`` (through the transfer queue)."""
        files, _ = QFileDialog.getOpenFileNames(self, f"Upload to {node.name}")
        if files:
            self.submit_transfer(files, node.uri, "copy")

    def submit_transfer(self, src_uris: list[str], dst_uri: str, op: str = "copy") -> None:
        """Hand a copy/move to the transfer queue dock."""
        if self.queue_dock is None:
            self.status("The transfer queue is not ready yet")
            return
        self.queue_dock.submit(list(src_uris), dst_uri, op)
        self.queue_dock.show()
        self.queue_dock.raise_()
        verb = "Moving" if op == "move" else "Copying"
        self.status(f"{verb} {len(src_uris)} item{'s' if len(src_uris) > 1 else ''} to {dst_uri}")

    def show_about(self) -> None:
        """The About dialog."""
        from .dialogs.about_dialog import AboutDialog

        AboutDialog(self).exec()

    # -- window state ----------------------------------------------------------------------
    def _restore_state(self) -> bool:
        """Restore the saved geometry and dock layout; False when there was none."""
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        return state is not None and bool(self.restoreState(state))

    def closeEvent(self, event: Any) -> None:
        if self.persist:
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState())
            self.settings.sync()
        for node in self.model.mount_nodes():
            self.model._cancel_below(node)
        if self.preview is not None:
            self.preview.clear()  # cancels its load: no late result may reach a closed window
        if self.queue_dock is not None and hasattr(self.queue_dock, "shutdown"):
            self.queue_dock.shutdown()
        if self._drag_task is not None:
            self._drag_task.cancel()
        if self._drag_dir is not None:
            shutil.rmtree(self._drag_dir, ignore_errors=True)
            self._drag_dir = None
            self._drag_copies.clear()
        super().closeEvent(event)
