"""File operations on the tree's rows: new folder, rename, delete, download/upload, transfers and compare."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from .. import workers
from ..models.mounts_model import TreeNode

if TYPE_CHECKING:
    from ..window import MainWindow


def _items(n: int) -> str:
    return f"{n} item{'s' if n > 1 else ''}"


class FileOperations:
    """Storage operations started from the window; each runs on a worker and reports in the status bar."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window

    def run(self, what: str, fn: Callable[..., Any], *args: Any, then: Callable[[], Any] | None = None) -> workers.Task:
        """Run a storage operation on a worker; report success or the error in the status bar."""
        w = self.w
        w.status(f"{what}…")

        def ok(_result: Any) -> None:
            w.status(f"{what}: done")
            if then is not None:
                then()

        return w.track(workers.submit(fn, *args, on_done=ok, on_error=lambda m, _e: w.status(f"{what} failed: {m}")))

    def new_folder(self, folder: TreeNode, name: str) -> workers.Task:
        """Create the folder ``name`` inside ``folder`` (on a worker), then refresh it."""
        import storecore

        def make() -> None:
            backend, loc = storecore.backend_for(folder.uri)
            backend.mkdir(loc.join(name).path)

        return self.run(f"New folder {name}", make, then=lambda: self.w.model.refresh_uri(folder.uri))

    def new_folder_dialog(self, folder: TreeNode) -> None:
        """Ask for a name and create the folder."""
        name, ok = QInputDialog.getText(self.w, "New folder", f"Name of the new folder in {folder.name}:")
        if ok and name.strip():
            self.new_folder(folder, name.strip())

    def rename_item(self, node: TreeNode, new_name: str) -> workers.Task:
        """Rename a file or folder in place (on a worker), then refresh its folder."""
        import storecore

        parent_uri = node.parent.uri if node.parent is not None else ""

        def move() -> None:
            backend, loc = storecore.backend_for(node.uri)
            backend.move(loc.path, loc.parent.join(new_name).path)

        return self.run(f"Rename {node.name} → {new_name}", move, then=lambda: self.w.model.refresh_uri(parent_uri))

    def rename_item_dialog(self, node: TreeNode) -> None:
        """Ask for the new name and rename."""
        name, ok = QInputDialog.getText(self.w, "Rename", "New name:", text=node.name)
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
        return self.run(f"Delete {_items(len(uris))}", delete, then=lambda: [self.w.model.refresh_uri(p) for p in parents])

    def deletable(self, uris: list[str]) -> list[str]:
        """The rows of ``uris`` that may be deleted: listed, not mounts, not inside containers."""
        model = self.w.model
        return [u for u in uris if "::" not in u and (n := model.find_loaded(u)) is not None and n.kind != "mount"]

    def delete_selected(self, *, confirm: bool = True) -> None:
        """Delete the selected rows after a confirmation."""
        uris = self.deletable(self.w.selected_uris())
        if not uris:
            return
        if confirm:
            listing = "\n".join(uris[:10]) + ("\n…" if len(uris) > 10 else "")
            answer = QMessageBox.question(
                self.w, "Delete", f"Delete {len(uris)} item(s) permanently?\n\n{listing}",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
            )  # fmt: skip
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.delete_uris(uris)

    def download_dialog(self) -> None:
        """Copy the selected rows into a local folder chosen by the user (through the transfer queue)."""
        uris = self.w.selected_uris()
        if not uris:
            return
        folder = QFileDialog.getExistingDirectory(self.w, "Download to")
        if folder:
            self.submit_transfer(uris, folder, "copy")

    def upload_dialog(self, node: TreeNode) -> None:
        """Copy local files chosen by the user into ``node`` (through the transfer queue)."""
        files, _ = QFileDialog.getOpenFileNames(self.w, f"Upload to {node.name}")
        if files:
            self.submit_transfer(files, node.uri, "copy")

    def submit_transfer(self, src_uris: list[str], dst_uri: str, op: str = "copy") -> None:
        """Hand a copy/move to the transfer queue dock."""
        dock = self.w.queue_dock
        if dock is None:
            self.w.status("The transfer queue is not ready yet")
            return
        dock.submit(list(src_uris), dst_uri, op)
        dock.show()
        dock.raise_()
        verb = "Moving" if op == "move" else "Copying"
        self.w.status(f"{verb} {_items(len(src_uris))} to {dst_uri}")

    def compare_selected(self) -> None:
        """Compare the two selected locations (rclone-check style) in a dialog that can copy what is missing."""
        w = self.w
        uris = w.selected_uris()
        if len(uris) != 2:
            w.status("Select two folders or files to compare (Ctrl+click)")
            return
        from ..dialogs.compare_dialog import CompareDialog

        submit = w.queue_dock.submit if w.queue_dock is not None else None
        dialog = CompareDialog(uris[0], uris[1], copy_callback=submit, parent=w)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        w.compare_dialog = dialog
