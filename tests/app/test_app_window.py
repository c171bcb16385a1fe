"""The main window with real docks, real files and an isolated QSettings."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from window_helpers import wait_loaded

from app.models.mounts_model import DONE, ERROR, URI_MIME, MountsModel
from app.mounts import MountSpec
from app.window import MainWindow


@pytest.fixture
def tree(local_root):
    """A small folder tree: sub/deeper/d.txt, sub/c.json, a.txt, b.csv, notes.md."""
    os.makedirs(os.path.join(local_root, "sub", "deeper"))
    for name in ("a.txt", "b.csv", "notes.md", "sub/c.json", "sub/deeper/d.txt"):
        with open(os.path.join(local_root, name), "w") as f:
            f.write(name)
    return local_root


def test_reveal_selects_deep_item_and_previews_it(qtbot, window, tree):
    window.add_mount(MountSpec("data", tree, "local"))
    target = os.path.join(tree, "sub", "deeper", "d.txt")
    with qtbot.waitSignal(window.preview.loaded, timeout=15_000, check_params_cb=lambda u: u == target):
        with qtbot.waitSignal(window.revealed, timeout=15_000):
            window.reveal(target)
    assert window.current_node().uri == target
    assert window.path_bar.text() == target
    assert window.tree.isExpanded(window.model.index_of(window.model.find_loaded(os.path.join(tree, "sub"))))


def test_path_bar_enter_mounts_a_new_folder_and_persists_it(qtbot, window, tree, settings_path):
    window.path_bar.setFocus()
    window.path_bar.clear()
    QTest.keyClicks(window.path_bar, os.path.join(tree, "sub"))
    with qtbot.waitSignal(window.mounted, timeout=15_000):
        QTest.keyClick(window.path_bar, Qt.Key.Key_Return)
    assert [m.uri for m in window.model.mounts()] == [os.path.join(tree, "sub")]
    text = open(settings_path).read()
    assert os.path.join(tree, "sub") in text


def test_path_bar_file_uri_mounts_its_folder_and_selects_it(qtbot, window, tree):
    target = os.path.join(tree, "notes.md")
    with qtbot.waitSignal(window.revealed, timeout=15_000):
        window.navigate(target)
    assert window.model.mounts()[0].uri == tree
    assert window.current_node().uri == target


def test_filter_box_hides_non_matching_rows_of_the_current_folder(qtbot, window, tree):
    index = window.add_mount(MountSpec("data", tree, "local"))
    wait_loaded(qtbot, window, tree)
    window.tree.setCurrentIndex(index)
    window.filter_box.setText("*.txt")
    root = window.model.node(index)
    hidden = {c.name for c in root.children if window.tree.isRowHidden(window.model.index_of(c).row(), index)}
    assert hidden == {"sub", "b.csv", "notes.md"}
    assert window.count_label.text() == "data: 1 of 4 items"
    window.filter_box.setText("")
    assert not any(window.tree.isRowHidden(window.model.index_of(c).row(), index) for c in root.children)
    assert window.count_label.text() == "data: 4 items"


def test_missing_folder_shows_message_in_status_bar_and_row(qtbot, window, tmp_path):
    missing = str(tmp_path / "nope")
    index = window.add_mount(MountSpec("gone", missing, "local"))
    qtbot.waitUntil(lambda: "no such" in window.statusBar().currentMessage().lower(), timeout=15_000)
    assert "nope" in window.statusBar().currentMessage()
    node = window.model.node(index)
    assert node.state == ERROR
    assert window.model.index_of(node, 3).data().startswith("⚠")


def test_mounts_persist_across_restart_without_secrets(qtbot, settings_path, tree, s3_server, s3_bucket):
    first = MainWindow(QSettings(settings_path, QSettings.Format.IniFormat))
    qtbot.addWidget(first)
    first.finish_startup([], demo=False)
    first.add_mount(MountSpec("local data", tree, "local"), expand=False)
    opts = s3_server.options()
    spec = MountSpec("Test S3", f"s3://{s3_bucket}", "s3", endpoint_url=opts["endpoint_url"], region_name="us-east-1",
                     access_key=opts["aws_access_key_id"], secret_key=opts["aws_secret_access_key"])
    s3_index = first.add_mount(spec)
    assert first.model.uri(s3_index) == f"test-s3://{s3_bucket}"
    wait_loaded(qtbot, first, f"test-s3://{s3_bucket}")
    assert first.model.node(s3_index).state == DONE  # the typed keys work for this session
    first.model.rename_mount(first.model.index_of(first.model.mount_nodes()[0]), "renamed")
    first.save_mounts()
    first.close()
    text = open(settings_path).read()
    assert opts["aws_secret_access_key"] not in text and opts["aws_access_key_id"] not in text

    second = MainWindow(QSettings(settings_path, QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    second.finish_startup([], demo=False)
    mounts = second.model.mounts()
    assert [(m.name, m.kind) for m in mounts] == [("renamed", "local"), ("Test S3", "s3")]
    assert mounts[1].uri == f"test-s3://{s3_bucket}" and mounts[1].endpoint_url == opts["endpoint_url"]
    s3_node = second.model.mount_nodes()[1]
    assert s3_node.state == ERROR and "keys were not saved" in s3_node.error
    second.close()


def test_context_menu_and_file_operations(qtbot, window, tree):
    index = window.add_mount(MountSpec("data", tree, "local"))
    wait_loaded(qtbot, window, tree)
    root = window.model.node(index)
    sub = window.model.find_loaded(os.path.join(tree, "sub"))
    texts = [a.text() for a in window.build_context_menu(window.model.index_of(sub)).action_list if a.text()]
    for wanted in ("Open", "Copy URI", "Refresh", "New folder…", "Rename…", "Delete…", "Download to…", "Upload here…"):
        assert wanted in texts
    mount_texts = [a.text() for a in window.build_context_menu(index).action_list]
    assert "&Unmount" in mount_texts and "Re&name mount…" in mount_texts

    with qtbot.waitSignal(window.model.fetch_finished, timeout=15_000):
        window.new_folder(root, "made")
    assert os.path.isdir(os.path.join(tree, "made"))
    qtbot.waitUntil(lambda: window.model.find_loaded(os.path.join(tree, "made")) is not None, timeout=15_000)

    a_txt = window.model.find_loaded(os.path.join(tree, "a.txt"))
    window.rename_item(a_txt, "renamed.txt")
    qtbot.waitUntil(lambda: window.model.find_loaded(os.path.join(tree, "renamed.txt")) is not None, timeout=15_000)
    assert not os.path.exists(os.path.join(tree, "a.txt"))

    window.delete_uris([os.path.join(tree, "renamed.txt"), os.path.join(tree, "sub")])
    qtbot.waitUntil(lambda: window.model.find_loaded(os.path.join(tree, "sub")) is None, timeout=15_000)
    assert not os.path.exists(os.path.join(tree, "sub")) and not os.path.exists(os.path.join(tree, "renamed.txt"))

    # the refresh after the delete may still be replacing rows (and with them the selection)
    qtbot.waitUntil(lambda: not window.model.busy, timeout=15_000)
    window.tree.setCurrentIndex(window.model.index_of(window.model.find_loaded(os.path.join(tree, "b.csv"))))
    window.copy_uri()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == os.path.join(tree, "b.csv")


def test_failed_operation_becomes_a_status_message(qtbot, window, tree):
    window.add_mount(MountSpec("data", tree, "local"))
    wait_loaded(qtbot, window, tree)
    window.delete_uris([os.path.join(tree, "not-there.txt")])
    qtbot.waitUntil(lambda: "failed" in window.statusBar().currentMessage(), timeout=15_000)
    assert "not-there.txt" in window.statusBar().currentMessage()


def test_drop_onto_folder_copies_through_the_queue_and_refreshes(qtbot, window, tree, tmp_path):
    src_dir = tmp_path / "elsewhere"
    src_dir.mkdir()
    (src_dir / "new.bin").write_bytes(b"x" * 1000)
    window.add_mount(MountSpec("data", tree, "local"))
    wait_loaded(qtbot, window, tree)
    sub = window.model.find_loaded(os.path.join(tree, "sub"))
    window.tree.expand(window.model.index_of(sub))
    wait_loaded(qtbot, window, sub.uri)
    submitted = []
    real_submit = window.queue_dock.submit
    window.queue_dock.submit = lambda *a, **k: (submitted.append(a), real_submit(*a, **k))[1]
    from PySide6.QtCore import QMimeData

    mime = QMimeData()
    mime.setData(URI_MIME, str(src_dir / "new.bin").encode())
    assert window.model.dropMimeData(mime, Qt.DropAction.CopyAction, -1, 0, window.model.index_of(sub))
    assert submitted == [([str(src_dir / "new.bin")], sub.uri, "copy")]
    # the queue really copies; job_finished refreshes the destination and the row appears
    target = os.path.join(sub.uri, "new.bin")
    qtbot.waitUntil(lambda: window.model.find_loaded(target) is not None, timeout=30_000)
    assert os.path.getsize(target) == 1000


def test_ctrl_f_starts_find_here_and_reveal_requests_come_back(qtbot, window, tree):
    window.add_mount(MountSpec("data", tree, "local"))
    wait_loaded(qtbot, window, tree)
    sub = window.model.find_loaded(os.path.join(tree, "sub"))
    window.tree.setCurrentIndex(window.model.index_of(sub))
    window.act_find.trigger()
    assert window.find_dock.isVisible()
    assert window.find_dock.root_edit.text() == sub.uri
    target = os.path.join(tree, "sub", "deeper", "d.txt")
    with qtbot.waitSignal(window.revealed, timeout=15_000):
        window.find_dock.reveal_requested.emit(target)
    assert window.current_node().uri == target


def test_unmount_and_refresh(qtbot, window, tree):
    index = window.add_mount(MountSpec("data", tree, "local"))
    wait_loaded(qtbot, window, tree)
    with open(os.path.join(tree, "late.txt"), "w") as f:
        f.write("late")
    window.tree.setCurrentIndex(index)
    window.refresh_current()
    qtbot.waitUntil(lambda: window.model.find_loaded(os.path.join(tree, "late.txt")) is not None, timeout=15_000)
    window.unmount_current()
    assert window.model.mounts() == []


def test_about_dialog_lists_versions(qtbot, window):
    from app.dialogs.about_dialog import AboutDialog

    dialog = AboutDialog(window)
    qtbot.addWidget(dialog)
    text = dialog.text.text()
    for name in ("Python", "Qt", "zarr", "h5py", "polars", "boto3", "pyqtgraph"):
        assert name in text
    import zarr

    assert zarr.__version__ in text


def test_model_is_shared_mechanism_not_a_second_worker_pool():
    # The tree loads through app.workers (the one pool), not a private thread mechanism.
    import inspect

    import app.models.mounts_model as mm

    assert "workers.submit" in inspect.getsource(mm.MountsModel._start_fetch)
    assert "QThread" not in inspect.getsource(mm)
    assert isinstance(MountsModel(), MountsModel)


def test_type_ahead_selects_by_name(qtbot, window, tree):
    index = window.add_mount(MountSpec("data", tree, "local"))
    wait_loaded(qtbot, window, tree)
    window.tree.setCurrentIndex(index)
    window.tree.setFocus()
    QTest.keyClicks(window.tree, "no")
    assert window.current_node().name == "notes.md"


def test_os_drop_on_empty_space_mounts_the_folder(qtbot, window, tree):
    from PySide6.QtCore import QMimeData, QModelIndex, QUrl

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(tree)])
    with qtbot.waitSignal(window.mounted, timeout=15_000):
        assert window.model.dropMimeData(mime, Qt.DropAction.CopyAction, -1, -1, QModelIndex())
    assert [m.uri for m in window.model.mounts()] == [tree]


def test_first_run_opens_demo_data_and_home(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STORESCOPE_DATA_DIR", str(tmp_path / "userdata"))
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), lazy=True)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.first_shown, timeout=10_000):
        pass
    w.finish_startup([])
    qtbot.waitUntil(lambda: len(w.model.mounts()) == 2, timeout=60_000)
    assert [(m.name, m.uri) for m in w.model.mounts()] == [
        ("Demo data", str(tmp_path / "userdata" / "demo")), ("Home", os.path.expanduser("~"))]
    demo = w.model.mount_nodes()[0]
    qtbot.waitUntil(lambda: demo.state == DONE, timeout=15_000)
    assert {c.name for c in demo.children} == {"arrays", "images", "notes", "tables"}
    w.close()


def test_compare_two_selected_folders_opens_a_dialog_with_the_difference(qtbot, window, local_root):
    from PySide6.QtCore import QItemSelectionModel

    for side, names in (("a", ("x.txt", "y.txt")), ("b", ("x.txt",))):
        os.makedirs(os.path.join(local_root, side))
        for name in names:
            with open(os.path.join(local_root, side, name), "w") as f:
                f.write(name)
    window.add_mount(MountSpec("data", local_root, "local"))
    wait_loaded(qtbot, window, local_root)
    sel = window.selection
    for side in ("a", "b"):
        index = window.model.index_of(window.model.find_loaded(os.path.join(local_root, side)))
        sel.select(index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
    assert sorted(window.selected_uris()) == [os.path.join(local_root, "a"), os.path.join(local_root, "b")]
    menu_texts = [a.text() for a in window.build_context_menu(window.model.index_of(window.model.find_loaded(os.path.join(local_root, "a")))).action_list]
    assert "Compare…" in menu_texts
    window.compare_selected()
    dialog = window.compare_dialog
    with qtbot.waitSignal(dialog.compare_finished, timeout=15_000) as blocker:
        pass
    assert blocker.args[0] == 2  # x.txt the same, y.txt only in a
    found = sorted((e.path, e.status) for e in dialog.model.entries)
    assert found == [("x.txt", "same"), ("y.txt", "only_a")]


def test_preview_is_the_central_widget_without_a_scroll_area(qtbot, window):
    from PySide6.QtWidgets import QScrollArea

    assert window.centralWidget() is window.preview
    assert not window.findChildren(QScrollArea, options=Qt.FindChildOption.FindDirectChildrenOnly)
    assert window.preview.minimumSizeHint().width() < 600


def test_default_dock_proportions_leave_room_for_tree_and_preview(qtbot, window):
    qtbot.waitUntil(lambda: window.mounts_dock.width() >= 0.34 * window.width(), timeout=5000)
    assert window.queue_dock.height() <= 160  # the empty queue does not eat the preview's height
    assert window.preview.width() >= 0.5 * window.width()
    tree = window.tree
    last = tree.header().sectionViewportPosition(3)
    assert last + 60 <= tree.viewport().width()  # the Kind column is on screen, not pushed out


def test_count_label_says_when_a_folder_is_not_listed_yet(qtbot, window, tree):
    window.add_mount(MountSpec("data", tree, "local"))
    wait_loaded(qtbot, window, tree)
    sub = window.model.find_loaded(os.path.join(tree, "sub"))
    window.tree.setCurrentIndex(window.model.index_of(sub))
    assert window.count_label.text() == "sub: not listed yet"
    window.tree.expand(window.model.index_of(sub))
    wait_loaded(qtbot, window, sub.uri)
    qtbot.waitUntil(lambda: window.count_label.text() == "sub: 2 items", timeout=5000)


def test_the_worker_pool_keeps_the_gil_switch_interval_short(qtbot, window):
    """Every Qt event handed to Python takes the GIL back: with workers running Python, Python's 5 ms
    default switch interval made each hand-back wait up to 5 ms; the window's process uses 1 ms."""
    import sys

    from app import workers

    workers.pool()
    assert sys.getswitchinterval() <= workers.GIL_SWITCH_INTERVAL_S < 0.005


