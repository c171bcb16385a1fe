"""The session: mounts (added, edited, saved to the settings, the demo data) and the window's saved layout."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QInputDialog

from .. import workers
from ..models.mounts_model import IDLE
from ..mounts import MountSpec, register

if TYPE_CHECKING:
    from ..window import MainWindow

log = logging.getLogger(__name__)


class Session:
    """What persists between runs: the mounts (secrets excluded) and the window's geometry and docks."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window

    # -- mounts -----------------------------------------------------------------------------
    def add_mount(self, spec: MountSpec, *, save: bool = True, expand: bool = True) -> QModelIndex:
        """Mount ``spec`` (registering its S3 scheme when needed) and show it in the tree."""
        w = self.w
        try:
            uri = register(spec)
        except Exception as e:  # noqa: BLE001 - a bad spec becomes a message
            log.warning("cannot mount %s (%s): %s", spec.name, spec.kind, workers.describe_error(e))
            w.status(f"Cannot mount {spec.name}: {workers.describe_error(e)}")
            return QModelIndex()
        index = w.model.add_mount(spec, uri)
        if save:
            self.save_mounts()
        if expand and w.model.node(index).state == IDLE:
            w.tree.expand(index)
        w.status(f"Mounted {spec.name} ({uri})")
        w.mounted.emit(uri)
        return index

    def save_mounts(self) -> None:
        """Write the current mounts to the settings (secrets excluded)."""
        if self.w.persist:
            self.w.store.save(self.w.model.mounts())

    def restore_mounts(self) -> None:
        """Mount what the settings hold (collapsed)."""
        for spec in self.w.store.load():
            self.add_mount(spec, save=False, expand=False)

    def mount_demo(self) -> None:
        """Build the demo data on a worker and mount it with the home folder."""
        w = self.w

        def built(path: str) -> None:
            self.add_mount(MountSpec("Demo data", path, "local"), expand=True)
            self.add_mount(MountSpec("Home", os.path.expanduser("~"), "local"), expand=False)

        def failed(message: str, _exc: BaseException) -> None:
            log.warning("could not build the demo data: %s", message)
            w.status(f"Could not build the demo data: {message}")
            self.add_mount(MountSpec("Home", os.path.expanduser("~"), "local"), expand=True)

        from resources.demo_data import ensure_demo_data

        w.activity_label.setText("Preparing demo data…")
        w.track(workers.submit(ensure_demo_data, on_done=built, on_error=failed))

    def mount_index(self, index: QModelIndex) -> QModelIndex:
        """The index of the mount row above ``index`` (invalid when none)."""
        node = self.w.model.node(index)
        while node is not None and node.kind != "mount":
            node = node.parent
        return self.w.model.index_of(node) if node is not None else QModelIndex()

    def unmount_current(self) -> None:
        """Remove the mount of the current row."""
        index = self.mount_index(self.w.current_index())
        if index.isValid():
            spec = self.w.model.remove_mount(index)
            self.save_mounts()
            if spec is not None:
                self.w.status(f"Unmounted {spec.name}")

    def rename_mount_current(self) -> None:
        """Ask for a new display name for the current mount."""
        index = self.mount_index(self.w.current_index())
        node = self.w.model.node(index)
        if node is None:
            return
        name, ok = QInputDialog.getText(self.w, "Rename mount", "Name:", text=node.name)
        if ok and name.strip():
            self.w.model.rename_mount(index, name)
            self.save_mounts()

    def edit_mount_current(self) -> None:
        """Re-open the mount dialog for the current mount (e.g. to enter keys again)."""
        index = self.mount_index(self.w.current_index())
        node = self.w.model.node(index)
        if node is None or node.spec is None:
            return
        from ..dialogs.mount_dialog import MountDialog

        dialog = MountDialog(self.w, node.spec)
        if dialog.exec():
            self.w.model.remove_mount(index)
            self.add_mount(dialog.spec())

    def add_mount_dialog(self) -> None:
        """Open the "Add mount" dialog and mount what it returns."""
        from ..dialogs.mount_dialog import MountDialog

        dialog = MountDialog(self.w)
        if dialog.exec():
            self.add_mount(dialog.spec())

    # -- window layout ----------------------------------------------------------------------
    def restore_window_state(self) -> bool:
        """Restore the saved geometry and dock layout; False when there was none."""
        settings = self.w.settings
        geometry = settings.value("window/geometry")
        state = settings.value("window/state")
        if geometry is not None:
            self.w.restoreGeometry(geometry)
        return state is not None and bool(self.w.restoreState(state))

    def save_window_state(self) -> None:
        """Write the geometry and dock layout (unless the window does not persist)."""
        if self.w.persist:
            settings = self.w.settings
            settings.setValue("window/geometry", self.w.saveGeometry())
            settings.setValue("window/state", self.w.saveState())
            settings.sync()
