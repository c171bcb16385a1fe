"""Issue 19 "Daily use": recent files, bookmarks, theme, icons, keyboard, and the rough edges of a first day."""

from __future__ import annotations

import io
import os
import sys

import numpy as np
import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QApplication
from window_helpers import close_window, make_window, wait_loaded


def _preview(qtbot, window, uri):
    with qtbot.waitSignal(window.preview.loaded, timeout=15_000, check_params_cb=lambda u: u == uri):
        window.preview.show_location(uri)


def _facts(window) -> dict[str, str]:
    table = window.preview.current_viewer.facts
    return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}


def _mount(qtbot, window, root):
    from app.mounts import MountSpec

    window.add_mount(MountSpec("root", root, "local"))
    wait_loaded(qtbot, window, root)


# -- recent files and bookmarks -------------------------------------------------------------------
def test_recent_files_menu_dedup_max_and_persisted(qtbot, window, local_root, settings_path):
    path = os.path.join(local_root, "notes.txt")
    with open(path, "w") as f:
        f.write("hello")
    _mount(qtbot, window, local_root)
    window.reveal(path)
    qtbot.waitUntil(lambda: path in window.places.recent(), timeout=15_000)
    for i in range(12):
        window.places.add_recent(f"memory://r/{i}")
    window.places.add_recent("memory://r/5")  # again: moves to the top, not twice
    recent = window.places.recent()
    assert len(recent) == 10
    assert recent[0] == "memory://r/5" and recent.count("memory://r/5") == 1
    assert path not in recent  # the oldest fell off
    window.places.add_recent(path)
    window.rebuild_recent_menu()
    texts = [a.text() for a in window.recent_menu.action_list]
    assert texts[0] == f"&1 {path}"
    window.settings.sync()
    other = make_window(qtbot, settings_path)
    try:
        assert other.places.recent() == window.places.recent()
        other.rebuild_recent_menu()
        assert other.recent_menu.action_list[0].toolTip() == path
    finally:
        close_window(qtbot, other)
    # choosing an entry goes there
    window.tree.setCurrentIndex(window.model.index_of(window.model.find_loaded(local_root)))
    with qtbot.waitSignal(window.revealed, timeout=15_000):
        window.recent_menu.action_list[0].trigger()
    assert window.current_node().uri == path


def test_bookmarks_add_jump_remove_persisted(qtbot, window, local_root, settings_path):
    sub = os.path.join(local_root, "deep", "er")
    os.makedirs(sub)
    _mount(qtbot, window, local_root)
    with qtbot.waitSignal(window.revealed, timeout=15_000):
        window.reveal(sub)
    window.rebuild_bookmarks_menu()
    assert window.act_bookmark.text().replace("&", "") == "Bookmark this location"
    window.act_bookmark.trigger()
    assert window.places.bookmarks() == [sub]
    window.rebuild_bookmarks_menu()
    assert window.act_bookmark.text().replace("&", "") == "Remove this bookmark"
    jump = [a for a in window.bookmarks_menu.action_list if a.toolTip() == sub]
    assert len(jump) == 1
    window.tree.setCurrentIndex(window.model.index_of(window.model.find_loaded(local_root)))
    with qtbot.waitSignal(window.revealed, timeout=15_000):
        jump[0].trigger()
    assert window.current_node().uri == sub
    other = make_window(qtbot, settings_path)
    try:
        assert other.places.bookmarks() == [sub]
    finally:
        close_window(qtbot, other)
    window.act_bookmark.trigger()  # again: removed
    assert window.places.bookmarks() == []


# -- theme -------------------------------------------------------------------------------------------
@pytest.fixture
def restore_palette():
    app = QApplication.instance()
    palette, style = app.palette(), app.style().name()
    yield
    hints = app.styleHints()
    if hasattr(hints, "unsetColorScheme"):
        hints.unsetColorScheme()
    app.setStyle(style)
    app.setPalette(palette)


def test_theme_dark_light_persisted_and_plot_follows(qtbot, window, local_root, settings_path, restore_palette):
    import pyqtgraph as pg
    from PySide6.QtGui import QPalette

    path = os.path.join(local_root, "img.npy")
    np.save(path, np.arange(64, dtype="f4").reshape(8, 8))
    assert window.theme_actions["system"].isChecked()
    _preview(qtbot, window, path)
    views = window.preview.findChildren(pg.GraphicsView)
    assert views
    assert window.set_theme("dark") == "dark"
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
    assert all(v.backgroundBrush().color().lightness() < 80 for v in views)
    assert window.settings.value("view/theme") == "dark"
    other = make_window(qtbot, settings_path)
    try:
        assert other.theme_actions["dark"].isChecked()
    finally:
        close_window(qtbot, other)
    window.theme_actions["light"].trigger()
    assert window.theme.scheme == "light"
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() >= 128
    assert all(v.backgroundBrush().color().lightness() > 200 for v in views)
    assert window.settings.value("view/theme") == "light"


