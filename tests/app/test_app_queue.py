"""The transfer queue dock: rows, live progress, cancel/retry buttons, the conflict dialog, drag and drop."""

from __future__ import annotations

import os
import threading

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

import storecore
from app.formatting import human_size
from app.models.queue_model import FILES, STATE, QueueModel, human_eta
from app.queue_dock import TransferQueueDock
from storecore.backends.memory import InMemoryBackend
from storecore.backends.registry import register_backend

MiB = 1024 * 1024
GATE = threading.Event()


class GatedStore(InMemoryBackend):
    """A memory store whose reads after the first wait for ``GATE`` (so a job stays mid-way)."""

    def __init__(self, name: str = "", **kw) -> None:
        super().__init__(name, **kw)
        self.reads = 0

    def _read_range(self, path, start, end):
        self.reads += 1
        if start > 0:
            assert GATE.wait(30), "the test never opened the gate"
        return super()._read_range(path, start, end)


_stores: dict[str, GatedStore] = {}
register_backend("gated", lambda bucket, scheme="gated", **o: _stores.setdefault(bucket, GatedStore(bucket)))


@pytest.fixture
def dock(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STORESCOPE_TRANSFER_HISTORY", str(tmp_path / "history.json"))
    d = TransferQueueDock(concurrency=2)
    qtbot.addWidget(d)
    d.show()
    yield d
    GATE.set()
    d.shutdown()


def row_state(dock, row=0) -> str:
    return dock.model.job_row(row).state


def select(dock, row=0) -> None:
    dock.view.clearSelection()
    dock.view.selectRow(row)


def test_submit_creates_rows_that_update_and_finish(qtbot, dock, local_root, memory_root):
    for name in ("a.bin", "b.bin"):
        with open(os.path.join(local_root, name), "wb") as f:
            f.write(os.urandom(100_000))
    with qtbot.waitSignal(dock.job_finished, timeout=30_000) as sig:
        jobs = dock.submit([f"{local_root}/a.bin", f"{local_root}/b.bin"], f"{memory_root}/into")
    assert dock.model.rowCount() == 2
    assert [j.destination for j in jobs] == [f"{memory_root}/into/a.bin", f"{memory_root}/into/b.bin"]
    assert sig.args == [f"{memory_root}/into"]
    qtbot.waitUntil(lambda: [row_state(dock, r) for r in range(2)] == ["done", "done"], timeout=30_000)
    assert dock.model.index(0, FILES).data() == "1 / 0 / 0"
    assert "2 verified" in dock.summary_label.text()
    b, loc = storecore.backend_for(f"{memory_root}/into/b.bin")
    assert b.stat(loc.path).size == 100_000
    dock.clear_finished()
    assert dock.model.rowCount() == 0


def test_progress_rows_update_and_cancel_then_retry_buttons(qtbot, dock, local_root):
    GATE.clear()
    store = _stores.setdefault("s1", GatedStore("s1"))
    data = os.urandom(20 * MiB)  # three 8 MiB stream chunks: the second waits for the gate
    store.write_bytes("big.bin", data)
    dock.submit(["gated://s1/big.bin"], local_root)
    qtbot.waitUntil(lambda: dock.model.job_row(0).bytes_done >= 8 * MiB, timeout=30_000)
    row = dock.model.job_row(0)
    assert row.state == "running" and 0 < row.fraction < 1
    assert "%" in dock.model.index(0, 2).data()
    select(dock)
    assert dock.buttons["cancel"].isEnabled() and not dock.buttons["retry"].isEnabled()
    dock.buttons["cancel"].click()
    GATE.set()
    qtbot.waitUntil(lambda: row_state(dock) == "cancelled", timeout=30_000)
    assert not os.path.exists(os.path.join(local_root, "big.bin"))
    assert [n for n in os.listdir(local_root)] == []  # no temporary file either
    select(dock)
    assert dock.buttons["retry"].isEnabled()
    with qtbot.waitSignal(dock.job_finished, timeout=30_000):
        dock.buttons["retry"].click()
    qtbot.waitUntil(lambda: row_state(dock) == "done", timeout=30_000)
    with open(os.path.join(local_root, "big.bin"), "rb") as f:
        assert f.read() == data


def test_pause_and_resume_buttons(qtbot, dock, local_root):
    GATE.clear()
    store = _stores.setdefault("s2", GatedStore("s2"))
    store.write_bytes("p.bin", os.urandom(20 * MiB))
    dock.submit(["gated://s2/p.bin"], local_root)
    qtbot.waitUntil(lambda: dock.model.job_row(0).bytes_done > 0, timeout=30_000)
    dock.view.clearSelection()  # nothing selected: the buttons act on every job
    dock.buttons["pause"].click()
    qtbot.waitUntil(lambda: row_state(dock) == "paused", timeout=10_000)
    GATE.set()
    select(dock)
    assert dock.buttons["resume"].isEnabled()
    dock.buttons["resume"].click()
    qtbot.waitUntil(lambda: row_state(dock) == "done", timeout=30_000)
    assert os.path.getsize(os.path.join(local_root, "p.bin")) == 20 * MiB


def test_failed_job_shows_its_error_and_report_exports(qtbot, dock, local_root, memory_root, tmp_path):
    with qtbot.waitSignal(dock.job_finished, timeout=30_000):
        dock.submit([f"{local_root}/missing.bin"], memory_root)
    qtbot.waitUntil(lambda: row_state(dock) == "failed", timeout=30_000)
    assert "missing.bin" in dock.model.index(0, STATE).data()
    assert "0 active" in dock.summary_label.text()
    select(dock)
    assert dock.buttons["retry"].isEnabled() and not dock.buttons["cancel"].isEnabled()
    path = dock.export_report(0, str(tmp_path / "r.json"))
    assert os.path.exists(path)


def test_conflict_dialog_apply_to_all(qtbot, dock, local_root, memory_root):
    for name in ("x.txt", "y.txt"):
        with open(os.path.join(local_root, name), "w") as f:
            f.write("new")
        b, loc = storecore.backend_for(f"{memory_root}/dst/{name}")
        b.write_bytes(loc.path, b"old")
    asked = []
    dock.conflict_asked.connect(asked.append)
    dock.concurrency = 1
    with qtbot.waitSignal(dock.conflict_asked, timeout=30_000) as sig:
        dock.submit([f"{local_root}/x.txt", f"{local_root}/y.txt"], f"{memory_root}/dst")
    dialog = sig.args[0]
    texts = [label.text() for label in dialog.findChildren(type(dock.summary_label))]
    # the two jobs may reach their conflicts in either order
    assert dialog.isVisible() and any("already exists" in t and (".txt" in t) for t in texts)
    # the first job's conflict: overwrite, for this job
    dialog.buttons["overwrite"].click()
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=30_000)  # the second job asks separately
    second = asked[1]
    second.apply_box.setChecked(True)
    second.buttons["skip"].click()
    qtbot.waitUntil(lambda: [row_state(dock, r) for r in range(2)] == ["done", "done"], timeout=30_000)
    b, _ = storecore.backend_for(memory_root)
    got = {n: b.read_bytes(f"dst/{n}") for n in ("x.txt", "y.txt")}
    assert sorted(got.values()) == [b"new", b"old"]
    assert dock.model.totals()["skipped"] == 1 and dock.model.totals()["verified"] == 1
    # "apply to all" covers every job of one drop: asked once for both files
    dock.clear_finished()
    with qtbot.waitSignal(dock.conflict_asked, timeout=30_000) as sig:
        dock.submit([f"{local_root}/x.txt", f"{local_root}/y.txt"], f"{memory_root}/dst")
    sig.args[0].apply_box.setChecked(True)
    sig.args[0].buttons["rename"].click()
    qtbot.waitUntil(lambda: [row_state(dock, r) for r in range(2)] == ["done", "done"], timeout=30_000)
    assert len(asked) in (3, 4)  # a dialog already open for the other job is closed by "apply to all"
    assert sorted(e.name for e in b.ls("dst")) == [
        "x (1).txt", "x.txt", "y (1).txt", "y.txt"]


