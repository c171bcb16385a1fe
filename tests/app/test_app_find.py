"""The Find dock and the Compare dialog, with real widgets, a real worker pool and real files."""

from __future__ import annotations

import csv
import os
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.dialogs.compare_dialog import CompareDialog
from app.find_dock import URI_MIME, FindDock


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    import h5py
    import zarr

    root = tmp_path_factory.mktemp("finddock") / "tree"
    for i in range(30):
        path = root / f"d{i % 3}" / f"f{i:02d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * i)
    for j in range(4):
        with h5py.File(root / f"d{j % 3}" / f"run{j}.h5", "w") as f:
            f.attrs["sample"] = f"LK-{j}"
            f.create_dataset("entry/data", data=np.zeros((j + 1, 8, 8), "f4"))
    for k in range(2):
        g = zarr.open_group(str(root / f"s{k}.zarr"), mode="w")
        g.attrs["sample"] = f"ZK-{k}"
        g.create_array("img", shape=(4, 4), dtype="u2")
    return str(root)


@pytest.fixture
def dock(qtbot):
    d = FindDock()
    qtbot.addWidget(d)
    d.show()
    yield d
    d.stop(quiet=True)


def run_search(qtbot, dock, **fields):
    for name, value in fields.items():
        getattr(dock, f"{name}_edit").setText(value)
    with qtbot.waitSignal(dock.search_finished, timeout=20000):
        qtbot.mouseClick(dock.search_button, Qt.MouseButton.LeftButton)
    assert not dock.busy
    return sorted(dock.uris())


def test_search_fills_table(qtbot, dock, tree):
    dock.start_search(tree)
    assert dock.root_edit.text() == tree and dock.isVisible()
    uris = run_search(qtbot, dock, name="*.h5")
    assert uris == sorted(os.path.join(tree, f"d{j % 3}", f"run{j}.h5") for j in range(4))
    assert dock.count_label.text().startswith("4 results in")
    assert dock.model.rowCount() == 4 and dock.search_button.isEnabled() and not dock.stop_button.isEnabled()


def test_attribute_shape_and_kind_fields(qtbot, dock, tree):
    dock.start_search(tree)
    assert run_search(qtbot, dock, attrs="sample=ZK-*") == [os.path.join(tree, f"s{k}.zarr") + "::/" for k in range(2)]
    index = dock.model.index(0, 4)
    assert index.data().startswith("sample=ZK-")
    dock.attrs_edit.clear()
    uris = run_search(qtbot, dock, shape="..., 8, 8", dtype="float32")
    assert len(uris) == 4 and all(u.endswith("::/entry/data") for u in uris)
    row = next(r for r in range(4) if dock.model.match_at(r).shape == (3, 8, 8))
    assert dock.model.index(row, 3).data() == "(3, 8, 8) float32"
    dock.shape_edit.clear()
    dock.dtype_edit.clear()
    dock.kind_combo.setCurrentText("dir")
    assert run_search(qtbot, dock) == sorted([os.path.join(tree, f"d{i}") for i in range(3)] + [os.path.join(tree, f"s{k}.zarr") for k in range(2)])


def test_bad_criteria_and_missing_root(qtbot, dock, tree):
    dock.start_search(tree)
    dock.shape_edit.setText("2, x")
    qtbot.mouseClick(dock.search_button, Qt.MouseButton.LeftButton)
    assert not dock.busy and "invalid shape" in dock.count_label.text()
    dock.shape_edit.clear()
    dock.root_edit.setText(os.path.join(tree, "missing"))
    with qtbot.waitSignal(dock.search_finished, timeout=20000):
        dock.search()
    assert "no such" in dock.last_error and dock.model.rowCount() == 0


def test_stop_cancels_the_walk(qtbot, dock):
    from storecore.backends.memory import InMemoryBackend

    backend = InMemoryBackend.named("finddock-big")
    now = time.time()
    for i in range(100_000):
        backend.data[f"p{i // 500:04d}/k{i:06d}"] = (b"", now)
    # The walk waits after its first page until Stop was clicked: a loaded machine cannot finish it first.
    stopped = threading.Event()

    def gated(real):
        def pages(*args, **kwargs):
            for i, page in enumerate(real(*args, **kwargs)):
                yield page
                if i == 0:
                    stopped.wait(20)

        return pages

    backend.ls_pages = gated(backend.ls_pages)  # type: ignore[method-assign]
    backend.ls_pages_ramped = gated(backend.ls_pages_ramped)  # type: ignore[method-assign]
    try:
        dock.start_search("memory://finddock-big")
        dock.search()
        task = dock.task
        qtbot.waitUntil(lambda: dock.model.rowCount() > 0, timeout=20000)
        with qtbot.waitSignal(dock.search_finished, timeout=1000):
            qtbot.mouseClick(dock.stop_button, Qt.MouseButton.LeftButton)
        stopped.set()
        assert not dock.busy and "stopped" in dock.count_label.text()
        qtbot.waitUntil(task.finished.is_set, timeout=20000)
        assert dock.stats.cancelled and dock.stats.entries < 100_000
        shown = dock.model.rowCount()
        qtbot.wait(50)  # let any late signal arrive: none may add rows
        assert dock.model.rowCount() == shown < 100_000 + 200
    finally:
        stopped.set()
        InMemoryBackend.drop("finddock-big")