# -- icons -------------------------------------------------------------------------------------------
def test_toolbar_icons_are_scalable_svgs(window):
    from app.icons import ICON_DIR

    for name in ("refresh", "up", "find", "bookmark"):
        assert (ICON_DIR / f"{name}.svg").exists()
    for action in (window.act_refresh, window.act_up, window.act_find, window.act_add):
        icon = action.icon()
        assert not icon.isNull()
        assert icon.availableSizes() == []  # drawn from SVG at any size, not a fixed bitmap
        pixmap = icon.pixmap(QSize(16, 16), 2.0)
        assert (pixmap.width(), pixmap.height()) == (32, 32)
        assert pixmap.devicePixelRatio() == 2.0


def test_high_dpi_rounding_pass_through(monkeypatch):
    from PySide6.QtGui import QGuiApplication

    from app import main

    calls = []
    monkeypatch.setattr(QGuiApplication, "instance", staticmethod(lambda: None))
    monkeypatch.setattr(QGuiApplication, "setHighDpiScaleFactorRoundingPolicy", staticmethod(calls.append))
    main.configure_high_dpi()
    assert calls == [Qt.HighDpiScaleFactorRoundingPolicy.PassThrough]


# -- keyboard ----------------------------------------------------------------------------------------
def test_keyboard_ctrl_l_and_f6_cycle(qtbot, window, local_root):
    path = os.path.join(local_root, "img.npy")
    np.save(path, np.zeros((4, 4), "f4"))
    _mount(qtbot, window, local_root)
    _preview(qtbot, window, path)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.tree.setFocus()
    qtbot.waitUntil(window.tree.hasFocus, timeout=5000)
    qtbot.keyClick(window.tree, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.path_bar.hasFocus, timeout=5000)
    assert window.path_bar.selectedText() == window.path_bar.text()
    window.tree.setFocus()
    qtbot.waitUntil(window.tree.hasFocus, timeout=5000)
    qtbot.keyClick(window.tree, Qt.Key.Key_F6)
    qtbot.waitUntil(lambda: window.preview.isAncestorOf(QApplication.focusWidget()), timeout=5000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F6)
    qtbot.waitUntil(window.path_bar.hasFocus, timeout=5000)
    qtbot.keyClick(window.path_bar, Qt.Key.Key_F6)
    qtbot.waitUntil(window.tree.hasFocus, timeout=5000)
    qtbot.keyClick(window.tree, Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(window.path_bar.hasFocus, timeout=5000)
    # Tab order: path bar → filter → tree
    assert window.path_bar.nextInFocusChain() is window.filter_box
    assert window.filter_box.nextInFocusChain() is window.tree


def test_shortcuts_dialog_lists_window_and_plot(qtbot, window, monkeypatch):
    from app.plot import slice_plot

    monkeypatch.setattr(slice_plot.SlicePlot, "shortcuts", staticmethod(lambda: [("R", "Reset the view")]),
                        raising=False)
    dialog = window.shortcuts_dialog()
    qtbot.addWidget(dialog)
    rows = dialog.rows()
    keys = {(where, k) for where, k, _ in rows}
    assert ("Window", "Ctrl+L") in keys and ("Window", "F6") in keys and ("Window", "Shift+F6") in keys
    assert ("Slice plot", "R", "Reset the view") in rows
    monkeypatch.delattr(slice_plot.SlicePlot, "shortcuts")
    assert not any(where == "Slice plot" for where, _, _ in window.shortcuts_dialog().rows())


# -- rough edges ---------------------------------------------------------------------------------------
def test_status_not_working_forever_after_path_bar_mount(qtbot, window, local_root):
    os.makedirs(os.path.join(local_root, "a"))
    window.path_bar.setText(local_root)
    window.path_bar.returnPressed.emit()
    wait_loaded(qtbot, window, local_root)
    qtbot.waitUntil(window.idle, timeout=15_000)
    qtbot.waitUntil(lambda: window.activity_label.text() == "", timeout=15_000)
    assert window.model.find_loaded(os.path.join(local_root, "a")) is not None


def test_status_clears_for_a_task_that_ended_before_it_was_tracked(qtbot, window):
    from app import workers

    quick = workers.submit(lambda: None)
    qtbot.waitUntil(quick.finished.is_set, timeout=5000)
    cancelled = workers.submit(lambda: None)
    cancelled.cancel()
    qtbot.waitUntil(cancelled.finished.is_set, timeout=5000)
    window.track(quick)
    window.track(cancelled)
    window.nav.update_activity()
    assert window.activity_label.text() == "Working…"
    qtbot.waitUntil(lambda: not window.pending_tasks, timeout=5000)
    assert window.activity_label.text() == ""
    assert window.idle()


def test_folder_summary_refreshes_after_transfer(qtbot, window, local_root, tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("payload")
    dst = os.path.join(local_root, "dst")
    os.makedirs(dst)
    _mount(qtbot, window, local_root)
    with qtbot.waitSignal(window.revealed, timeout=15_000):
        window.reveal(dst)
    qtbot.waitUntil(lambda: window.preview.current_viewer is not None and window.preview._uri == dst, timeout=15_000)
    assert _facts(window)["Files"] == "0"
    window.submit_transfer([str(src)], dst, "copy")
    qtbot.waitUntil(lambda: window.preview.current_viewer is not None and _facts(window).get("Files") == "1",
                    timeout=30_000)


def test_summary_names_zarr_stores_and_tooltips(qtbot, window, local_root):
    store = os.path.join(local_root, "scan.zarr")
    os.makedirs(store)
    with open(os.path.join(store, ".zgroup"), "w") as f:
        f.write('{"zarr_format": 2}')
    _preview(qtbot, window, local_root)
    viewer = window.preview.current_viewer
    item = viewer.children.topLevelItem(0)
    assert item.text(0) == "scan.zarr/" and item.text(1) == "Zarr store"
    assert store in item.toolTip(0)
    _preview(qtbot, window, store)
    assert _facts(window)["Kind"] == "Zarr store"


def test_broken_soft_link_summary(qtbot, window, local_root):
    import h5py

    path = os.path.join(local_root, "links.h5")
    with h5py.File(path, "w") as f:
        f.create_group("g")
        f["dangling"] = h5py.SoftLink("/no/such/thing")
    _preview(qtbot, window, f"{path}::/dangling")
    facts = _facts(window)
    assert facts["Kind"] == "Broken link"
    assert facts["Points to"] == "/no/such/thing"
    assert "Members" not in facts


def test_broken_parquet_one_line(qtbot, window, local_root):
    path = os.path.join(local_root, "bad.parquet")
    with open(path, "wb") as f:
        f.write(b"PAR1 this is not parquet at all")
    with qtbot.waitSignal(window.preview.message, timeout=15_000) as blocker:
        window.preview.show_location(path)
    message = blocker.args[0]
    assert message.startswith("bad.parquet: not a readable parquet file:")
    assert "ComputeError" not in message and "\n" not in message
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == message, timeout=5000)


def test_tree_and_find_tooltips_give_full_names(qtbot, window, local_root):
    name = "a_really_long_name_that_the_column_cuts_off_" + "x" * 60 + ".txt"
    path = os.path.join(local_root, name)
    with open(path, "w") as f:
        f.write("x")
    _mount(qtbot, window, local_root)
    node = window.model.find_loaded(path)
    assert node is not None
    text = window.tree.tooltip_for(window.model.index_of(node))
    assert name in text and path in text
    from app.find_dock import FindResultsModel

    model = window.find_dock.model
    assert isinstance(model, FindResultsModel)
    window.find_dock.start_search(local_root)
    window.find_dock.name_edit.setText("*really_long*")
    window.find_dock.search()
    qtbot.waitUntil(lambda: model.rowCount() == 1 and not window.find_dock.busy, timeout=15_000)
    assert model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole) == path
    assert window.find_dock.table.textElideMode() == Qt.TextElideMode.ElideMiddle