def test_conflict_dialog_closing_cancels(qtbot, dock, local_root, memory_root):
    with open(os.path.join(local_root, "z.txt"), "w") as f:
        f.write("new")
    b, loc = storecore.backend_for(f"{memory_root}/z.txt")
    b.write_bytes(loc.path, b"old")
    with qtbot.waitSignal(dock.conflict_asked, timeout=30_000) as sig:
        dock.submit([f"{local_root}/z.txt"], memory_root)
    sig.args[0].reject()
    qtbot.waitUntil(lambda: row_state(dock) == "cancelled", timeout=30_000)
    assert b.read_bytes(loc.path) == b"old"


def test_history_rows_come_back_in_a_new_dock(qtbot, tmp_path, monkeypatch, local_root, memory_root):
    monkeypatch.setenv("STORESCOPE_TRANSFER_HISTORY", str(tmp_path / "h.json"))
    with open(os.path.join(local_root, "h.txt"), "w") as f:
        f.write("h")
    first = TransferQueueDock()
    qtbot.addWidget(first)
    with qtbot.waitSignal(first.job_finished, timeout=30_000):
        first.submit([f"{local_root}/h.txt"], memory_root)
    first.shutdown()
    second = TransferQueueDock()
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: second.model.rowCount() == 1, timeout=10_000)
    row = second.model.job_row(0)
    assert (row.name, row.state, row.verified, row.job) == ("h.txt", "done", 1, None)
    second.shutdown()