def test_a_row_revealed_while_its_folder_lists_is_in_view_when_the_listing_ends(qtbot, window, local_root,
                                                                                 monkeypatch):
    """Rows of a folder listed out of order land above the revealed one and push it down: once the listing
    ends, the selected row is scrolled back into view."""
    import app.models.mounts_model as mm

    names = [f"k{i:04d}.txt" for i in range(1500)]
    os.makedirs(os.path.join(local_root, "many"))
    for name in names:
        open(os.path.join(local_root, "many", name), "w").close()
    real_pages = mm.list_pages

    def late_first_pages(uri, mode, token=None):  # the target early, the rows sorting before it after it
        nodes = [n for page in real_pages(uri, mode, token) for n in page]
        nodes.sort(key=lambda n: n.name != "k1400.txt")
        for i in range(0, len(nodes), 100):
            yield nodes[i : i + 100]

    monkeypatch.setattr(mm, "list_pages", late_first_pages)
    window.resize(900, 500)
    window.show()
    window.add_mount(MountSpec("data", local_root, "local"))
    target = os.path.join(local_root, "many", "k1400.txt")
    with qtbot.waitSignal(window.revealed, timeout=15_000):
        window.reveal(target)
    folder = window.model.find_loaded(os.path.join(local_root, "many"))
    qtbot.waitUntil(lambda: folder.state == DONE, timeout=15_000)
    index = window.model.index_of(window.model.find_loaded(target))
    assert window.tree.currentIndex().siblingAtColumn(0) == index
    assert window.tree.viewport().rect().intersects(window.tree.visualRect(index))