def test_transfer_dock_restores_at_a_usable_height(qtbot, settings_path):
    from app.window import QUEUE_DOCK_MIN_HEIGHT

    first = make_window(qtbot, settings_path)
    qtbot.waitUntil(lambda: first.queue_dock.isVisible(), timeout=5000)
    first.resizeDocks([first.queue_dock], [20], Qt.Orientation.Vertical)
    close_window(qtbot, first)
    second = make_window(qtbot, settings_path)
    try:
        qtbot.waitUntil(lambda: second.queue_dock.height() >= QUEUE_DOCK_MIN_HEIGHT, timeout=5000)
        assert second.centralWidget().height() > second.queue_dock.height()
    finally:
        close_window(qtbot, second)


def test_test_connection_error_names_the_users_endpoint(qtbot, window):
    from app.dialogs.mount_dialog import MountDialog

    dialog = MountDialog(window)
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentIndex(dialog.kind.findData("s3"))
    dialog.bucket.setText("my-bucket/some/prefix")
    dialog.endpoint.setText("http://127.0.0.1:9")  # nothing listens on the discard port
    dialog.use_keys.setChecked(True)
    dialog.access_key.setText("AKIAEXAMPLE")
    dialog.secret_key.setText("secret")
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=60_000)
    text = dialog.test_result.text()
    assert "storescope-test" not in text
    assert "s3://my-bucket/some/prefix" in text and "http://127.0.0.1:9" in text
    assert "secret" not in text