def test_a_job_interrupted_by_quitting_is_retried_from_the_next_sessions_history(qtbot, tmp_path, monkeypatch,
                                                                                   local_root):
    monkeypatch.setenv("STORESCOPE_TRANSFER_HISTORY", str(tmp_path / "h.json"))
    GATE.clear()
    store = _stores.setdefault("s3q", GatedStore("s3q"))
    data = os.urandom(12 * MiB)
    store.write_bytes("q.bin", data)
    first = TransferQueueDock()
    qtbot.addWidget(first)
    first.submit(["gated://s3q/q.bin"], local_root)
    qtbot.waitUntil(lambda: first.model.job_row(0).bytes_done > 0, timeout=30_000)
    first.view.clearSelection()
    first.buttons["pause"].click()
    qtbot.waitUntil(lambda: row_state(first) == "paused", timeout=10_000)
    GATE.set()
    first.shutdown()  # quitting: the job stops as interrupted instead of being cancelled
    second = TransferQueueDock()
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: second.model.rowCount() == 1, timeout=10_000)
    row = second.model.job_row(0)
    assert row.job is None and row.state == "failed" and "interrupted" in row.error
    select(second)
    assert second.buttons["retry"].isEnabled()
    with qtbot.waitSignal(second.job_finished, timeout=30_000):
        second.buttons["retry"].click()
    qtbot.waitUntil(lambda: row_state(second) == "done", timeout=30_000)
    assert second.model.rowCount() == 1 and second.model.job_row(0).job is not None
    with open(os.path.join(local_root, "q.bin"), "rb") as f:
        assert f.read() == data
    second.shutdown()


def test_reveal_button_emits_the_destination(qtbot, dock, local_root, memory_root):
    with open(os.path.join(local_root, "r.txt"), "w") as f:
        f.write("r")
    with qtbot.waitSignal(dock.job_finished, timeout=30_000):
        dock.submit([f"{local_root}/r.txt"], memory_root)
    select(dock)
    with qtbot.waitSignal(dock.reveal_requested) as sig:
        dock.buttons["reveal"].click()
    assert sig.args == [f"{memory_root}/r.txt"]


def test_history_follows_an_isolated_settings_file(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMainWindow

    monkeypatch.delenv("STORESCOPE_TRANSFER_HISTORY", raising=False)
    window = QMainWindow()
    window.settings = QSettings(str(tmp_path / "profile" / "settings.ini"), QSettings.Format.IniFormat)
    qtbot.addWidget(window)
    d = TransferQueueDock(window)
    try:
        assert d.queue.history.path == str(tmp_path / "profile" / "transfer-history.json")
    finally:
        d.shutdown()


def test_model_formatting():
    assert human_size(999) == "999 B" and human_size(1_500_000) == "1.4 MiB"  # binary units, as every size in the app
    assert human_eta(None) == "" and human_eta(65) == "1:05" and human_eta(3725) == "1:02:05"
    m = QueueModel()
    assert m.rowCount() == 0 and m.columnCount() == 7 and m.headerData(0, Qt.Orientation.Horizontal) == "Name"
    assert m.add_history({"id": "a", "source": "/x/y.bin", "destination": "/z/y.bin", "state": "done"}) is not None
    assert m.add_history({"id": "a"}) is None and m.rowCount() == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the QPoint drag-event constructors PySide6 still offers
def test_drop_on_the_mounts_tree_queues_a_job(qtbot, dock, local_root, memory_root):
    """A real drop event on the window's tree view (as a drag from another row would deliver it)."""
    from app.models.mounts_model import DONE, URI_MIME, MountsModel
    from app.mounts import MountSpec
    from app.window import MountsTree

    os.makedirs(os.path.join(local_root, "target"))
    b, loc = storecore.backend_for(f"{memory_root}/dragged.txt")
    b.write_bytes(loc.path, b"dragged")
    model = MountsModel()
    tree = MountsTree()
    tree.setModel(model)
    qtbot.addWidget(tree)
    tree.resize(600, 400)
    tree.show()
    model.transfer_requested.connect(dock.submit)  # what MainWindow wires
    mount = model.add_mount(MountSpec("d", local_root, "local"))
    node = model.node(mount)
    if model.canFetchMore(mount):
        model.fetchMore(mount)
    qtbot.waitUntil(lambda: node.state == DONE, timeout=30_000)
    tree.expand(mount)
    target = next(model.index_of(c) for c in node.children if c.name == "target")
    qtbot.waitUntil(lambda: tree.visualRect(target).isValid(), timeout=10_000)
    pos = QPointF(tree.visualRect(target).center())
    mime = QMimeData()
    mime.setData(URI_MIME, f"{memory_root}/dragged.txt".encode())
    viewport = tree.viewport()
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    for event in (
        QDragEnterEvent(pos.toPoint(), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier),
        QDragMoveEvent(pos.toPoint(), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier),
    ):
        QApplication.sendEvent(viewport, event)
    drop = QDropEvent(pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(dock.job_finished, timeout=30_000) as sig:
        QApplication.sendEvent(viewport, drop)
    assert sig.args == [os.path.join(local_root, "target")]
    assert dock.model.rowCount() == 1 and dock.model.job_row(0).op == "copy"
    qtbot.waitUntil(lambda: row_state(dock) == "done", timeout=30_000)
    with open(os.path.join(local_root, "target", "dragged.txt"), "rb") as f:
        assert f.read() == b"dragged"
