"""TransferQueue(cluster=...): the queue's verified copy run by the workers of a real dask LocalCluster.

Records, progress and moves come back as for a local job; a worker killed
mid-job loses nothing and duplicates nothing (the batch runs again elsewhere
and finds what was already copied).
"""

from __future__ import annotations

import contextlib
import os
import threading

import pytest

import storecore
from storecore import cli
from storecore.transfer import TransferQueue

distributed = pytest.importorskip("distributed", reason="the storescope[cluster] extra is installed by ./test")

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as c:  # fmt: skip
        yield c


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


def make_tree(root, n: int = 24, size: int = 40_000) -> dict[str, bytes]:
    files = {}
    for i in range(n):
        rel = f"sub{i % 3}/file{i:03d}.bin"
        data = os.urandom(size + i)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = data
    return files


def read_all(uri: str, rels) -> dict[str, bytes]:
    backend, loc = storecore.backend_for(uri)
    return {rel: backend.read_bytes(f"{loc.path.rstrip('/')}/{rel}") for rel in rels}


def test_copy_to_s3_on_the_cluster_is_verified_file_by_file(client, tmp_path, s3_root):
    files = make_tree(tmp_path / "src")
    queue = TransferQueue(cluster=client, history=None)
    queue.cluster_batch_files = 5
    job = queue.submit(str(tmp_path / "src"), f"{s3_root}/copy")
    assert job.wait() == "done", job.error
    records = job.report()
    assert len(records) == len(files) and all(r.verified for r in records)
    assert {r.checksum_kind for r in records} <= {"crc32", "crc32-composite", "md5"}
    assert job.progress.files_done == len(files) and job.progress.bytes_done == sum(map(len, files.values()))
    assert read_all(f"{s3_root}/copy", files) == files
    queue.close()


def test_move_deletes_sources_only_after_verification(client, tmp_path):
    files = make_tree(tmp_path / "src", n=9)
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "sub0").mkdir()
    # a destination that differs and the "skip" policy: that file is not copied, so its source must stay
    (tmp_path / "dst" / "sub0" / "file000.bin").write_bytes(b"other")
    with TransferQueue(cluster=client, history=None) as queue:
        job = queue.submit(str(tmp_path / "src"), str(tmp_path / "dst"), op="move", conflict="skip")
        job.wait()
    statuses = {os.path.relpath(r.source, tmp_path / "src"): r.status for r in job.report()}
    assert statuses.pop("sub0/file000.bin") == "skipped"
    assert set(statuses.values()) == {"verified"}
    assert (tmp_path / "src" / "sub0" / "file000.bin").exists()
    for rel in statuses:
        assert not (tmp_path / "src" / rel).exists()
        assert (tmp_path / "dst" / rel).read_bytes() == files[rel]
    assert not (tmp_path / "src" / "sub1").exists()  # emptied folders go with the move


def test_a_worker_killed_mid_job_loses_and_duplicates_nothing(client, tmp_path, s3_root):
    files = make_tree(tmp_path / "src", n=40, size=60_000)
    first_batch = threading.Event()
    queue = TransferQueue(cluster=client, history=None, on_progress=lambda j: j.progress.files_done and first_batch.set())
    queue.cluster_batch_files = 4
    job = queue.submit(str(tmp_path / "src"), f"{s3_root}/killed", conflict="rename")
    assert first_batch.wait(120)
    victim = sorted(client.scheduler_info()["workers"])[0]
    with contextlib.suppress(Exception):  # the worker dies mid-call: its reply never comes
        client.run(os._exit, 1, workers=[victim])
    assert job.wait(180) == "done", job.error
    records = job.report()
    assert len(records) == len(files) and all(r.status in ("verified", "skipped") for r in records)
    backend, loc = storecore.backend_for(f"{s3_root}/killed")
    stored = sorted(e.path.split("killed/", 1)[1] for e in backend.ls(loc.path, recursive=True) if not e.is_dir)
    assert stored == sorted(files)  # no "name (1)" copies from a batch that ran twice
    assert read_all(f"{s3_root}/killed", files) == files
    queue.close()


def test_cli_cp_cluster(cluster, tmp_path, capsys):
    files = make_tree(tmp_path / "src", n=6)
    address = cluster.scheduler_address
    assert cli.main(["cp", "-r", "--cluster", address, str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    assert "copied 6 file(s)" in capsys.readouterr().err
    assert read_all(str(tmp_path / "out"), files) == files


def test_a_bad_cluster_argument_is_one_line(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with TransferQueue(cluster=42, history=None) as queue:
        job = queue.submit(str(tmp_path / "a.txt"), str(tmp_path / "b.txt"))
        assert job.wait() == "failed"
    assert "cluster must be a scheduler address or a distributed.Client" in job.error and "\n" not in job.error


def test_the_transfer_dock_runs_on_the_cluster(qtbot, cluster, tmp_path, monkeypatch):
    from app.queue_dock import TransferQueueDock

    monkeypatch.setenv("STORESCOPE_TRANSFER_HISTORY", str(tmp_path / "history.json"))
    files = make_tree(tmp_path / "src", n=5)
    dock = TransferQueueDock(concurrency=2, conflict="overwrite")
    qtbot.addWidget(dock)
    try:
        assert dock.set_cluster(cluster.scheduler_address)
        assert dock.cluster_button.isChecked() and cluster.scheduler_address in dock.cluster_button.text()
        with qtbot.waitSignal(dock.job_finished, timeout=120_000):
            (job,) = dock.submit([str(tmp_path / "src")], str(tmp_path / "out"))
        qtbot.waitUntil(lambda: dock.model.job_row(0).state == "done", timeout=120_000)
        assert job.queue.cluster == cluster.scheduler_address
        assert read_all(str(tmp_path / "out" / "src"), files) == files
        assert dock.set_cluster(None) and not dock.cluster_button.isChecked()
    finally:
        dock.shutdown()
