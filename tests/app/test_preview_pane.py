"""The preview pane: a viewer chosen for each kind, loads on workers, errors as messages, size guard."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from window_helpers import show

from app.formatting import human_size
from app.viewers.budget import Budget, selection_cost, touched_chunks
from app.viewers.pane import PreviewPane


def non_blank(widget, path) -> bool:
    """Save a screenshot of ``widget`` and say whether it has more than one colour."""
    img = widget.grab().toImage()
    assert img.save(str(path))
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB32)
    arr = np.frombuffer(img.constBits(), np.uint32, img.width() * img.height())
    return len(np.unique(arr[:: max(1, arr.size // 200_000)])) > 1


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    import polars as pl
    from PIL import Image

    from storecore.containers import create_group, write_array

    d = tmp_path_factory.mktemp("preview")
    (d / "notes.txt").write_text("hello preview\n" * 50)
    (d / "readme.md").write_text("# Title\n\nsome *markdown*\n")
    (d / "doc.json").write_text(json.dumps({"name": "x", "items": [1, 2, {"deep": [True, None]}], "n": 3.5}))
    (d / "rows.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
    (d / "blob.bin").write_bytes(bytes(range(256)) * 40)
    (d / "bad.txt").write_bytes(b"ok text \xff\xfe broken \xc3(\n")
    pl.DataFrame({"id": np.arange(300), "v": np.linspace(0, 1, 300), "s": [f"r{i}" for i in range(300)]}).write_parquet(d / "t.parquet")
    (d / "t.csv").write_text("a,b\n1,x\n2,y\n")
    y, x = np.mgrid[0:120, 0:160]
    Image.fromarray(np.dstack([x % 256, y * 2 % 256, (x + y) % 256]).astype("u1")).save(d / "pic.png")
    np.save(d / "cube.npy", np.arange(3 * 40 * 50, dtype="f4").reshape(3, 40, 50))
    np.savez(d / "pair.npz", first=np.arange(10.0), second=np.eye(5))
    (d / "sub").mkdir()
    (d / "sub" / "a.txt").write_text("a")
    (d / "ds").mkdir()
    for i in range(2):
        pl.DataFrame({"k": [i, i]}).write_parquet(d / "ds" / f"part-{i}.parquet")
    write_array(f"{d}/vol.zarr::/raw/data", np.random.default_rng(0).random((4, 30, 40), dtype="f4"), chunks=(1, 16, 16))
    create_group(f"{d}/vol.zarr::/raw", attrs={"instrument": "demo", "gain": 2})
    h5 = d / "f.h5"
    rec = np.zeros(20, dtype=[("t", "f8"), ("n", "i4")])
    rec["t"] = np.arange(20) / 2
    rec["n"] = np.arange(20)
    import h5py

    with h5py.File(h5, "w") as f:  # a compound dataset (storecore writes plain dtypes)
        f.create_dataset("entry/records", data=rec)
    write_array(f"{h5}::/entry/image", np.random.default_rng(1).random((2, 32, 32)).astype("f4"), chunks=(1, 16, 16))
    (d / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    np.save(d / "records.npy", rec)
    return d


KINDS = [
    ("notes.txt", "TextViewer"),
    ("readme.md", "TextViewer"),
    ("doc.json", "TextViewer"),
    ("rows.jsonl", "TextViewer"),
    ("blob.bin", "HexViewer"),
    ("t.parquet", "TableViewer"),
    ("t.csv", "TableViewer"),
    ("pic.png", "ImageViewer"),
    ("cube.npy", "ArrayViewer"),
    ("pair.npz", "ArrayViewer"),
    ("sub", "SummaryViewer"),
    ("ds", "TableViewer"),
    ("vol.zarr", "SummaryViewer"),
    ("vol.zarr::/raw", "SummaryViewer"),
    ("vol.zarr::/raw/data", "ArrayViewer"),
    ("f.h5", "SummaryViewer"),
    ("f.h5::/entry/records", "TableViewer"),
    ("records.npy", "TableViewer"),
    ("f.h5::/entry/image", "ArrayViewer"),
]


@pytest.mark.parametrize("name,viewer", KINDS)
def test_each_kind_gets_its_viewer_and_a_non_blank_screenshot(qtbot, pane, data_dir, tmp_path, name, viewer):
    widget = show(qtbot, pane, f"{data_dir}/{name}")
    assert widget is not None, pane._loading.label.text()
    assert type(widget).__name__ == viewer
    shot = tmp_path / (name.replace("::", "_").replace("/", "_") + ".png")
    assert non_blank(pane, shot)


def test_folder_summary_counts_and_group_attributes(qtbot, pane, data_dir):
    w = show(qtbot, pane, str(data_dir))
    facts = {w.facts.item(r, 0).text(): w.facts.item(r, 1).text() for r in range(w.facts.rowCount())}
    assert facts["Folders"] == "3"  # sub, ds, vol.zarr
    assert int(facts["Files"]) == len([p for p in data_dir.iterdir() if p.is_file()])
    w = show(qtbot, pane, f"{data_dir}/vol.zarr::/raw")
    names = [w.children.topLevelItem(i).text(0) for i in range(w.children.topLevelItemCount())]
    assert names == ["data"]
    assert w.children.topLevelItem(0).text(2) == "4×30×40"
    attrs = {w.attrs.item(r, 0).text(): w.attrs.item(r, 1).text() for r in range(w.attrs.rowCount())}
    assert attrs == {"instrument": "demo", "gain": "2"}


def test_json_is_pretty_and_foldable(qtbot, pane, data_dir):
    w = show(qtbot, pane, f"{data_dir}/doc.json")
    root = w.tree.topLevelItem(0)
    keys = [root.child(i).text(0) for i in range(root.childCount())]
    assert keys == ["name", "items", "n"]
    items = root.child(1)
    assert items.text(1) == "[3]"
    items.setExpanded(True)  # children are built when unfolded
    assert [items.child(i).text(0) for i in range(items.childCount())] == ["0", "1", "2"]
    assert '"items": [' in w.edit.toPlainText()


def test_encoding_errors_are_shown_not_raised(qtbot, pane, data_dir):
    w = show(qtbot, pane, f"{data_dir}/bad.txt")
    assert "\ufffd" in w.edit.toPlainText()
    assert "not valid UTF-8" in w.info.text()


def test_hex_view_shows_facts_and_first_4k(qtbot, pane, data_dir):
    w = show(qtbot, pane, f"{data_dir}/blob.bin")
    dump = w.dump.toPlainText()
    assert "00000000  00 01 02 03" in dump
    assert "00000ff0" in dump and "00001000" not in dump
    facts = {w.table.item(r, 0).text(): w.table.item(r, 1).text() for r in range(w.table.rowCount())}
    assert facts["Size"].startswith("10.0 KiB")


def test_errors_become_messages_and_loaded_still_fires(qtbot, pane, data_dir):
    messages = []
    pane.message.connect(messages.append)
    assert show(qtbot, pane, f"{data_dir}/nope.txt") is None
    assert "no such file" in pane._loading.label.text()
    assert show(qtbot, pane, f"{data_dir}/broken.npy") is None
    assert "broken.npy" in pane._loading.label.text()
    assert show(qtbot, pane, f"{data_dir}/vol.zarr::/raw/missing") is None
    assert len(messages) == 3


@pytest.mark.parametrize("name", ["f.h5::/entry/records", "records.npy"])
def test_records_show_as_rows(qtbot, pane, data_dir, name):
    w = show(qtbot, pane, f"{data_dir}/{name}")
    assert w.model.rowCount() == 20
    assert w.model.headerData(0, __import__("PySide6.QtCore").QtCore.Qt.Orientation.Horizontal) == "t\nFloat64"
    assert w.model.data(w.model.index(3, 1)) == "3"


def test_view_as_offers_other_viewers(qtbot, pane, data_dir):
    show(qtbot, pane, f"{data_dir}/t.csv")
    titles = [pane._view_as.itemText(i) for i in range(pane._view_as.count())]
    assert titles[:2] == ["Table", "Text"]
    with qtbot.waitSignal(pane.loaded, timeout=10000):
        pane._view_as.activated.emit(1)
    assert type(pane.current_viewer).__name__ == "TextViewer"
    assert pane.current_viewer.edit.toPlainText().startswith("a,b")


def test_a_newer_selection_cancels_the_older_load(qtbot, pane, data_dir, monkeypatch):
    from app.viewers.text_viewer import TextViewer

    release = threading.Event()
    started = threading.Event()
    seen_tokens = []
    original = TextViewer.prepare.__func__

    def slow_prepare(cls, target, budget, token):
        if target.name == "notes.txt":
            seen_tokens.append(token)
            started.set()
            release.wait(10)
        return original(cls, target, budget, token)

    monkeypatch.setattr(TextViewer, "prepare", classmethod(slow_prepare))
    loaded = []
    pane.loaded.connect(loaded.append)
    pane.show_location(f"{data_dir}/notes.txt")
    qtbot.waitUntil(started.is_set, timeout=10000)
    assert pane.busy and pane.current_viewer is None
    qtbot.waitUntil(pane._loading.bar.isVisible, timeout=5000)  # the busy page shows when a load takes a while
    show(qtbot, pane, f"{data_dir}/readme.md")
    assert seen_tokens[0].cancelled
    old_task = seen_tokens[0]
    release.set()
    qtbot.waitUntil(lambda: not any(t.token is old_task for t in list(__import__("app.workers").workers.Task._live)), timeout=10000)
    qtbot.wait(50)  # let any (wrongly) queued result arrive
    assert loaded == [f"{data_dir}/readme.md"]
    assert "markdown" in pane.current_viewer.edit.toPlainText()


def test_size_guard_text_shows_head_and_loads_full_on_request(qtbot, data_dir, tmp_path):
    big = tmp_path / "big.log"
    big.write_text("".join(f"line {i:06d}\n" for i in range(20000)))  # 240 KB
    pane = PreviewPane(budget=Budget(16 * 1024))
    qtbot.addWidget(pane)
    w = show(qtbot, pane, str(big))
    assert len(w.edit.toPlainText()) == 16 * 1024
    assert w.guard.isVisibleTo(w) and human_size(big.stat().st_size) in w.guard.button.text()
    with qtbot.waitSignal(pane.loaded, timeout=10000):
        w.guard.button.click()
    w = pane.current_viewer
    assert len(w.edit.toPlainText()) == big.stat().st_size
    assert not w.guard.isVisibleTo(w)


def test_text_load_more_reads_the_next_part(qtbot, pane, tmp_path):
    f = tmp_path / "long.txt"
    f.write_text("x" * 200_000)
    w = show(qtbot, pane, str(f))
    assert len(w.edit.toPlainText()) == 64 * 1024
    w.more.click()
    qtbot.waitUntil(lambda: len(w.edit.toPlainText()) == 200_000, timeout=10000)
    assert not w.more.isVisibleTo(w)


def test_size_guard_images(qtbot, data_dir):
    pane = PreviewPane(budget=Budget(4096))
    qtbot.addWidget(pane)
    w = show(qtbot, pane, f"{data_dir}/pic.png")
    assert w.view.item.pixmap().isNull()
    assert w.guard.isVisibleTo(w) and "Load full" in w.guard.button.text()
    with qtbot.waitSignal(pane.loaded, timeout=10000):
        w.guard.button.click()
    assert pane.current_viewer.view.item.pixmap().width() == 160


def test_large_images_are_downsampled_on_the_worker(qtbot, pane, tmp_path):
    from PIL import Image

    Image.new("L", (5000, 40), 128).save(tmp_path / "wide.png")
    w = show(qtbot, pane, str(tmp_path / "wide.png"))
    assert w.view.item.pixmap().width() == 4096
    assert "5000×40" in w.info.text() and "downsampled" in w.info.text()


def test_npz_members(qtbot, pane, data_dir):
    w = show(qtbot, pane, f"{data_dir}/pair.npz")
    assert [w.member.itemText(i) for i in range(w.member.count())] == ["first", "second"]
    np.testing.assert_array_equal(w.plot.raw, np.arange(10.0))
    with qtbot.waitSignal(w.plot.slice_loaded, timeout=10000):
        w.member.activated.emit(1)
    np.testing.assert_array_equal(w.plot.raw, np.eye(5))


def test_budget_costs():
    assert human_size(2469606195) == "2.3 GiB"
    assert Budget(100).fits(100) and not Budget(100).fits(101) and not Budget().fits(None)
    shape, chunks = (10, 100, 100), (2, 50, 50)
    assert len(touched_chunks(shape, chunks, (3, slice(None), slice(0, 40)))) == 2
    assert selection_cost(shape, chunks, 4, (3, slice(None), slice(0, 40))) == 2 * 2 * 50 * 50 * 4
    assert selection_cost(shape, None, 4, (3, slice(None, None, 2))) == 50 * 100 * 4


def test_clear_shows_nothing(qtbot, pane, data_dir):
    show(qtbot, pane, f"{data_dir}/notes.txt")
    pane.clear()
    assert pane.current_viewer is None and "Select" in pane._loading.label.text()


@pytest.mark.s3
def test_remote_previews_on_s3(qtbot, pane, s3_root, tmp_path):
    import polars as pl

    from storecore import backend_for
    from storecore.containers import write_array

    backend, loc = backend_for(s3_root)
    cube = np.arange(4 * 20 * 30, dtype="i2").reshape(4, 20, 30)
    buf = tmp_path / "c.npy"
    np.save(buf, cube)
    backend.write_bytes("c.npy", buf.read_bytes())
    pl.DataFrame({"a": np.arange(1000)}).write_parquet(tmp_path / "t.parquet")
    backend.write_bytes("t.parquet", (tmp_path / "t.parquet").read_bytes())
    write_array(f"{s3_root}/v.zarr::/vol", cube.astype("f4"), chunks=(1, 10, 10))
    w = show(qtbot, pane, f"{s3_root}/c.npy")
    np.testing.assert_array_equal(w.plot.raw, cube[0])
    with qtbot.waitSignal(w.plot.slice_loaded, timeout=10000):
        w.plot.sliders.set_value(0, 3)
    np.testing.assert_array_equal(w.plot.raw, cube[3])
    w = show(qtbot, pane, f"{s3_root}/t.parquet")
    assert w.model.rowCount() == 1000
    w = show(qtbot, pane, f"{s3_root}/v.zarr::/vol")  # first pixels: the rest of the plane follows
    assert list(w.plot.sliders.sliders()) == [0]
    qtbot.waitUntil(lambda: w.plot.result is not None, timeout=10000)
    np.testing.assert_array_equal(w.plot.raw, cube[0].astype("f4"))
    assert non_blank(pane, tmp_path / "s3_zarr.png")
    write_array(f"{s3_root}/v.h5::/entry/vol", cube.astype("f4"), chunks=(1, 10, 10))
    w = show(qtbot, pane, f"{s3_root}/v.h5::/entry/vol")
    qtbot.waitUntil(lambda: w.plot.result is not None, timeout=10000)
    with qtbot.waitSignal(w.plot.slice_loaded, timeout=10000):
        w.plot.sliders.set_value(0, 2)
    np.testing.assert_array_equal(w.plot.raw, cube[2].astype("f4"))
    w = show(qtbot, pane, s3_root)
    assert type(w).__name__ == "SummaryViewer"


def test_memory_store_previews(qtbot, pane, memory_root, tmp_path):
    from storecore import backend_for

    backend, _ = backend_for(memory_root)
    backend.write_bytes("hello.txt", b"in memory")
    np.save(tmp_path / "a.npy", np.arange(12.0).reshape(3, 4))
    backend.write_bytes("a.npy", (tmp_path / "a.npy").read_bytes())
    assert show(qtbot, pane, f"{memory_root}/hello.txt").edit.toPlainText() == "in memory"
    w = show(qtbot, pane, f"{memory_root}/a.npy")
    np.testing.assert_array_equal(w.plot.raw, np.arange(12.0).reshape(3, 4))


def test_void_qt_calls_cannot_exhaust_none(qtbot, pane):
    import sys

    from PySide6.QtCore import QObject

    probe = QObject()
    for _ in range(20_000):  # shiboken6 6.12 on Python 3.11 drops a None reference per call
        probe.setObjectName("")
    assert sys.getrefcount(None) > 10_000


def test_links_resolve_and_broken_links_are_described(qtbot, pane, tmp_path):
    import h5py

    path = tmp_path / "links.h5"
    with h5py.File(path, "w") as f:
        f["data/frames"] = np.arange(24.0).reshape(2, 3, 4)
        f["alias"] = h5py.SoftLink("/data/frames")
        f["dangling"] = h5py.SoftLink("/nowhere")
    w = show(qtbot, pane, f"{path}::/alias")
    assert type(w).__name__ == "ArrayViewer"
    qtbot.waitUntil(lambda: w.plot.result is not None, timeout=10000)
    np.testing.assert_array_equal(w.plot.raw, np.arange(24.0).reshape(2, 3, 4)[0])
    w = show(qtbot, pane, f"{path}::/dangling")
    facts = {w.facts.item(r, 0).text(): w.facts.item(r, 1).text() for r in range(w.facts.rowCount())}
    assert "broken" in facts["Link"] and "/nowhere" in facts["Link"]
    assert "/nowhere" in facts["Problem"]


def test_a_loop_of_links_says_so_and_attributes_keep_their_characters(qtbot, pane, tmp_path):
    """A loop of soft links is not "nothing exists at": the summary gives storecore's reason; list and compound
    attribute values keep non-ASCII characters (µm, Å, é) rather than JSON escapes."""
    import h5py

    path = tmp_path / "loop.h5"
    with h5py.File(path, "w") as f:
        f["a"], f["b"] = h5py.SoftLink("/b"), h5py.SoftLink("/a")
        g = f.create_group("g")
        g.attrs["units"] = np.array(["µm", "Å"], dtype=h5py.string_dtype())
        g.attrs["rec"] = np.array((1, "é".encode()), dtype=[("n", "i4"), ("s", h5py.string_dtype())])
        g["x"] = np.arange(3.0)
    w = show(qtbot, pane, f"{path}::/a")
    facts = {w.facts.item(r, 0).text(): w.facts.item(r, 1).text() for r in range(w.facts.rowCount())}
    assert facts["Problem"] == "link chain does not end at a group or dataset"
    w = show(qtbot, pane, f"{path}::/g")
    attrs = {w.attrs.item(r, 0).text(): w.attrs.item(r, 1).text() for r in range(w.attrs.rowCount())}
    assert attrs == {"units": '["µm", "Å"]', "rec": '{"n": 1, "s": "é"}'}


def test_a_larger_budget_still_reads_text_in_steps(qtbot, tmp_path):
    f = tmp_path / "mid.txt"
    f.write_text("y" * 300_000)
    pane = PreviewPane(budget=Budget(8 * 1024 * 1024))
    qtbot.addWidget(pane)
    w = show(qtbot, pane, str(f))
    assert len(w.edit.toPlainText()) == 64 * 1024 and w.more.isVisibleTo(w)


def test_unplottable_values_give_a_message(qtbot, pane, tmp_path):
    from storecore.containers import write_array

    write_array(f"{tmp_path}/s.zarr::/names", np.array(["alpha", "beta", "gamma"]))
    # strings are offered as a table first; the plot, chosen with "View as", says why it cannot draw them
    assert type(show(qtbot, pane, f"{tmp_path}/s.zarr::/names")).__name__ == "TableViewer"
    with qtbot.waitSignal(pane.loaded, timeout=15000):
        assert pane.view_as("ArrayViewer")
    w = pane.current_viewer
    qtbot.waitUntil(lambda: w.plot.guard.isVisibleTo(w.plot), timeout=10000)
    assert "cannot plot values of type" in w.plot.guard.label.text()


def _blocking_text_prepare(monkeypatch, name):
    """Make TextViewer.prepare of ``name`` wait for a release; returns (started, release) events."""
    from app.viewers.text_viewer import TextViewer

    release, started = threading.Event(), threading.Event()
    original = TextViewer.prepare.__func__

    def slow_prepare(cls, target, budget, token):
        if target.name == name:
            started.set()
            release.wait(10)
        return original(cls, target, budget, token)

    monkeypatch.setattr(TextViewer, "prepare", classmethod(slow_prepare))
    return started, release


def _wait_workers_idle(qtbot):
    from app import workers

    qtbot.waitUntil(lambda: workers.pool().activeThreadCount() == 0, timeout=15000)
    qtbot.wait(50)  # let any (wrongly) queued result arrive


def _delete_then_release(qtbot, widget, release) -> None:
    """Delete ``widget`` now (as Qt would after a close), then let the blocked worker finish: a late
    callback onto the deleted widget would raise, and pytest-qt fails the test then."""
    from PySide6.QtCore import QCoreApplication, QEvent

    gone = []
    widget.destroyed.connect(lambda *_: gone.append(True))
    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert gone
    release.set()
    _wait_workers_idle(qtbot)


def test_a_pane_deleted_mid_load_ignores_the_late_result(qtbot, data_dir, monkeypatch):

    started, release = _blocking_text_prepare(monkeypatch, "notes.txt")
    pane = PreviewPane()
    pane.show()
    loaded = []
    pane.loaded.connect(loaded.append)
    pane.show_location(f"{data_dir}/notes.txt")
    qtbot.waitUntil(started.is_set, timeout=10000)
    _delete_then_release(qtbot, pane, release)
    assert loaded == []


def test_closing_the_window_mid_load_is_quiet(qtbot, data_dir, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from app.mounts import MountSpec
    from app.window import MainWindow

    started, release = _blocking_text_prepare(monkeypatch, "notes.txt")
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    w.show()
    w.finish_startup([], demo=False)
    w.add_mount(MountSpec("data", str(data_dir), "local"))
    w.select_when_mounted(f"{data_dir}/notes.txt")
    qtbot.waitUntil(started.is_set, timeout=15000)
    assert w.preview.busy
    loaded = []
    w.preview.loaded.connect(loaded.append)
    w.close()
    _delete_then_release(qtbot, w, release)
    assert loaded == []


@pytest.mark.parametrize("width", [600, 380])
def test_the_array_toolbar_wraps_in_a_narrow_pane(qtbot, tmp_path, width):
    np.save(tmp_path / "cube4.npy", (np.arange(2 * 3 * 20 * 30) + 0j).reshape(2, 3, 20, 30).astype("c8"))
    pane = PreviewPane()
    qtbot.addWidget(pane)
    pane.resize(width, 700)
    pane.show()
    viewer = show(qtbot, pane, f"{tmp_path}/cube4.npy")
    qtbot.waitUntil(lambda: viewer.plot.toolbar.height() > 0, timeout=5000)
    assert pane.minimumSizeHint().width() <= width  # no horizontal squeeze, nothing to scroll
    assert pane.width() == width  # a long URI in the title while loading must not widen the pane
    toolbar = viewer.plot.toolbar
    shown = [w for w in toolbar.children() if hasattr(w, "isVisibleTo") and w.isVisibleTo(toolbar)]
    assert len(shown) >= 10
    for w in shown:  # every control lies inside the toolbar, which lies inside the pane
        assert toolbar.rect().contains(w.geometry()), w
    assert toolbar.mapTo(pane, toolbar.rect().bottomRight()).x() <= width
    rows = {w.geometry().center().y() for w in shown}
    assert len(rows) >= (2 if width == 600 else 3)  # wrapped onto more rows
    assert non_blank(pane, tmp_path / f"array-{width}.png")


def test_a_pane_deleted_mid_slice_read_ignores_the_late_tiles(qtbot, tmp_path, monkeypatch):

    import app.plot.slice_plot as slice_plot

    np.save(tmp_path / "a.npy", np.arange(4 * 30 * 40, dtype="f4").reshape(4, 30, 40))
    pane = PreviewPane()
    pane.show()
    viewer = show(qtbot, pane, f"{tmp_path}/a.npy")
    release, started = threading.Event(), threading.Event()
    original = slice_plot.read_plane

    def slow_read(*args, **kw):
        started.set()
        release.wait(10)
        return original(*args, **kw)

    monkeypatch.setattr(slice_plot, "read_plane", slow_read)
    monkeypatch.setattr(slice_plot, "plane_cost", lambda *a, **k: 1)  # never served from the cache
    viewer.plot.sliders.set_value(0, 2)
    qtbot.waitUntil(started.is_set, timeout=10000)
    _delete_then_release(qtbot, pane, release)  # a late tile or result on the deleted plot would raise


def test_the_previous_file_is_closed_off_the_gui_thread(qtbot, pane, data_dir):
    """Closing an HDF5 file (h5py flushes and takes its lock) never runs on the GUI thread."""
    show(qtbot, pane, f"{data_dir}/f.h5::/entry/image")
    node = pane.target.node
    closed_on: list[threading.Thread] = []
    real_close = node.close

    def recording_close() -> None:
        closed_on.append(threading.current_thread())
        real_close()

    node.close = recording_close
    show(qtbot, pane, f"{data_dir}/notes.txt")
    qtbot.waitUntil(lambda: bool(closed_on), timeout=10_000)
    assert closed_on[0] is not threading.main_thread()


@pytest.mark.parametrize("shape", [(5, 0), (0, 0), (0, 5, 5), (5, 0, 5), (3, 4, 0)])
def test_an_array_with_a_zero_length_axis_says_it_is_empty(qtbot, pane, tmp_path, shape):
    """No values to draw: one line saying the array is empty, no slider with a position to take, no exception
    (a zero-width image made pyqtgraph divide by zero); changing the shown axes keeps saying so."""
    import zarr

    zarr.create_array(str(tmp_path / "e.zarr"), shape=shape, chunks=tuple(max(1, n) for n in shape), dtype="f4")
    np.save(tmp_path / "e.npy", np.zeros(shape, "f4"))
    for uri in (str(tmp_path / "e.zarr"), str(tmp_path / "e.npy")):
        w = show(qtbot, pane, uri)
        assert type(w).__name__ == "ArrayViewer", uri
        plot = w.plot
        qtbot.waitUntil(lambda plot=plot: plot.guard.isVisibleTo(plot), timeout=10000)
        assert w.plot.guard.label.text() == f"Empty ({'×'.join(map(str, shape))}): no values to plot"
        assert w.plot.sliders.spin_boxes() == {}
        w.plot.set_axes((0,))
        assert w.plot.guard.label.text().startswith("Empty (")


def test_an_xarray_zarr_v2_packed_variable_masks_its_fill_value(qtbot, pane, tmp_path):
    """xarray keeps a Zarr v2 variable's _FillValue in .zarray's fill_value: the viewer's CF decoding masks it
    (the plotted values are xarray's, NaN where it is missing), not -9999 × 0.01 + 5."""
    import warnings

    xr = pytest.importorskip("xarray")
    values = np.linspace(0, 10, 6)
    values[2] = np.nan
    ds = xr.Dataset({"packed": (("x",), values, {"units": "K"})})
    ds["packed"].encoding = {"dtype": "i2", "scale_factor": 0.01, "add_offset": 5.0, "_FillValue": -9999}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(str(tmp_path / "x.zarr"), zarr_format=2, consolidated=False)
    w = show(qtbot, pane, f"{tmp_path}/x.zarr::/packed")
    facts = {w.facts.item(r, 0).text(): w.facts.item(r, 1).text() for r in range(w.facts.rowCount())}
    assert facts["CF decoding"] == "values × 0.01 + 5; missing: -9999"
    plot = w.plot
    qtbot.waitUntil(lambda: plot.raw is not None, timeout=10000)
    np.testing.assert_allclose(plot.raw, values, equal_nan=True)


@pytest.mark.parametrize("root", ["local", "memory"])
def test_a_semicolon_csv_from_a_european_spreadsheet_is_a_table(qtbot, pane, tmp_path, memory_root, root):
    """BOM, ';' between fields and decimal commas: three columns, the numbers read as numbers, not one column
    called "name;value;note" or a one-line error."""
    from PySide6.QtCore import Qt

    import storecore

    text = "\ufeffname;value;note\nalpha;1,5;ü\nbeta;2,25;x\n".encode()
    base = str(tmp_path) if root == "local" else memory_root
    backend, loc = storecore.backend_for(f"{base}/eu.csv")
    backend.write_bytes(loc.path, text)
    w = show(qtbot, pane, f"{base}/eu.csv")
    assert type(w).__name__ == "TableViewer"
    qtbot.waitUntil(lambda: w.model.rowCount() == 2, timeout=10000)
    headers = [w.model.headerData(c, Qt.Orientation.Horizontal) for c in range(w.model.columnCount())]
    assert headers == ["name\nString", "value\nFloat64", "note\nString"]
    assert w.model.data(w.model.index(1, 1)) == "2.25"
