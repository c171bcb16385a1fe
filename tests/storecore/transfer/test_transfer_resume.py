"""Jobs interrupted by closing their queue continue in a new queue (a later session) from the history."""

from __future__ import annotations

import os
import threading

import pytest
from transfer_helpers import pending_uploads, when_bytes, write

import storecore
from storecore.transfer import JobState, TransferQueue, multipart
from storecore.transfer.history import TransferHistory

MiB = 1024 * 1024
PART = 5 * MiB


def test_an_upload_interrupted_by_closing_continues_in_a_new_queue(s3_server, s3_bucket, s3_scheme, tmp_path,
                                                                     monkeypatch):
    files = {f"t/small/{i}.bin": os.urandom(50_000) for i in range(6)}
    files["t/big.bin"] = os.urandom(6 * PART)
    for name, data in files.items():
        write(str(tmp_path / name), data)
    sent: list[tuple[str, int]] = []
    real_send, real_put = multipart._send_part, multipart._put_object

    def counting_send(client, **kw):
        resp = real_send(client, **kw)
        sent.append((kw["Key"], kw["PartNumber"]))
        return resp

    def counting_put(client, **kw):
        resp = real_put(client, **kw)
        sent.append((kw["Key"], 0))
        return resp

    monkeypatch.setattr(multipart, "_send_part", counting_send)
    monkeypatch.setattr(multipart, "_put_object", counting_put)
    history = str(tmp_path / "history.json")
    on_progress, reached = when_bytes(2 * PART + 300_000)
    first = TransferQueue(concurrency=2, part_concurrency=1, part_size=PART, history=history, progress_interval=0)
    job = first.submit(str(tmp_path / "t"), f"{s3_scheme}://{s3_bucket}/t", on_progress=on_progress)
    assert reached.wait(60)
    first.close(suspend=True)
    assert job.state is JobState.FAILED and "interrupted" in job.error
    assert pending_uploads(s3_server, s3_bucket)  # kept on the server for the next session
    entry = TransferHistory(history).entries()[-1]
    assert entry["id"] == job.id and entry["resume"]["uploads"]
    before = list(sent)

    second = TransferQueue(part_size=PART, history=history)
    try:
        resumed = second.resubmit(entry)
        assert resumed.id == job.id
        assert resumed.wait(60) is JobState.DONE, resumed.error
    finally:
        second.close()
    again = sent[len(before):]
    done_before = {k for k in before}
    assert not done_before & set(again)  # no part and no small file was sent twice
    assert len([p for p in again if p[0] == "t/big.bin"]) < 6
    client = s3_server.client()
    for name, data in files.items():
        assert client.get_object(Bucket=s3_bucket, Key=name)["Body"].read() == data
    assert pending_uploads(s3_server, s3_bucket) == []
    assert resumed.progress.files_done == len(files) and all(r.verified for r in resumed.report())
    assert TransferHistory(history).entries()[-1]["state"] == "done"


@pytest.mark.parametrize("direct_min, size", [(0, 6 * PART), (PART, 6 * PART + 12345)], ids=["buffered", "direct"])
def test_a_download_interrupted_by_closing_continues_from_its_temporary_file(s3_root, tmp_path, direct_min, size):
    """Also with direct writes (``O_DIRECT`` where the file system takes them) and a tail off their alignment."""
    data = os.urandom(size)
    write(str(tmp_path / "src.bin"), data)
    with TransferQueue(part_size=PART, history=False) as q:
        assert q.submit(str(tmp_path / "src.bin"), f"{s3_root}/d.bin").wait(60) is JobState.DONE
    history = str(tmp_path / "history.json")
    on_progress, reached = when_bytes(2 * PART)
    first = TransferQueue(part_concurrency=1, part_size=PART, history=history, progress_interval=0)
    first.direct_min = direct_min
    job = first.submit(f"{s3_root}/d.bin", str(tmp_path / "dl" / "d.bin"), on_progress=on_progress)
    assert reached.wait(60)
    first.close(suspend=True)
    assert job.state is JobState.FAILED
    temps = [n for n in os.listdir(tmp_path / "dl") if n.endswith(".storecore-tmp")]
    assert len(temps) == 1 and not os.path.exists(tmp_path / "dl" / "d.bin")
    entry = TransferHistory(history).entries()[-1]
    parts_kept = len(next(iter(entry["resume"]["downloads"].values()))["done"])
    assert parts_kept >= 1

    second = TransferQueue(part_size=PART, history=history)
    second.direct_min = direct_min
    try:
        resumed = second.resubmit(entry)
        assert resumed.wait(60) is JobState.DONE, resumed.error
    finally:
        second.close()
    assert (tmp_path / "dl" / "d.bin").read_bytes() == data
    assert os.listdir(tmp_path / "dl") == ["d.bin"]
    assert resumed.report()[0].verified


def test_a_job_still_queued_when_the_queue_closes_can_be_resumed(s3_root, tmp_path):
    write(str(tmp_path / "big.bin"), os.urandom(3 * PART))
    write(str(tmp_path / "a.bin"), b"a" * 1000)
    history = str(tmp_path / "history.json")
    paused = threading.Event()

    def pause_once(job):
        if job.progress.bytes_done and not paused.is_set():
            paused.set()
            job.pause()

    q = TransferQueue(max_jobs=1, part_size=PART, history=history, progress_interval=0)
    busy = q.submit(str(tmp_path / "big.bin"), f"{s3_root}/big.bin", on_progress=pause_once)
    assert paused.wait(60)
    waiting = q.submit(str(tmp_path / "a.bin"), f"{s3_root}/a.bin")
    assert waiting.state is JobState.QUEUED  # the only job slot is taken by the paused job
    q.close(suspend=True)
    assert busy.state is JobState.FAILED and waiting.state is JobState.FAILED and "interrupted" in waiting.error
    entries = {e["id"]: e for e in TransferHistory(history).entries()}
    with TransferQueue(part_size=PART, history=history) as q2:
        jobs = [q2.resubmit(entries[busy.id]), q2.resubmit(entries[waiting.id])]
        assert [j.wait(60) for j in jobs] == [JobState.DONE, JobState.DONE], [j.error for j in jobs]
    b, loc = storecore.backend_for(f"{s3_root}/a.bin")
    assert b.read_bytes(loc.path) == b"a" * 1000
    assert b.read_bytes(loc.path.replace("a.bin", "big.bin")) == (tmp_path / "big.bin").read_bytes()


def test_only_the_newest_failed_jobs_keep_their_resume_state(tmp_path):
    from storecore.transfer.history import MAX_RESUMABLE

    h = TransferHistory(str(tmp_path / "h.json"))
    for i in range(MAX_RESUMABLE + 3):
        h.record({"id": str(i), "state": "failed", "resume": {"completed": [], "uploads": {"u": {}}}})
    kept = [e["id"] for e in TransferHistory(str(tmp_path / "h.json")).entries() if e.get("resume")]
    assert kept == [str(i) for i in range(3, MAX_RESUMABLE + 3)]
    # the states live in files of their own (the history, rewritten at every job end, stays small)
    assert sorted(os.listdir(tmp_path / "transfer-resume")) == sorted(f"{i}.json" for i in kept)
    assert "uploads" not in (tmp_path / "h.json").read_text()
    h.record({"id": kept[0], "state": "done"})  # retried and done: its state is no longer needed
    assert f"{kept[0]}.json" not in os.listdir(tmp_path / "transfer-resume")
    h.clear()
    assert os.listdir(tmp_path / "transfer-resume") == []
