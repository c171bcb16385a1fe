"""Copy/paste in the mounts tree (Ctrl+C / Ctrl+V) and dragging remote items out to other applications."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QItemSelectionModel, QMimeData, Qt, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from window_helpers import wait_loaded

from app.models.mounts_model import URI_MIME
from app.mounts import MountSpec
from app.window import MainWindow


@pytest.fixture(autouse=True)
def plain_clipboard_after():
    """Leave only plain text on the clipboard (mime data made in Python must not outlive the test)."""
    yield
    from app.window import _release_clipboard

    _release_clipboard()
    data = QGuiApplication.clipboard().mimeData()
    if data is not None and data.hasUrls():  # the test's own "file manager" data
        QGuiApplication.clipboard().clear()


@pytest.fixture
def tree(local_root):
    """dst/ (empty), a.txt, b.bin, sub/c.json."""
    os.makedirs(os.path.join(local_root, "dst"))
    os.makedirs(os.path.join(local_root, "sub"))
    for name, data in (("a.txt", b"alpha"), ("b.bin", bytes(range(256)) * 4), ("sub/c.json", b"{}")):
        with open(os.path.join(local_root, name), "wb") as f:
            f.write(data)
    return local_root


def select(window: MainWindow, *uris: str) -> None:
    """Make ``uris`` the selected rows (the first one current)."""
    sel = window.selection
    sel.clearSelection()
    for i, uri in enumerate(uris):
        index = window.model.index_of(window.model.find_loaded(uri))
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        if i == 0:
            sel.setCurrentIndex(index, flags)
        else:
            sel.select(index, flags)
    window.tree.setFocus()


def ctrl(window: MainWindow, key: Qt.Key) -> None:
    QTest.keyClick(window.tree, key, Qt.KeyboardModifier.ControlModifier)


def mounted(qtbot, window: MainWindow, root: str) -> None:
    window.add_mount(MountSpec("data", root, "local"))
    wait_loaded(qtbot, window, root)


def test_ctrl_c_puts_uris_text_and_file_urls_on_the_clipboard(qtbot, window, tree):
    mounted(qtbot, window, tree)
    a, b = os.path.join(tree, "a.txt"), os.path.join(tree, "b.bin")
    select(window, a, b)
    QGuiApplication.clipboard().clear()
    ctrl(window, Qt.Key.Key_C)
    data = QGuiApplication.clipboard().mimeData()
    assert sorted(bytes(data.data(URI_MIME).data()).decode().splitlines()) == [a, b]
    assert sorted(data.text().splitlines()) == [a, b]
    assert sorted(u.toLocalFile() for u in data.urls()) == [a, b]
    assert "Copied 2 items" in window.statusBar().currentMessage()
    from app.window import _release_clipboard

    _release_clipboard()  # what runs at exit: the URIs stay on the clipboard as text
    assert sorted(QGuiApplication.clipboard().text().splitlines()) == [a, b]


def test_ctrl_c_of_a_remote_item_carries_its_uri_but_no_file_url(qtbot, window, memory_root):
    import storecore

    backend, loc = storecore.backend_for(memory_root)
    backend.write_bytes(loc.join("r.txt").path, b"remote")
    window.add_mount(MountSpec("mem", memory_root, "local"))
    wait_loaded(qtbot, window, memory_root)
    uri = str(loc.join("r.txt"))
    qtbot.waitUntil(lambda: window.model.find_loaded(uri) is not None, timeout=15_000)
    select(window, uri)
    ctrl(window, Qt.Key.Key_C)
    data = QGuiApplication.clipboard().mimeData()
    assert bytes(data.data(URI_MIME).data()).decode() == uri
    assert not data.hasUrls()


def test_ctrl_v_on_a_folder_copies_the_clipboard_into_it(qtbot, window, tree):
    mounted(qtbot, window, tree)
    a, sub, dst = os.path.join(tree, "a.txt"), os.path.join(tree, "sub"), os.path.join(tree, "dst")
    select(window, a, sub)
    ctrl(window, Qt.Key.Key_C)
    submitted = []
    real_submit = window.queue_dock.submit
    window.queue_dock.submit = lambda *args, **kw: (submitted.append(args), real_submit(*args, **kw))[1]
    select(window, dst)
    ctrl(window, Qt.Key.Key_V)
    assert submitted == [([a, sub], dst, "copy")]
    qtbot.waitUntil(lambda: os.path.exists(os.path.join(dst, "sub", "c.json")) and os.path.exists(os.path.join(dst, "a.txt")),
                    timeout=30_000)
    assert open(os.path.join(dst, "a.txt"), "rb").read() == b"alpha"
    assert open(a, "rb").read() == b"alpha"  # a copy: the source stays


def test_ctrl_v_takes_file_urls_from_the_os_file_manager(qtbot, window, tree, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "from-os.dat").write_bytes(b"x" * 3000)
    mounted(qtbot, window, tree)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(outside / "from-os.dat"))])
    QGuiApplication.clipboard().setMimeData(mime)
    dst = os.path.join(tree, "dst")
    select(window, dst)
    ctrl(window, Qt.Key.Key_V)
    target = os.path.join(dst, "from-os.dat")
    qtbot.waitUntil(lambda: os.path.exists(target), timeout=30_000)
    assert open(target, "rb").read() == b"x" * 3000


def test_ctrl_v_on_a_file_pastes_into_its_folder_and_never_into_itself(qtbot, window, tree, tmp_path):
    mounted(qtbot, window, tree)
    sub = os.path.join(tree, "sub")
    select(window, sub)
    ctrl(window, Qt.Key.Key_C)
    ctrl(window, Qt.Key.Key_V)  # a folder into itself: refused with a message
    assert "into itself" in window.statusBar().currentMessage()
    assert not os.path.exists(os.path.join(sub, "sub"))

    (tmp_path / "one.txt").write_bytes(b"one")
    QGuiApplication.clipboard().setText(str(tmp_path / "one.txt"))  # a path copied as text
    select(window, os.path.join(tree, "a.txt"))
    assert window.paste_target().uri == tree
    ctrl(window, Qt.Key.Key_V)
    qtbot.waitUntil(lambda: os.path.exists(os.path.join(tree, "one.txt")), timeout=30_000)
    assert open(os.path.join(tree, "one.txt"), "rb").read() == b"one"


def test_paste_with_nothing_useful_on_the_clipboard_says_so(qtbot, window, tree):
    mounted(qtbot, window, tree)
    QGuiApplication.clipboard().setText("just some words")
    select(window, os.path.join(tree, "dst"))
    ctrl(window, Qt.Key.Key_V)
    assert "Nothing to paste" in window.statusBar().currentMessage()
    assert os.listdir(os.path.join(tree, "dst")) == []


def test_context_menu_offers_paste_here_on_folders(qtbot, window, tree):
    mounted(qtbot, window, tree)
    select(window, os.path.join(tree, "a.txt"))
    ctrl(window, Qt.Key.Key_C)
    dst_index = window.model.index_of(window.model.find_loaded(os.path.join(tree, "dst")))
    texts = [a.text() for a in window.build_context_menu(dst_index).action_list]
    assert "Paste here" in texts and "Copy URI" in texts


@pytest.fixture
def remote_file(qtbot, window, memory_root):
    """A mounted in-memory store (a non-local backend) holding r.bin; returns its URI and bytes."""
    import storecore

    data = os.urandom(200_000)
    backend, loc = storecore.backend_for(memory_root)
    backend.write_bytes(loc.join("r.bin").path, data)
    window.add_mount(MountSpec("mem", memory_root, "local"))
    uri = str(loc.join("r.bin"))
    qtbot.waitUntil(lambda: window.model.find_loaded(uri) is not None, timeout=15_000)
    return uri, data


def test_dragging_a_remote_file_out_offers_a_downloaded_local_copy(qtbot, window, remote_file, monkeypatch):
    uri, data = remote_file
    select(window, uri)
    dragged = []
    monkeypatch.setattr(window.tree, "exec_drag", dragged.append)
    with qtbot.waitSignal(window.drag_copies_ready, timeout=15_000):
        window.tree.startDrag(Qt.DropAction.CopyAction)
    # the mouse button was not held when the download ended: no drag, a hint instead
    assert dragged == []
    assert "drag again" in window.statusBar().currentMessage()
    window.tree.startDrag(Qt.DropAction.CopyAction)  # the copy is current: the drag starts at once
    assert len(dragged) == 1
    mime = dragged[0]
    assert bytes(mime.data(URI_MIME).data()).decode() == uri  # in-app drops use the original
    [url] = mime.urls()
    assert url.isLocalFile()
    path = url.toLocalFile()
    assert os.path.basename(path) == "r.bin"
    assert open(path, "rb").read() == data
    drag_dir = window._drag_dir
    assert path.startswith(drag_dir)
    window.close()
    assert not os.path.exists(drag_dir)  # the downloaded copies go with the window


def test_local_items_drag_at_once_with_their_own_file_urls(qtbot, window, tree, monkeypatch):
    mounted(qtbot, window, tree)
    a = os.path.join(tree, "a.txt")
    select(window, a)
    dragged = []
    monkeypatch.setattr(window.tree, "exec_drag", dragged.append)
    window.tree.startDrag(Qt.DropAction.CopyAction)
    assert [u.toLocalFile() for u in dragged[0].urls()] == [a]
    assert window._drag_dir is None  # nothing downloaded


def test_remote_items_over_the_limit_drag_as_uris_only(qtbot, window, remote_file, monkeypatch):
    import app.window

    uri, _data = remote_file
    monkeypatch.setattr(app.window, "DRAG_DOWNLOAD_MAX", 1000)
    select(window, uri)
    dragged = []
    monkeypatch.setattr(window.tree, "exec_drag", dragged.append)
    window.tree.startDrag(Qt.DropAction.CopyAction)
    assert len(dragged) == 1 and not dragged[0].hasUrls()
    assert bytes(dragged[0].data(URI_MIME).data()).decode() == uri
    assert "Download to" in window.statusBar().currentMessage()
