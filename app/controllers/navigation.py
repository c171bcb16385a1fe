"""Navigation: the path bar, the current row and its folder's filter and counts, reveal and deferred selection."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QUrl
from PySide6.QtGui import QDesktopServices

from .. import workers
from ..models.mounts_model import IDLE, LOADING, TreeNode, name_matches
from ..mounts import MountSpec, default_name, guess_kind

if TYPE_CHECKING:
    from ..window import MainWindow

log = logging.getLogger(__name__)


def folder_of(node: TreeNode | None) -> TreeNode | None:
    """``node`` when it can hold children, else its nearest such ancestor."""
    while node is not None and not node.expandable:
        node = node.parent
    return node


class Navigation:
    """Where the window is: the current row, the path bar, the folder filter, reveal and ``--select``."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.reveal_target: str | None = None
        #: a node revealed while its folder was still listing: rows arriving above it push it out of view
        self.revealed_early: TreeNode | None = None
        self.deferred_select: str | None = None
        self.filter_node: TreeNode | None = None
        self.filter_text = ""
        self.hidden = 0
        self.filtered_upto = 0
        self.current_folder: TreeNode | None = None

    def connect(self) -> None:
        """Wire the tree, the path bar, the filter box and the model's loading signals."""
        w = self.w
        w.selection.currentChanged.connect(self.on_current)
        w.tree.activated.connect(self.on_activated)
        w.path_bar.navigate.connect(w.navigate)
        w.filter_box.textChanged.connect(self.apply_filter)
        w.model.busy_changed.connect(self.update_activity)
        w.model.page_loaded.connect(self.on_page_loaded)
        w.model.fetch_finished.connect(self.on_fetch_finished)

    # -- the current row -------------------------------------------------------------------
    def current_index(self) -> QModelIndex:
        """The tree's current index (column 0)."""
        index = self.w.tree.currentIndex()
        return index.siblingAtColumn(0) if index.isValid() else index

    def current_node(self) -> TreeNode | None:
        """The node of the current row."""
        return self.w.model.node(self.current_index())

    def selected_uris(self) -> list[str]:
        """URIs of the selected rows (the current row when nothing is selected)."""
        rows = self.w.selection.selectedRows(0)
        if not rows and self.current_index().isValid():
            rows = [self.current_index()]
        return [self.w.model.uri(i) for i in rows]

    def on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        w = self.w
        node = w.model.node(current)
        if node is None:
            return
        w.path_bar.set_uri(node.uri)
        folder = folder_of(node)
        if folder is not self.current_folder:
            self.current_folder = folder
            if self.filter_node is not None and self.filter_node is not folder:
                self.filter_folder(None, "")
                w.filter_box.blockSignals(True)
                w.filter_box.clear()
                w.filter_box.blockSignals(False)
        self.update_counts()
        if w.preview is not None:
            w.preview.show_location(node.uri)

    def on_activated(self, index: QModelIndex) -> None:
        node = self.w.model.node(index)
        if node is not None and not node.expandable and self.w.preview is not None:
            self.w.preview.show_location(node.uri)

    def open_item(self, index: QModelIndex) -> None:
        """Open: toggle a folder, open a local file with the system, preview anything else."""
        w = self.w
        node = w.model.node(index)
        if node is None:
            return
        if node.expandable:
            w.tree.setExpanded(index, not w.tree.isExpanded(index))
        elif node.uri.startswith("/") and "::" not in node.uri:
            QDesktopServices.openUrl(QUrl.fromLocalFile(node.uri))
        elif w.preview is not None:
            w.preview.show_location(node.uri)

    def go_up(self) -> None:
        """Select the parent of the current row."""
        index = self.current_index()
        if index.isValid() and index.parent().isValid():
            self.w.tree.setCurrentIndex(index.parent())

    def refresh_current(self) -> None:
        """List the current folder (or the current file's folder) again."""
        index = self.current_index()
        self.w.model.refresh(index if index.isValid() else QModelIndex())

    def focus_path_bar(self) -> None:
        """Put the cursor in the path bar."""
        self.w.path_bar.setFocus()
        self.w.path_bar.selectAll()

    def find_here(self) -> None:
        """Ctrl+F: start a search below the current folder."""
        dock = self.w.find_dock
        if dock is None:
            return
        folder = folder_of(self.current_node())
        dock.show()
        dock.raise_()
        dock.start_search(folder.uri if folder is not None else "")

    # -- going to a URI ----------------------------------------------------------------------
    def open_uri(self, text: str) -> None:
        """Show ``text`` in the tree: reveal it under an existing mount, or mount it (folder, bucket, container)."""
        import storecore

        w = self.w
        try:
            loc = storecore.Location.parse(text)
        except Exception as e:  # noqa: BLE001 - a bad URI becomes a message
            log.debug("cannot parse %r: %s", text, e)
            w.status(workers.describe_error(e))
            return
        uri = str(loc)
        if w.model.locate(uri)[0] is not None:
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
            if backend.stat(l2.path).is_dir:
                return kind, uri, uri
            return kind, str(loc.parent), uri

        def done(result: tuple[str, str, str]) -> None:
            kind, root, target = result
            if w.model.locate(root)[0] is None:
                w.add_mount(MountSpec(default_name(root) or root, root, kind), save=w.persist, expand=True)
            if target != root:
                self.reveal(target)
            else:
                node = w.model.find_loaded(root)
                if node is not None:
                    w.tree.setCurrentIndex(w.model.index_of(node))

        w.status(f"Opening {uri}…")
        w.track(workers.submit(probe, on_done=done, on_error=lambda m, _e: w.status(m), owner=w))

    def reveal(self, uri: str) -> None:
        """Expand the tree down to ``uri`` (listing levels as needed) and select it; ``revealed`` when done."""
        try:
            import storecore

            uri = str(storecore.Location.parse(uri))
        except Exception as e:  # noqa: BLE001 - a bad URI becomes a message
            log.debug("cannot parse %r: %s", uri, e)
            self.w.status(workers.describe_error(e))
            return
        self.reveal_target = uri
        self.continue_reveal()

    def continue_reveal(self) -> None:
        """One more step towards the reveal target (called again as levels finish listing)."""
        w = self.w
        target = self.reveal_target
        if target is None:
            return
        node, exact = w.model.locate(target)
        if node is None:
            self.reveal_target = None
            w.status(f"{target} is not under any mount")
            return
        index = w.model.index_of(node)
        if exact:
            self.reveal_target = None
            w.tree.scrollTo(index)
            w.tree.setCurrentIndex(index)
            parent = node.parent
            self.revealed_early = node if parent is not None and parent.state == LOADING else None
            w.revealed.emit(target)
            return
        w.tree.expand(index)
        if node.state == IDLE and node.expandable:
            w.model.fetchMore(index)
        elif node.state != LOADING or not node.expandable:
            self.reveal_target = None
            w.tree.setCurrentIndex(index)
            w.status(f"{target} was not found" + (f": {node.error}" if node.error else ""))
        # else: still loading; page_loaded / fetch_finished call back here

    def select_when_mounted(self, uri: str) -> None:
        """Reveal ``uri`` now, or as soon as a mount that contains it appears (start-up mounts are async).

        When nothing pending can provide it, the URI is opened (mounted) itself.
        """
        self.deferred_select = uri
        self.try_deferred_select()

    def try_deferred_select(self) -> None:
        uri = self.deferred_select
        if uri is None:
            return
        try:
            import storecore

            norm = str(storecore.Location.parse(uri))
        except Exception as e:  # noqa: BLE001 - a bad --select becomes a message
            log.debug("cannot parse --select %r: %s", uri, e)
            self.deferred_select = None
            self.w.status(workers.describe_error(e))
            return
        if self.w.model.locate(norm)[0] is not None:
            self.deferred_select = None
            self.reveal(norm)
        elif not self.w.pending_tasks:
            self.deferred_select = None
            self.open_uri(norm)

    @property
    def selecting(self) -> bool:
        """True while a ``--select``/reveal target is still being looked for."""
        return self.deferred_select is not None or self.reveal_target is not None

    # -- the folder filter and the counts ----------------------------------------------------
    def apply_filter(self, text: str) -> None:
        folder = self.current_folder
        if folder is None or folder.parent is None:
            return
        self.filter_folder(folder, text)
        index = self.w.model.index_of(folder)
        if folder.state == IDLE:
            self.w.model.fetchMore(index)
        self.w.tree.expand(index)

    def filter_folder(self, folder: TreeNode | None, text: str) -> None:
        """Hide the rows of ``folder`` whose names do not match ``text`` (``None``/empty: clear the filter)."""
        old = self.filter_node
        if old is not None and old is not folder and not old.removed:
            self.filter_rows(old, "", 0)
        self.filter_node = folder if folder is not None and text else None
        self.filter_text = text
        self.hidden = 0
        self.filtered_upto = 0
        if folder is not None:
            self.filter_rows(folder, text, 0)
        self.update_counts()

    def filter_rows(self, folder: TreeNode, text: str, start: int) -> None:
        """Apply ``text`` to ``folder.children[start:]`` (rows arriving while a filter is set go through here)."""
        model = self.w.model
        parent = model.index_of(folder)
        children = folder.children
        # all rows in one pass over the model; rows that just arrived through their row hints
        for row, child in model.child_rows(folder, None if start == 0 else children[start:]):
            hide = bool(text) and not name_matches(child.name, text)
            self.w.tree.setRowHidden(row, parent, hide)
            self.hidden += hide
        self.filtered_upto = len(children)

    def update_counts(self) -> None:
        label = self.w.count_label
        folder = self.current_folder
        if folder is None or folder.parent is None or folder.removed:
            label.setText(f"{len(self.w.model.mount_nodes())} mounts")
            return
        total = len(folder.children)
        if folder.state == IDLE and not total:
            label.setText(f"{folder.name}: not listed yet")
            return
        hidden = self.hidden if folder is self.filter_node else 0
        text = f"{total:,} items" if not hidden else f"{total - hidden:,} of {total:,} items"
        if folder.state == LOADING:
            text += " (loading…)"
        label.setText(f"{folder.name}: {text}")

    def update_activity(self, *_args: Any) -> None:
        w = self.w
        if w.model.busy:
            loading = w.model.loading_count
            w.activity_label.setText(f"Listing {loading} folder{'s' if loading > 1 else ''}…")
        elif w.pending_tasks:
            w.activity_label.setText("Working…")
        else:
            w.activity_label.setText("")

    def on_page_loaded(self, uri: str, _count: int) -> None:
        folder = self.filter_node
        if folder is not None and folder.uri == uri:
            if self.filtered_upto > len(folder.children):  # refreshed: start over
                self.hidden, self.filtered_upto = 0, 0
            self.filter_rows(folder, self.filter_text, self.filtered_upto)
        self.on_fetch_finished(uri)

    def on_fetch_finished(self, uri: str) -> None:
        early = self.revealed_early
        if early is not None and early.parent is not None and early.parent.uri == uri and early.parent.state != LOADING:
            # Its folder has every row now: show it again, unless the user has moved on.
            self.revealed_early = None
            index = self.w.model.index_of(early)
            if index.isValid() and self.w.tree.currentIndex().siblingAtColumn(0) == index:
                self.w.tree.scrollTo(index)
        self.update_counts()
        self.update_activity()
        if self.reveal_target is not None:
            self.continue_reveal()