def test_double_click_reveals(qtbot, dock, tree):
    dock.start_search(tree)
    run_search(qtbot, dock, name="f07.txt")
    rect = dock.table.visualRect(dock.model.index(0, 0))
    qtbot.mouseClick(dock.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(dock.reveal_requested, timeout=5000) as blocker:
        qtbot.mouseDClick(dock.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [os.path.join(tree, "d1", "f07.txt")]


def test_drag_mime_and_csv_export(qtbot, dock, tree, tmp_path):
    dock.start_search(tree)
    uris = run_search(qtbot, dock, name="f0[0-2].txt")
    mime = dock.model.mimeData([dock.model.index(r, c) for r in range(3) for c in range(2)])
    assert mime.hasFormat(URI_MIME)
    assert sorted(bytes(mime.data(URI_MIME)).decode().split("\n")) == uris
    assert dock.model.flags(dock.model.index(0, 0)) & Qt.ItemFlag.ItemIsDragEnabled
    out = tmp_path / "results.csv"
    assert dock.export_csv(str(out)) == 3
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["uri"] for r in rows) == uris and {r["kind"] for r in rows} == {"file"}


def test_compare_dialog_filters_and_copies(qtbot, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for i in range(6):
        (a / f"d{i % 2}").mkdir(parents=True, exist_ok=True)
        (a / f"d{i % 2}" / f"f{i}.dat").write_bytes(b"x" * (i + 1))
    import shutil

    shutil.copytree(a, b)
    (b / "d0" / "f0.dat").unlink()  # missing in B
    (b / "d1" / "f1.dat").write_bytes(b"changed")  # differs
    (b / "extra.dat").write_bytes(b"e")  # only in B
    calls = []
    dialog = CompareDialog(str(a), str(b), copy_callback=lambda srcs, folder: calls.append((srcs, folder)), autostart=False)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.compare_finished, timeout=20000):
        dialog.start()
    assert dialog.counts == {"only_a": 1, "only_b": 1, "differ": 1, "same": 4}
    assert dialog.proxy.rowCount() == 7
    dialog.set_filter("only_b")
    assert [e.path for e in dialog.visible_entries()] == ["extra.dat"]
    dialog.filter_combo.setCurrentIndex(3)  # "Different"
    assert [e.path for e in dialog.visible_entries()] == ["d1/f1.dat"]
    assert dialog.copy_button.isEnabled()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert sorted(calls) == [([str(a / "d0" / "f0.dat")], str(b / "d0")), ([str(a / "d1" / "f1.dat")], str(b / "d1"))]
    dialog.include_differ_check.setChecked(False)
    assert dialog.copy_missing() == {str(b / "d0"): [str(a / "d0" / "f0.dat")]}


def test_compare_dialog_error(qtbot, tmp_path):
    dialog = CompareDialog(str(tmp_path / "nothing"), str(tmp_path), autostart=False)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.compare_finished, timeout=20000):
        dialog.start()
    assert "no such" in dialog.last_error and not dialog.copy_button.isEnabled()


def test_results_arrive_in_batches(qtbot, dock):
    """20,000 matches reach the table in many inserts (the window keeps painting), all of them."""
    from storecore.backends.memory import InMemoryBackend

    backend = InMemoryBackend.named("finddock-many")
    now = time.time()
    for i in range(20_000):
        backend.data[f"p{i // 1000:02d}/k{i:05d}"] = (b"", now)
    inserts = []
    dock.model.rowsInserted.connect(lambda *_: inserts.append(dock.model.rowCount()))
    try:
        dock.start_search("memory://finddock-many")
        dock.kind_combo.setCurrentText("file")
        with qtbot.waitSignal(dock.search_finished, timeout=30000):
            dock.search()
        assert dock.model.rowCount() == 20_000 and dock.count_label.text().startswith("20000 results")
        assert len(inserts) >= 20_000 // 200 and inserts == sorted(inserts)
    finally:
        InMemoryBackend.drop("finddock-many")
