"""A tree job's file runners: a few pool tasks take the listed files in turn (no executor round trip per file).

The runners themselves on a real thread pool, then whole jobs of many small files on the real S3 server: a
failing file among them, a cancel mid-way, a source that is not what was listed.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import storecore
from storecore.transfer import JobState, TransferQueue
from storecore.transfer.multipart import TMP_SUFFIX
from storecore.transfer.runners import FileRunners


class Tracker:
    """Counts the items a runner works on and the most that ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.seen: list[int] = []

    def work(self, item: int) -> bool:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.001)
        with self.lock:
            self.running -= 1
            self.seen.append(item)
        return True


def test_runners_do_every_item_once_on_at_most_limit_tasks():
    tracker = Tracker()
    with ThreadPoolExecutor(8) as pool:
        runners: FileRunners[int] = FileRunners(pool, tracker.work, limit=3, ahead=6)
        for i in range(200):
            runners.add(i)
            assert runners.pending <= 6  # the producer never runs further ahead
        runners.drain()
    assert sorted(tracker.seen) == list(range(200))
    assert tracker.most <= 3


def test_runners_take_turns_with_other_jobs_on_a_shared_pool():
    """One job's runners give their worker back between turns: a task queued by another job runs before the
    first job's files are all done."""
    order: list[str] = []
    with ThreadPoolExecutor(1) as pool:
        def slow(item: int) -> bool:
            time.sleep(0.002)
            order.append("a")
            return True

        runners: FileRunners[int] = FileRunners(pool, slow, limit=1, ahead=200, turn=0.01)
        for i in range(100):
            runners.add(i)
        pool.submit(order.append, "b")
        runners.drain()
    assert "b" in order and order.index("b") < len(order) - 1


def test_a_set_aside_item_counts_only_when_done():
    parked: list[int] = []

    def work(item: int) -> bool:
        if item == 3:
            parked.append(item)
            return False
        return True

    with ThreadPoolExecutor(2) as pool:
        runners: FileRunners[int] = FileRunners(pool, work, limit=2, ahead=4)
        for i in range(10):
            runners.add(i)
        ended = threading.Event()
        threading.Thread(target=lambda: (runners.drain(), ended.set()), daemon=True).start()
        assert not ended.wait(0.2)  # the set-aside item holds the drain
        assert parked == [3] and runners.pending == 1
        runners.done()
        assert ended.wait(10)


def test_runners_run_on_the_caller_once_the_pool_is_shut_down():
    tracker = Tracker()
    pool = ThreadPoolExecutor(2)
    pool.shutdown()
    runners: FileRunners[int] = FileRunners(pool, tracker.work, limit=2, ahead=4)
    for i in range(5):
        runners.add(i)
    runners.drain()
    assert sorted(tracker.seen) == list(range(5))


def test_a_failing_worker_function_does_not_hang_the_job():
    def work(item: int) -> bool:
        if item == 2:
            raise RuntimeError("a bug")
        return True

    with ThreadPoolExecutor(2) as pool:
        runners: FileRunners[int] = FileRunners(pool, work, limit=2, ahead=4)
        for i in range(6):
            runners.add(i)
        runners.drain()
    assert runners.pending == 0


# whole jobs ---------------------------------------------------------------------------------------
def _upload_many(s3_root: str, n: int, size: int = 20_000) -> dict[str, bytes]:
    files = {f"f{i:04d}.bin": os.urandom(size) for i in range(n)}
    b, loc = storecore.backend_for(f"{s3_root}/many")
    for name, data in files.items():
        b.write_bytes(f"{loc.path}/{name}", data)
    return files


@pytest.mark.s3
def test_many_small_files_with_one_failing_report_the_others_done(s3_root, tmp_path):
    files = _upload_many(s3_root, 150)
    dest = tmp_path / "many"
    (dest / "f0077.bin").mkdir(parents=True)  # a folder where one file should go: that file fails
    with TransferQueue(concurrency=4, history=False) as q:
        job = q.submit(f"{s3_root}/many", str(dest))
        assert job.wait(120) is JobState.FAILED
    records = {os.path.basename(r.source): r for r in job.report()}
    assert len(records) == 150
    failed = [name for name, r in records.items() if r.status == "failed"]
    assert failed == ["f0077.bin"] and records["f0077.bin"].error
    assert "1 of 150 files failed" in (job.error or "") and "f0077.bin" in job.error
    assert all(r.verified for name, r in records.items() if name != "f0077.bin")
    for name, data in files.items():
        if name != "f0077.bin":
            assert (dest / name).read_bytes() == data
    p = job.progress
    assert (p.files_done, p.files_total, p.verified, p.failed) == (150, 150, 149, 1)
    assert not [n for n in os.listdir(dest) if n.endswith(TMP_SUFFIX)]


@pytest.mark.s3
def test_cancel_in_the_middle_of_many_small_files_leaves_no_partial_file(s3_root, tmp_path):
    files = _upload_many(s3_root, 300, size=60_000)
    dest = tmp_path / "many"

    def cancel_midway(job):
        if job.progress.files_done >= 40:
            job.cancel()

    with TransferQueue(concurrency=4, history=False, progress_interval=0) as q:
        job = q.submit(f"{s3_root}/many", str(dest), on_progress=cancel_midway)
        assert job.wait(120) is JobState.CANCELLED
    there = sorted(os.listdir(dest)) if dest.exists() else []
    assert not [n for n in there if n.endswith(TMP_SUFFIX) or n.startswith(".")]
    assert 0 < len(there) < 300  # it stopped in the middle
    for name in there:  # whatever is there is whole and verified
        assert (dest / name).read_bytes() == files[name]
    verified = {os.path.basename(r.source) for r in job.report() if r.verified}
    assert set(there) == verified


@pytest.mark.s3
def test_a_local_source_larger_than_listed_is_not_uploaded_in_part(s3_root, tmp_path):
    """A file that grew after it was listed: reading the listed size would upload a prefix of the new version
    (which no size check notices); the copy is refused instead and nothing is created."""
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(300_000)
    (src / "a.bin").write_bytes(data)
    with TransferQueue(history=False) as q:
        job = q._submit_listed(str(src), f"{s3_root}/grown", [("a.bin", 100_000, None)], "overwrite")
        assert job.wait(60) is JobState.FAILED
    (record,) = job.report()
    assert record.status == "failed" and not record.verified
    assert "changed since it was listed" in record.error
    b, loc = storecore.backend_for(f"{s3_root}/grown/a.bin")
    assert not b.exists(loc.path)