def test_keyring_missing_says_why_and_installs(qtbot, window, monkeypatch):
    from app.dialogs import mount_dialog

    monkeypatch.setattr(mount_dialog, "keyring_available", lambda: False)
    dialog = mount_dialog.MountDialog(window)
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentIndex(dialog.kind.findData("s3"))
    dialog.show()
    dialog.use_keys.setChecked(True)
    assert not dialog.remember.isEnabled()
    assert dialog.keyring_hint.isVisible() and "pip install keyring" in dialog.keyring_hint.text()
    assert dialog.install_keyring_button.isVisible()
    assert mount_dialog.KEYRING_INSTALL[1:] == ["-m", "pip", "install", "keyring"]
    dialog.install_command = [sys.executable, "-c", "pass"]  # not a real install in a test
    monkeypatch.setattr(mount_dialog, "keyring_available", lambda: True)
    dialog.install_keyring_button.click()
    qtbot.waitUntil(dialog.remember.isEnabled, timeout=30_000)
    assert not dialog.install_keyring_button.isVisible()


@pytest.mark.parametrize(("raw", "expected"), [("1MiB", 1 << 20), ("2 GB", 2_000_000_000), ("123456", 123456),
                                                ("1.5KiB", 4096)])
def test_preview_budget_units(qtbot, settings_path, monkeypatch, raw, expected):
    monkeypatch.setenv("STORESCOPE_PREVIEW_BUDGET", raw)
    w = make_window(qtbot, settings_path)
    try:
        assert w.preview.budget.max_bytes == expected
    finally:
        close_window(qtbot, w)


def test_preview_budget_unparseable_says_why(qtbot, settings_path, monkeypatch, caplog):
    from app.viewers.budget import DEFAULT_BUDGET

    monkeypatch.setenv("STORESCOPE_PREVIEW_BUDGET", "lots")
    w = make_window(qtbot, settings_path)
    try:
        assert w.preview.budget.max_bytes == DEFAULT_BUDGET
        message = w.statusBar().currentMessage()
        assert "STORESCOPE_PREVIEW_BUDGET" in message and "'lots'" in message
        assert any("STORESCOPE_PREVIEW_BUDGET" in r.getMessage() for r in caplog.records)
    finally:
        close_window(qtbot, w)


# -- storescope cat ------------------------------------------------------------------------------------
@pytest.fixture
def h5_values(tmp_path):
    import h5py

    path = str(tmp_path / "v.h5")
    with h5py.File(path, "w") as f:
        f["scalar"] = 3.5
        f["name"] = "hello"
        f["grid"] = np.arange(12).reshape(3, 4)
        f["long"] = np.arange(2500)
        f.create_group("g")
    return path


def test_cat_prints_scalars_and_arrays_bounded(h5_values, capsys):
    from storecore import cli

    assert cli.main(["cat", f"{h5_values}::/scalar"]) == 0
    assert capsys.readouterr().out == "3.5\n"
    cli.main(["cat", f"{h5_values}::/name"])
    assert capsys.readouterr().out == "hello\n"
    cli.main(["cat", f"{h5_values}::/grid"])
    assert capsys.readouterr().out.splitlines() == ["0\t1\t2\t3", "4\t5\t6\t7", "8\t9\t10\t11"]
    cli.main(["cat", f"{h5_values}::/long"])
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == cli.CAT_TEXT_ROWS
    assert "1,500 more rows left out (of 2,500)" in captured.err
    cli.main(["cat", "--limit", "0", f"{h5_values}::/long"])
    assert len(capsys.readouterr().out.splitlines()) == 2500
    assert cli.main(["cat", f"{h5_values}::/g"]) != 0
    assert "group" in capsys.readouterr().err


def test_cat_npy_and_csv(h5_values, capsysbinary):
    from storecore import cli

    assert cli.main(["cat", "--format", "npy", f"{h5_values}::/grid"]) == 0
    data = np.load(io.BytesIO(capsysbinary.readouterr().out))
    assert data.tolist() == np.arange(12).reshape(3, 4).tolist()
    assert cli.main(["cat", "--format", "csv", f"{h5_values}::/grid"]) == 0
    assert capsysbinary.readouterr().out.decode().splitlines() == ["0,1,2,3", "4,5,6,7", "8,9,10,11"]
