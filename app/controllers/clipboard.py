"""Clipboard and drag and drop: copy the selection, paste into a folder, drag rows out to other applications."""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from .. import workers
from ..formatting import human_size
from ..models.mounts_model import (
    DROP_KINDS,
    URI_MIME,
    MountsModel,
    TreeNode,
    is_ancestor_uri,
    is_local_uri,
    uri_mime_data,
)

if TYPE_CHECKING:
    from ..window import MainWindow

log = logging.getLogger(__name__)

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


def _plural(n: int) -> str:
    return "s" if n > 1 else ""


class ClipboardController:
    """Ctrl+C / Ctrl+V on the tree, "Copy as Python", and drags out (remote files downloaded first)."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.drag_dir: str | None = None
        self.drag_copies: dict[str, tuple[tuple, str]] = {}  # uri → ((size, mtime), local copy)
        self.drag_task: workers.Task | None = None

    def connect(self) -> None:
        """Wire the tree's copy/paste keys and drag start."""
        w = self.w
        w.tree.copy_requested.connect(self.copy_selection)
        w.tree.paste_requested.connect(self.paste_into_current)
        w.tree.drag_handler = w.start_drag
        w._drag_progress.connect(w.status)

    # -- copy and paste ---------------------------------------------------------------------
    def copy_selection(self) -> None:
        """Ctrl+C: put the selected rows on the clipboard (URI list, text, file URLs of local files)."""
        uris = self.w.selected_uris()
        if uris:
            set_clipboard(uri_mime_data(uris))
            self.w.status(f"Copied {len(uris)} item{_plural(len(uris))}: {uris[0]}{' …' if len(uris) > 1 else ''}")

    def copy_as_python(self, node: TreeNode | None = None) -> None:
        """Copy the few lines of Python that open ``node`` (the current row) with storecore and slice it."""
        from storecore.snippets import python_snippet

        node = node or self.w.current_node()
        if node is None or not node.uri:
            return
        QGuiApplication.clipboard().setText(python_snippet(node.uri, node.kind))
        self.w.status(f"Copied Python for {node.uri}")

    def paste_target(self) -> TreeNode | None:
        """Where Ctrl+V copies to: the current folder/bucket/group row, or the folder of the current file."""
        node = self.w.current_node()
        if node is not None and node.kind not in DROP_KINDS:
            node = node.parent
        return node if node is not None and node.kind in DROP_KINDS else None

    def paste_into_current(self) -> None:
        """Ctrl+V: copy the clipboard's URIs into the current folder through the transfer queue."""
        uris = clipboard_uris()
        if not uris:
            self.w.status("Nothing to paste: copy files or folders first")
            return
        target = self.paste_target()
        if target is None:
            self.w.status("Select a folder, bucket or group to paste into")
            return
        sources = [u for u in uris if not is_ancestor_uri(u, target.uri)]
        if not sources:
            self.w.status(f"Cannot paste {uris[0]} into itself")
            return
        self.w.submit_transfer(sources, target.uri, "copy")

    # -- drag out to other applications ------------------------------------------------------
    def drag_stamp(self, uri: str) -> tuple | None:
        """(size, mtime) of a remote file row that can be downloaded for a drag; None otherwise."""
        node = self.w.model.find_loaded(uri)
        if node is None or node.kind != "file" or "::" in uri or node.size is None:
            return None
        return (node.size, node.mtime)

    def drag_local_copy(self, uri: str) -> str | None:
        """The downloaded copy of remote ``uri`` when it is still current (local paths are their own copy)."""
        if is_local_uri(uri):
            return uri
        cached = self.drag_copies.get(uri)
        if cached is None or cached[0] != self.drag_stamp(uri) or not os.path.isfile(cached[1]):
            return None
        return cached[1]

    def drag_mime(self, uris: list[str]) -> Any:
        """Mime data for dragging ``uris``: our URI list (in-app drops) plus file URLs of local copies."""
        copies = {u: p for u in uris if not is_local_uri(u) and (p := self.drag_local_copy(u))}
        return uri_mime_data(uris, copies)

    def _download_jobs(self, uris: list[str]) -> list[tuple[str, tuple | None, str]]:
        if self.drag_dir is None:
            self.drag_dir = tempfile.mkdtemp(prefix="storescope-drag-")
        jobs = []
        for uri in uris:
            stamp = self.drag_stamp(uri)
            # one folder per version, so the file keeps its own name for the drop target
            sub = hashlib.sha256(repr((uri, stamp)).encode()).hexdigest()[:20]
            jobs.append((uri, stamp, os.path.join(self.drag_dir, sub, uri.rstrip("/").rsplit("/", 1)[-1])))
        return jobs

    def prepare_drag_copies(self, uris: list[str], then: Callable[[list[str]], None] | None = None) -> workers.Task:
        """Download remote files into a private temporary folder on a worker; ``drag_copies_ready`` when done."""
        jobs = self._download_jobs(uris)
        total = sum(stamp[0] for _u, stamp, _p in jobs if stamp) or None
        emit = self.w._drag_progress.emit

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
            self.drag_task = None
            for uri, stamp, path in result:
                self.drag_copies[uri] = (stamp, path)
            done = [u for u, _s, _p in result]
            if then is not None:
                then(done)
            self.w.drag_copies_ready.emit(done)

        def failed(message: str, _exc: BaseException) -> None:
            self.drag_task = None
            self.w.status(f"Could not download for the drag: {message}")

        if self.drag_task is not None:
            self.drag_task.cancel()
        self.w.status(f"Downloading {len(uris)} item{_plural(len(uris))} for the drag…")
        self.drag_task = workers.submit(download, with_token=True, on_done=ready, on_error=failed, owner=self.w)
        return self.drag_task

    def start_drag(self, max_download: int = DRAG_DOWNLOAD_MAX) -> None:
        """Drag the selected rows; remote files are downloaded first so other applications get local files.

        The drag starts at once when every item is local or already downloaded.
        Otherwise the download (at most ``max_download`` bytes) runs on a worker;
        the drag starts when it ends if the mouse button is still held, else a
        message asks to drag again.  In-app drops always use the original URIs.
        """
        w = self.w
        uris = w.selected_uris()
        if not uris:
            return
        missing = [u for u in uris if self.drag_local_copy(u) is None]
        wanted = [u for u in missing if self.drag_stamp(u) is not None]
        size = sum(self.drag_stamp(u)[0] for u in wanted)
        if not wanted or size > max_download:
            if missing:
                w.status("Remote folders, container members and large files are offered to other applications "
                         "as URIs only; use Download to… for local copies")  # fmt: skip
            w.tree.exec_drag(self.drag_mime(uris))
            return

        def go(done: list[str]) -> None:
            if QGuiApplication.mouseButtons() & Qt.MouseButton.LeftButton:
                w.status("")
                w.tree.exec_drag(self.drag_mime(uris))
            else:
                w.status(f"Downloaded {len(done)} item{_plural(len(done))}: drag again to drop them outside Storescope")

        self.prepare_drag_copies(wanted, then=go)

    def shutdown(self) -> None:
        """Cancel a download in progress and delete the downloaded copies (the window is closing)."""
        if self.drag_task is not None:
            self.drag_task.cancel()
        if self.drag_dir is not None:
            shutil.rmtree(self.drag_dir, ignore_errors=True)
            self.drag_dir = None
            self.drag_copies.clear()
