"""The Storescope main window: mounts tree, preview, transfer queue and find docks, path bar, menus.

The window builds and lays out the widgets; what it does lives in controllers
(:mod:`app.controllers`): navigation, file operations, clipboard and drag, and
the session (mounts and layout in the settings).  Its public methods delegate
to them.  Everything that touches storage goes through :mod:`app.workers`.
Panels whose modules may be heavy (preview, transfer queue, find) are built
right after the first paint, so the window is on screen fast
(``MainWindow(lazy=True)`` + :meth:`MainWindow.finish_startup`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShowEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QLineEdit, QMainWindow, QMenu, QToolBar, QVBoxLayout, QWidget

from . import workers
from .controllers.clipboard import ClipboardController, _release_clipboard, clipboard_uris, set_clipboard
from .controllers.file_ops import FileOperations
from .controllers.navigation import Navigation, folder_of
from .controllers.places import Places
from .controllers.session import Session
from .icons import app_icon, icon
from .models.mounts_model import DROP_KINDS, MountsModel, TreeNode
from .mounts import MountSpec, MountStore
from .mounts_tree import MountsTree
from .pathbar import PathBar
from .qtcompat import add_action
from .theme import THEME_KEY, THEMES, ThemeManager, saved_theme

__all__ = ["DRAG_DOWNLOAD_MAX", "MainWindow", "MountsTree", "STATUS_TIMEOUT_MS", "_release_clipboard", "set_clipboard"]

STATUS_TIMEOUT_MS = 12_000
#: the transfer dock never restores lower than this (its buttons, header and three rows)
QUEUE_DOCK_MIN_HEIGHT = 150
#: ... nor taller than this share of the window (the plot above needs the room)
QUEUE_DOCK_MAX_SHARE = 0.45
#: remote files dragged out to other applications are downloaded first when together at most this big
DRAG_DOWNLOAD_MAX = 512 * 1024 * 1024


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

        self.setWindowTitle("Storescope")
        self.setWindowIcon(app_icon())
        self.resize(1500, 920)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self._build_tree_dock()
        self._placeholder: QLabel | None = QLabel("Loading…")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(self._placeholder)
        self.path_bar = PathBar()
        self.count_label = QLabel("")
        self.activity_label = QLabel("")
        self.statusBar().addPermanentWidget(self.activity_label)
        self.statusBar().addPermanentWidget(self.count_label)

        self.nav = Navigation(self)
        self.files = FileOperations(self)
        self.clipboard = ClipboardController(self)
        self.session = Session(self)
        self.places = Places(self)
        self.theme = ThemeManager()
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._connect()
        self._set_tab_order()
        if not lazy:
            self._build_panels()

    # -- construction -------------------------------------------------------------
    def _build_tree_dock(self) -> None:
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
        self.act_bookmark = self._action("&Bookmark this location", self.places.toggle_current_bookmark, "Ctrl+B", None,
                                         "Bookmark the selected location (again: remove the bookmark)")
        self.act_clear_recent = self._action("&Clear recent", self.places.clear_recent)
        self.act_next_pane = self._action("Next &pane", lambda: self.cycle_focus(1), "F6", None,
                                          "Move the keyboard focus: tree → preview → path bar")
        self.act_prev_pane = self._action("Previous pane", lambda: self.cycle_focus(-1), "Shift+F6")
        self.act_shortcuts = self._action("&Keyboard shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self.theme_actions: dict[str, QAction] = {}
        self.theme_group = QActionGroup(self)
        for name in THEMES:
            action = QAction({"system": "Follow the &system", "light": "&Light", "dark": "&Dark"}[name], self)
            action.setCheckable(True)
            action.triggered.connect(lambda _checked=False, n=name: self.set_theme(n))
            self.theme_group.addAction(action)
            self.theme_actions[name] = action
        for a in (self.act_refresh, self.act_up, self.act_find, self.act_copy_uri, self.act_open, self.act_bookmark,
                  self.act_next_pane, self.act_prev_pane, self.act_shortcuts):
            self.addAction(a)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Navigation", self)
        bar.setObjectName("NavigationToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        # SVG drawings (resources/icons): crisp at any scale factor, unlike the style's bitmaps
        self.act_refresh.setIcon(icon("refresh"))
        self.act_up.setIcon(icon("up"))
        self.act_find.setIcon(icon("find"))
        self.act_bookmark.setIcon(icon("bookmark"))
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
        self.recent_menu = m.addMenu("&Recent")
        self.recent_menu.aboutToShow.connect(self.rebuild_recent_menu)
        m.addSeparator()
        m.addAction(self.act_quit)
        self.bookmarks_menu = menu.addMenu("&Bookmarks")
        self.bookmarks_menu.aboutToShow.connect(self.rebuild_bookmarks_menu)
        self.rebuild_recent_menu()
        self.rebuild_bookmarks_menu()
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
        self.theme_menu = self.view_menu.addMenu("&Theme")
        for action in self.theme_actions.values():
            self.theme_menu.addAction(action)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.act_next_pane)
        m = menu.addMenu("&Help")
        m.addAction(self.act_shortcuts)
        m.addAction(self.act_about)

    def _connect(self) -> None:
        self.nav.connect()
        self.clipboard.connect()
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.model.error.connect(lambda _uri, message: self.status(message))
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
        self.preview.message.connect(self.status)
        self.preview.loaded.connect(self._on_preview_loaded)
        self.preview.widget_created.connect(lambda _w: self.theme.style_plots(self.preview))
        self.queue_dock = TransferQueueDock(self)
        self.queue_dock.setObjectName("TransferQueueDock")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.queue_dock)
        self.queue_dock.job_finished.connect(self._on_transfer_landed)
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
        self._set_tab_order()
        self.apply_theme(saved_theme(self.settings))
        if not self.session.restore_window_state():
            # Docks only take sizes once laid out: apply the default proportions on the next turn.
            QTimer.singleShot(0, self._default_dock_sizes)
        else:
            QTimer.singleShot(0, self.fit_queue_dock)
        warning = getattr(self.preview.budget, "warning", "")
        if warning:
            self.status(warning)

    def _default_dock_sizes(self) -> None:
        self.layout().activate()  # docks added after the first show need a laid-out window to take sizes
        # the tree's four columns need ~520 px; the preview wraps its controls and is fine narrower
        self.resizeDocks([self.mounts_dock], [max(380, int(self.width() * 0.36))], Qt.Orientation.Horizontal)
        # an empty queue needs its buttons, header and a couple of rows; it grows when dragged
        self.resizeDocks([self.queue_dock], [QUEUE_DOCK_MIN_HEIGHT], Qt.Orientation.Vertical)

    def fit_queue_dock(self) -> None:
        """Keep a restored transfer dock between its minimum and a share of the window (never two rows high)."""
        dock = self.queue_dock
        if dock is None or not dock.isVisible() or dock.isFloating():
            return
        self.layout().activate()
        top = max(QUEUE_DOCK_MIN_HEIGHT, int(self.height() * QUEUE_DOCK_MAX_SHARE))
        height = dock.height()
        if height < QUEUE_DOCK_MIN_HEIGHT or height > top:
            self.resizeDocks([dock], [min(max(height, QUEUE_DOCK_MIN_HEIGHT), top)], Qt.Orientation.Vertical)

    # -- places, theme, keyboard ---------------------------------------------------------------
    def _menu_action(self, menu: QMenu, text: str, slot: Callable[[], None], tip: str = "") -> QAction:
        action = add_action(menu, text, slot)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        menu.action_list.append(action)
        return action

    def rebuild_recent_menu(self) -> None:
        """Fill File ▸ Recent from the settings (newest first)."""
        menu = self.recent_menu
        menu.clear()
        menu.action_list = []
        recent = self.places.recent()
        for number, uri in enumerate(recent, 1):
            self._menu_action(menu, f"&{number % 10} {uri.replace('&', '&&')}", lambda u=uri: self.places.jump(u), uri)
        if not recent:
            empty = self._menu_action(menu, "(nothing opened yet)", lambda: None)
            empty.setEnabled(False)
        menu.addSeparator()
        menu.addAction(self.act_clear_recent)
        self.act_clear_recent.setEnabled(bool(recent))

    def rebuild_bookmarks_menu(self) -> None:
        """Fill the Bookmarks menu: add/remove for the selection, then one entry per bookmark."""
        menu = self.bookmarks_menu
        menu.clear()
        menu.action_list = []
        node = self.current_node()
        marked = node is not None and self.places.is_bookmarked(node.uri)
        self.act_bookmark.setText("&Remove this bookmark" if marked else "&Bookmark this location")
        self.act_bookmark.setEnabled(node is not None)
        menu.addAction(self.act_bookmark)
        menu.addSeparator()
        marks = self.places.bookmarks()
        for uri in marks:
            self._menu_action(menu, uri.replace("&", "&&"), lambda u=uri: self.places.jump(u), uri)
        if not marks:
            empty = self._menu_action(menu, "(no bookmarks: Ctrl+B adds the selection)", lambda: None)
            empty.setEnabled(False)

    def _on_preview_loaded(self, uri: str) -> None:
        """Files, arrays and groups shown in the preview go to File ▸ Recent (folders do not)."""
        target = self.preview.target if self.preview is not None else None
        if target is not None and target.uri == uri and target.kind not in ("folder", "bucket"):
            self.places.add_recent(uri)

    def _on_transfer_landed(self, folder_uri: str) -> None:
        """A transfer ended in ``folder_uri``: list it again, and refresh its summary when it is on show."""
        self.model.refresh_uri(folder_uri)
        preview = self.preview
        shown = getattr(preview, "_uri", None) if preview is not None else None
        target = getattr(preview, "target", None)
        if shown and target is not None and target.kind in ("folder", "bucket", "dataset", "group"):
            if shown.rstrip("/") == folder_uri.rstrip("/") or folder_uri.rstrip("/").startswith(shown.rstrip("/") + "/"):
                preview.show_location(shown)

    def apply_theme(self, choice: str) -> str:
        """Use ``choice`` (system/light/dark) without saving it; returns the scheme in effect."""
        if choice not in THEMES:
            choice = "system"
        self.theme_actions[choice].setChecked(True)
        return self.theme.apply(choice, self)

    def set_theme(self, choice: str) -> str:
        """View ▸ Theme: use ``choice`` and remember it."""
        scheme = self.apply_theme(choice)
        if self.persist:
            self.settings.setValue(THEME_KEY, self.theme.choice)
            self.settings.sync()
        return scheme

    def focus_panes(self) -> list[QWidget]:
        """What F6 cycles through: the tree, the preview, the path bar."""
        panes: list[QWidget] = [self.tree]
        if self.preview is not None:
            panes.append(self.preview)
        panes.append(self.path_bar)
        return panes

    def cycle_focus(self, step: int = 1) -> QWidget:
        """F6 / Shift+F6: move the focus to the next (previous) pane; returns the widget focused."""
        from PySide6.QtWidgets import QApplication

        panes = self.focus_panes()
        focused = QApplication.focusWidget()
        current = -1
        for i, pane in enumerate(panes):
            if focused is not None and (focused is pane or pane.isAncestorOf(focused)):
                current = i
                break
        pane = panes[(current + step) % len(panes)] if current >= 0 else panes[0]
        if pane is self.preview:
            target = self.preview.focus_target()
        else:
            target = pane
        target.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if target is self.path_bar:
            self.path_bar.selectAll()
        return target

    def _set_tab_order(self) -> None:
        """Tab: path bar → filter → tree → preview (its controls, then the plot)."""
        QWidget.setTabOrder(self.path_bar, self.filter_box)
        QWidget.setTabOrder(self.filter_box, self.tree)
        if self.preview is not None:
            QWidget.setTabOrder(self.tree, self.preview)

    def shortcut_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """What Help ▸ Keyboard shortcuts lists: the window's actions, the tree's keys, the plot's."""
        from .dialogs.shortcuts_dialog import plot_shortcuts

        def keys(action: QAction) -> str:
            return ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())

        window: list[tuple[str, str]] = []
        for action in (self.act_open, self.act_add, self.act_find, self.act_compare, self.act_refresh, self.act_up,
                       self.act_copy_uri, self.act_bookmark, self.act_next_pane, self.act_prev_pane,
                       self.act_shortcuts, self.act_quit):
            if keys(action):
                window.append((keys(action), action.text().replace("&", "").rstrip("…")))
        tree = [("Ctrl+C", "Copy the selected rows (their URIs, or the files to other applications)"),
                ("Ctrl+V", "Paste (transfer) into the selected folder"), ("Enter", "Open / expand"),
                ("Tab", "Path bar → filter → tree → preview"), ("Escape (path bar)", "Restore the shown location")]
        sections = [("Window", window), ("Tree", tree)]
        plot = plot_shortcuts()
        if plot:
            sections.append(("Slice plot", plot))
        return sections

    def shortcuts_dialog(self) -> Any:
        """The Help ▸ Keyboard shortcuts dialog (not shown)."""
        from .dialogs.shortcuts_dialog import ShortcutsDialog

        return ShortcutsDialog(self.shortcut_sections(), self)

    def show_shortcuts(self) -> None:
        self.shortcuts_dialog().exec()

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
        if restore:
            self.session.restore_mounts()
        for uri in uris or []:
            self.open_uri(uri)
        if demo and not uris and not self.model.mount_nodes():
            self.session.mount_demo()
        if select:
            self.select_when_mounted(select)
        nodes = self.model.mount_nodes()
        if nodes and not self.tree.isExpanded(self.model.index_of(nodes[0])):
            self.tree.expand(self.model.index_of(nodes[0]))
        self.tree.setFocus()

    @property
    def pending_tasks(self) -> set[workers.Task]:
        """Start-up and mount tasks not finished yet (``idle`` waits for them)."""
        return self._pending

    def track(self, task: workers.Task) -> workers.Task:
        """Remember a pending start-up/mount task (``idle`` waits for them)."""
        self._pending.add(task)
        # ``released`` always comes (after done/failed, and for a cancelled task too).  A quick task (a local
        # stat from the path bar) can be over before this connects: then its signals went by and it is
        # untracked here, or the status bar would say "Working…" forever.
        task.signals.released.connect(lambda *_: self._untrack(task))
        if task.finished.is_set():
            QTimer.singleShot(0, lambda: self._untrack(task))
        return task

    def _untrack(self, task: workers.Task) -> None:
        if task not in self._pending:
            return
        self._pending.discard(task)
        self.nav.update_activity()
        # Deliver after the task's own callbacks (which may add the mount) have run.
        QTimer.singleShot(0, self.nav.try_deferred_select)

    def idle(self) -> bool:
        """True when nothing is loading: no listing, no pending mount, no reveal in progress."""
        return self._started and not self.model.busy and not self._pending and not self.selecting

    def status(self, text: str) -> None:
        """Show a message in the status bar for a while."""
        self.statusBar().showMessage(text, STATUS_TIMEOUT_MS)

    # -- context menu ------------------------------------------------------------------------
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
            for action in (self.act_edit_mount, self.act_rename_mount, self.act_unmount):
                add_existing(action)
        return menu

    def _context_menu(self, pos: Any) -> None:
        index = self.tree.indexAt(pos)
        if index.isValid():
            self.tree.setCurrentIndex(index)
        self.build_context_menu(index.siblingAtColumn(0) if index.isValid() else index).exec(
            self.tree.viewport().mapToGlobal(pos)
        )

    def show_about(self) -> None:
        """The About dialog."""
        from .dialogs.about_dialog import AboutDialog

        AboutDialog(self).exec()

    def closeEvent(self, event: Any) -> None:
        self.session.save_window_state()
        for node in self.model.mount_nodes():
            self.model._cancel_below(node)
        if self.preview is not None:
            self.preview.clear()  # cancels its load: no late result may reach a closed window
        if self.queue_dock is not None and hasattr(self.queue_dock, "shutdown"):
            self.queue_dock.shutdown()
        self.clipboard.shutdown()
        super().closeEvent(event)

    # -- the public API, delegated to the controllers ----------------------------------------
    # mounts and settings (Session)
    def add_mount(self, spec: MountSpec, *, save: bool = True, expand: bool = True) -> QModelIndex:
        """Mount ``spec`` and show it in the tree (see :meth:`Session.add_mount`)."""
        return self.session.add_mount(spec, save=save, expand=expand)

    def save_mounts(self) -> None:
        self.session.save_mounts()

    def unmount_current(self) -> None:
        self.session.unmount_current()

    def rename_mount_current(self) -> None:
        self.session.rename_mount_current()

    def edit_mount_current(self) -> None:
        self.session.edit_mount_current()

    def add_mount_dialog(self) -> None:
        self.session.add_mount_dialog()

    # navigation
    def open_uri(self, text: str) -> None:
        """Reveal ``text`` under an existing mount, or mount it (see :meth:`Navigation.open_uri`)."""
        self.nav.open_uri(text)

    def navigate(self, text: str) -> None:
        """Path bar Enter: go to ``text`` (mounting it when no mount contains it); it joins File ▸ Recent."""
        self.places.add_recent(text.strip())
        self.nav.open_uri(text)

    def reveal(self, uri: str) -> None:
        """Expand the tree down to ``uri`` and select it; ``revealed`` when done."""
        self.nav.reveal(uri)

    def select_when_mounted(self, uri: str) -> None:
        self.nav.select_when_mounted(uri)

    @property
    def selecting(self) -> bool:
        """True while a ``--select``/reveal target is still being looked for."""
        return self.nav.selecting

    def current_index(self) -> QModelIndex:
        return self.nav.current_index()

    def current_node(self) -> TreeNode | None:
        return self.nav.current_node()

    def selected_uris(self) -> list[str]:
        return self.nav.selected_uris()

    def focus_path_bar(self) -> None:
        self.nav.focus_path_bar()

    def go_up(self) -> None:
        self.nav.go_up()

    def refresh_current(self) -> None:
        self.nav.refresh_current()

    def find_here(self) -> None:
        self.nav.find_here()

    def open_item(self, index: QModelIndex) -> None:
        self.nav.open_item(index)

    def filter_folder(self, folder: TreeNode | None, text: str) -> None:
        self.nav.filter_folder(folder, text)

    _folder_of = staticmethod(folder_of)

    # file operations
    def new_folder(self, folder: TreeNode, name: str) -> workers.Task:
        return self.files.new_folder(folder, name)

    def new_folder_dialog(self, folder: TreeNode) -> None:
        self.files.new_folder_dialog(folder)

    def rename_item(self, node: TreeNode, new_name: str) -> workers.Task:
        return self.files.rename_item(node, new_name)

    def rename_item_dialog(self, node: TreeNode) -> None:
        self.files.rename_item_dialog(node)

    def delete_uris(self, uris: list[str]) -> workers.Task:
        return self.files.delete_uris(uris)

    def delete_selected(self, *, confirm: bool = True) -> None:
        self.files.delete_selected(confirm=confirm)

    def download_dialog(self) -> None:
        self.files.download_dialog()

    def upload_dialog(self, node: TreeNode) -> None:
        self.files.upload_dialog(node)

    def submit_transfer(self, src_uris: list[str], dst_uri: str, op: str = "copy") -> None:
        self.files.submit_transfer(src_uris, dst_uri, op)

    def compare_selected(self) -> None:
        self.files.compare_selected()

    # clipboard and drag
    def copy_selection(self) -> None:
        self.clipboard.copy_selection()

    def copy_uri(self) -> None:
        """Copy the selected rows' URIs to the clipboard (the same as Ctrl+C)."""
        self.clipboard.copy_selection()

    def copy_as_python(self, node: TreeNode | None = None) -> None:
        self.clipboard.copy_as_python(node)

    clipboard_uris = staticmethod(clipboard_uris)

    def paste_target(self) -> TreeNode | None:
        return self.clipboard.paste_target()

    def paste_into_current(self) -> None:
        self.clipboard.paste_into_current()

    def drag_local_copy(self, uri: str) -> str | None:
        return self.clipboard.drag_local_copy(uri)

    def drag_mime(self, uris: list[str]) -> Any:
        return self.clipboard.drag_mime(uris)

    def prepare_drag_copies(self, uris: list[str], then: Callable[[list[str]], None] | None = None) -> workers.Task:
        return self.clipboard.prepare_drag_copies(uris, then)

    def start_drag(self) -> None:
        """Drag the selected rows out (remote files at most ``DRAG_DOWNLOAD_MAX`` bytes are downloaded first)."""
        self.clipboard.start_drag(DRAG_DOWNLOAD_MAX)

    @property
    def _drag_dir(self) -> str | None:
        return self.clipboard.drag_dir
