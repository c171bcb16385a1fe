"""The transfer queue engine: every backend pair, conflicts, progress, pause/cancel, moves, big loads."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import zlib

import pytest

import storecore
from storecore.transfer import JobState, TransferQueue

ROOTS = ["local", "memory", "s3"]


def root_of(request, kind):
    return request.getfixturevalue({"local": "local_root", "memory": "memory_root", "s3": "s3_root"}[kind])


def put(uri: str, data: bytes) -> None:
    b, loc = storecore.backend_for(uri)
    b.write_bytes(loc.path, data)


def get(uri: str) -> bytes:
    b, loc = storecore.backend_for(uri)
    return b.read_bytes(loc.path)


def listing(uri: str) -> list[str]:
    b, loc = storecore.backend_for(uri)
    key = b.key(loc.path)
    return sorted(b.key(e.path)[len(key):].lstrip("/") for e in b.ls(loc.path, recursive=True))


@pytest.fixture
def queue(tmp_path):
    q = TransferQueue(concurrency=4, history=str(tmp_path / "history.json"))
    yield q
    q.close()


@pytest.mark.parametrize("src_kind", ROOTS)
@pytest.mark.parametrize("dst_kind", ROOTS)
def test_file_and_tree_between_every_pair(request, queue, src_kind, dst_kind):
    src = root_of(request, src_kind)
    dst = root_of(request, dst_kind) if dst_kind != src_kind else src
    small, big = os.urandom(70_000), os.urandom(11 * 1024 * 1024)  # big: 11 MiB > one 5 MiB part
    put(f"{src}/tree/a.bin", small)
    put(f"{src}/tree/sub/b.txt", b"bee")
    put(f"{src}/big.bin", big)
    q = TransferQueue(concurrency=4, part_size=5 * 1024 * 1024, history=False)
    try:
        jobs = [q.submit(f"{src}/tree", f"{dst}/out/tree"), q.submit(f"{src}/big.bin", f"{dst}/out/big-copy.bin")]
        assert [j.wait(60) for j in jobs] == [JobState.DONE, JobState.DONE], [j.error for j in jobs]
    finally:
        q.close()
    assert listing(f"{dst}/out/tree") == ["a.bin", "sub/b.txt"]
    assert get(f"{dst}/out/tree/a.bin") == small and get(f"{dst}/out/tree/sub/b.txt") == b"bee"
    assert get(f"{dst}/out/big-copy.bin") == big
    report = jobs[1].report()
    assert len(report) == 1 and report[0].verified and report[0]["size"] == len(big)
    assert report[0].source_checksum and report[0].source_checksum == report[0].destination_checksum
    assert jobs[0].progress.verified == 2 and jobs[0].progress.bytes_done == len(small) + 3


def test_multipart_upload_checksum_is_the_composite_etag(s3_root, local_root):
    data = os.urandom(12 * 1024 * 1024)
    with open(os.path.join(local_root, "x.bin"), "wb") as f:
        f.write(data)
    with TransferQueue(part_size=5 * 1024 * 1024, history=False, checksum="md5") as q:
        job = q.submit(os.path.join(local_root, "x.bin"), f"{s3_root}/x.bin")
        assert job.wait(60) is JobState.DONE, job.error
    rec = job.report()[0]
    parts = [data[i : i + 5 * 1024 * 1024] for i in range(0, len(data), 5 * 1024 * 1024)]
    want = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    b, loc = storecore.backend_for(f"{s3_root}/x.bin")
    assert rec.checksum_kind == "etag-multipart"
    assert rec.source_checksum == rec.destination_checksum == want == b.stat(loc.path).etag


def test_multipart_upload_checksum_is_the_composite_crc32_the_server_keeps(s3_server, s3_root, local_root):
    """By default parts carry CRC32s: the object's composite CRC32 is what the server reports for it."""
    data = os.urandom(12 * 1024 * 1024)
    with open(os.path.join(local_root, "x.bin"), "wb") as f:
        f.write(data)
    with TransferQueue(part_size=5 * 1024 * 1024, history=False) as q:
        job = q.submit(os.path.join(local_root, "x.bin"), f"{s3_root}/x.bin")
        assert job.wait(60) is JobState.DONE, job.error
    rec = job.report()[0]
    parts = [data[i : i + 5 * 1024 * 1024] for i in range(0, len(data), 5 * 1024 * 1024)]
    crc = zlib.crc32(b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts))
    want = base64.b64encode(crc.to_bytes(4, "big")).decode() + "-3"
    head = s3_server.client().head_object(Bucket=s3_root.split("://")[1], Key="x.bin", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == want
    assert rec.checksum_kind == "crc32-composite" and rec.verified
    assert rec.source_checksum == rec.destination_checksum == "crc32:" + want


@pytest.mark.parametrize("dst_kind", ROOTS)
def test_move_deletes_the_source_only_after_verification(request, queue, local_root, dst_kind):
    dst = root_of(request, dst_kind) if dst_kind != "local" else os.path.join(local_root, "elsewhere")
    put(f"{local_root}/m/one.bin", b"1" * 1000)
    put(f"{local_root}/m/deep/two.bin", b"2" * 2000)
    job = queue.submit(f"{local_root}/m", f"{dst}/moved", op="move")
    assert job.wait(60) is JobState.DONE, job.error
    assert not os.path.exists(os.path.join(local_root, "m"))
    assert get(f"{dst}/moved/deep/two.bin") == b"2" * 2000
    assert all(r.verified for r in job.report())


def test_move_keeps_the_source_when_the_copy_fails(queue, local_root, memory_root):
    put(f"{memory_root}/blocker", b"a file where a folder must go")
    put(f"{local_root}/keep.bin", b"precious")
    job = queue.submit(f"{local_root}/keep.bin", f"{memory_root}/blocker/keep.bin", op="move")
    assert job.wait(30) is JobState.FAILED
    assert "blocker" in job.error
    assert open(os.path.join(local_root, "keep.bin"), "rb").read() == b"precious"
    assert job.report()[0].status == "failed" and not job.report()[0].verified


def test_missing_source_fails_clearly_and_wait_never_raises(queue, local_root, memory_root):
    job = queue.submit(f"{local_root}/nope", f"{memory_root}/x")
    assert job.wait(30) is JobState.FAILED
    assert isinstance(job.exception, storecore.NotFound) and "nope" in job.error


def test_bad_arguments_are_refused(queue, local_root):
    with pytest.raises(storecore.InvalidArgument):
        queue.submit(local_root, f"{local_root}-x", op="teleport")
    with pytest.raises(storecore.InvalidArgument):
        queue.submit(local_root, f"{local_root}-x", conflict="maybe")
    with pytest.raises(storecore.InvalidArgument):
        TransferQueue(concurrency=0, history=False)
    put(f"{local_root}/t/a", b"a")
    job = queue.submit(f"{local_root}/t", f"{local_root}/t/inside")
    assert job.wait(30) is JobState.FAILED and "into itself" in job.error


# conflicts ------------------------------------------------------------------------------
@pytest.fixture
def clash(memory_root):
    """A source tree and a destination where a.txt differs, b.txt is identical, c.txt is new."""
    put(f"{memory_root}/src/a.txt", b"new a")
    put(f"{memory_root}/src/b.txt", b"same b")
    put(f"{memory_root}/src/c.txt", b"c")
    put(f"{memory_root}/dst/a.txt", b"old a")
    put(f"{memory_root}/dst/b.txt", b"same b")
    return memory_root


@pytest.mark.parametrize(
    "policy, a_text, statuses, extra",
    [
        ("overwrite", b"new a", {"verified": 3}, []),
        ("skip", b"old a", {"skipped": 2, "verified": 1}, []),
        ("skip-if-same", b"new a", {"skipped": 1, "verified": 2}, []),
        ("rename", b"old a", {"verified": 3}, ["a (1).txt", "b (1).txt"]),
    ],
)
def test_conflict_policies(queue, clash, policy, a_text, statuses, extra):
    job = queue.submit(f"{clash}/src", f"{clash}/dst", conflict=policy)
    assert job.wait(30) is JobState.DONE, job.error
    assert get(f"{clash}/dst/a.txt") == a_text
    assert get(f"{clash}/dst/c.txt") == b"c"
    counts = job.summary()
    assert {k: v for k, v in counts.items() if k in ("verified", "skipped", "failed") and v} == statuses
    assert listing(f"{clash}/dst") == sorted(["a.txt", "b.txt", "c.txt", *extra])
    if policy == "rename":
        assert get(f"{clash}/dst/a (1).txt") == b"new a"


def test_conflict_ask_with_apply_to_all(queue, clash):
    asked = []

    def ask(conflict):
        asked.append((conflict.source.rsplit("/", 1)[-1], conflict.destination_size))
        return ("skip", True)

    job = queue.submit(f"{clash}/src", f"{clash}/dst", conflict="ask", ask=ask)
    assert job.wait(30) is JobState.DONE, job.error
    assert len(asked) == 1 and asked[0][1] in (5, 6)  # asked once, then "apply to all"
    assert get(f"{clash}/dst/a.txt") == b"old a" and job.summary()["skipped"] == 2


def test_conflict_ask_each_time_and_cancel(queue, clash):
    answers = iter(["overwrite", "rename"])
    job = queue.submit(f"{clash}/src", f"{clash}/dst", conflict="ask", ask=lambda c: next(answers))
    assert job.wait(30) is JobState.DONE, job.error
    assert sorted(r.destination.rsplit("/", 1)[-1] for r in job.report()) in (
        ["a (1).txt", "b.txt", "c.txt"], ["a.txt", "b (1).txt", "c.txt"])
    job2 = queue.submit(f"{clash}/src/a.txt", f"{clash}/dst/a.txt", conflict="ask", ask=lambda c: "cancel")
    assert job2.wait(30) is JobState.CANCELLED


def test_conflict_ask_without_a_handler_fails_that_file(queue, clash):
    job = queue.submit(f"{clash}/src/a.txt", f"{clash}/dst/a.txt", conflict="ask")
    assert job.wait(30) is JobState.FAILED and "already exists" in job.error
    assert get(f"{clash}/dst/a.txt") == b"old a"


def test_skip_if_same_compares_local_file_with_s3_etag(queue, local_root, s3_root):
    data = os.urandom(50_000)
    put(f"{local_root}/s.bin", data)
    put(f"{s3_root}/s.bin", data)
    put(f"{s3_root}/d.bin", data[:-1] + bytes([data[-1] ^ 0xFF]))  # differs whatever the last byte was
    j1 = queue.submit(f"{local_root}/s.bin", f"{s3_root}/s.bin", conflict="skip-if-same")
    j2 = queue.submit(f"{local_root}/s.bin", f"{s3_root}/d.bin", conflict="skip-if-same")
    assert j1.wait(30) is JobState.DONE and j2.wait(30) is JobState.DONE
    assert j1.report()[0].status == "skipped" and j1.report()[0].verified
    assert j2.report()[0].status == "verified" and get(f"{s3_root}/d.bin") == data


# progress, pause, lazy listing -------------------------------------------------------------
def test_progress_callbacks_and_states(tmp_path, local_root, memory_root):
    for i in range(30):
        put(f"{local_root}/p/{i:02d}.bin", os.urandom(10_000))
    states, seen = [], []
    with TransferQueue(concurrency=2, history=False, progress_interval=0) as q:
        job = q.submit(f"{local_root}/p", f"{memory_root}/p", on_state=lambda j: states.append(j.state),
                       on_progress=lambda j: seen.append(j.progress.bytes_done))
        assert job.wait(30) is JobState.DONE
    assert states[0] is JobState.RUNNING and states[-1] is JobState.DONE
    assert seen == sorted(seen) and seen[-1] == 300_000
    p = job.progress
    assert (p.files_done, p.files_total, p.bytes_total, p.fraction, p.eta) == (30, 30, 300_000, 1.0, None)


def test_pause_resume_and_cancel_all(tmp_path, local_root, memory_root):
    for i in range(10):
        put(f"{local_root}/q/{i}.bin", b"x" * 1000)
    with TransferQueue(concurrency=1, max_jobs=1, history=False) as q:
        q.pause_all()  # nothing yet
        first = q.submit(f"{local_root}/q", f"{memory_root}/q1")
        first.pause()
        second = q.submit(f"{local_root}/q", f"{memory_root}/q2")
        assert first.state is JobState.PAUSED
        assert second.wait(0.05) in (JobState.QUEUED, JobState.RUNNING, JobState.DONE)
        first.resume()
        assert first.wait(30) is JobState.DONE and second.wait(30) is JobState.DONE
        third = q.submit(f"{local_root}/q", f"{memory_root}/q3")
        third.pause()
        q.cancel_all()
        assert third.wait(30) is JobState.CANCELLED
        assert q.summary()["jobs"]["done"] == 2 and q.summary()["jobs"]["cancelled"] == 1
        assert len(q.clear_finished()) == 3 and q.jobs == []


def test_a_paused_job_gives_its_workers_to_other_jobs(s3_root, local_root):
    """Files in flight when a job pauses are set aside (keeping their finished parts), so a job
    submitted after it runs on the shared workers; on resume the first job ends with every byte."""
    part = 5 * 1024 * 1024
    big = {f"{local_root}/a/{i}.bin": os.urandom(3 * part) for i in range(2)}
    for path, data in big.items():
        put(path, data)
    put(f"{local_root}/b/x.bin", b"second job")
    paused = threading.Event()

    def pause_once(job):
        if job.progress.bytes_done >= part and not paused.is_set():
            paused.set()
            job.pause()

    with TransferQueue(concurrency=2, part_concurrency=2, max_jobs=2, part_size=part, history=False,
                       progress_interval=0) as q:
        first = q.submit(f"{local_root}/a", f"{s3_root}/a", on_progress=pause_once)
        assert paused.wait(60)
        second = q.submit(f"{local_root}/b", f"{s3_root}/b")
        assert second.wait(60) is JobState.DONE, second.error  # both file workers were not held
        assert first.state is JobState.PAUSED
        first.resume()
        assert first.wait(60) is JobState.DONE, first.error
    p = first.progress
    assert (p.files_done, p.bytes_done, p.bytes_total) == (2, 6 * part, 6 * part)
    assert all(r.verified for r in first.report())
    for path, data in big.items():
        assert get(f"{s3_root}/a/{os.path.basename(path)}") == data


def test_cancelling_a_paused_job_ends_its_set_aside_files(s3_root, local_root):
    part = 5 * 1024 * 1024
    put(f"{local_root}/c/big.bin", os.urandom(3 * part))
    paused = threading.Event()

    def pause_once(job):
        if job.progress.bytes_done and not paused.is_set():
            paused.set()
            job.pause()

    with TransferQueue(concurrency=1, part_size=part, history=False, progress_interval=0) as q:
        job = q.submit(f"{local_root}/c", f"{s3_root}/c", on_progress=pause_once)
        assert paused.wait(60)
        job.cancel()
        assert job.wait(60) is JobState.CANCELLED
    b, loc = storecore.backend_for(f"{s3_root}/c")
    assert not b.exists("c/big.bin")
    assert b.client.list_multipart_uploads(Bucket=b.bucket).get("Uploads", []) == []


def test_folder_transfer_starts_before_the_listing_ends(local_root, memory_root):
    from storecore.backends import base as base_mod
    from storecore.backends.memory import InMemoryBackend

    release = threading.Event()
    first_copied = threading.Event()

    class Gated(InMemoryBackend):
        """A memory store whose listing blocks after its first page until released."""

        def ls_pages(self, prefix="", recursive=False):
            pages = list(super().ls_pages(prefix, recursive))
            for i, page in enumerate(pages):
                if i == 1:
                    assert release.wait(30)
                yield page

    from storecore.backends import registry

    registry.register_backend("gatedmem", lambda bucket, scheme="gatedmem", **o: Gated(bucket))
    b, _ = storecore.backend_for("gatedmem://g/")
    for i in range(1500):  # two listing pages of 1000
        b.write_bytes(f"d/{i:04d}", b"z")
    assert isinstance(b, base_mod.Backend)

    def on_progress(job):
        if job.progress.files_done:
            first_copied.set()

    with TransferQueue(history=False, progress_interval=0) as q:
        job = q.submit("gatedmem://g/d", f"{memory_root}/d", on_progress=on_progress)
        assert first_copied.wait(30), "no file was copied while the listing was blocked"
        assert job.progress.files_total is None  # listing still open
        release.set()
        assert job.wait(60) is JobState.DONE
    assert job.progress.files_total == 1500


def test_history_survives_a_restart(tmp_path, local_root, memory_root):
    path = str(tmp_path / "h" / "history.json")
    put(f"{local_root}/h.txt", b"h")
    with TransferQueue(history=path) as q:
        job = q.submit(f"{local_root}/h.txt", f"{memory_root}/h.txt")
        job.wait(30)
        bad = q.submit(f"{local_root}/missing", f"{memory_root}/m")
        bad.wait(30)
    with TransferQueue(history=path) as q2:
        entries = q2.history.entries()
    assert [(e["id"], e["state"]) for e in entries] == [(job.id, "done"), (bad.id, "failed")]
    assert entries[0]["verified"] == 1 and entries[0]["source"] == f"{local_root}/h.txt"


def test_history_default_path_follows_the_environment(tmp_path, monkeypatch):
    from storecore.transfer.history import TransferHistory, default_path

    monkeypatch.setenv("STORESCOPE_TRANSFER_HISTORY", str(tmp_path / "env.json"))
    assert default_path() == str(tmp_path / "env.json")
    h = TransferHistory(limit=3)
    for i in range(5):
        h.record({"id": str(i)})
    assert [e["id"] for e in TransferHistory(limit=3).entries()] == ["2", "3", "4"]


def test_corrupt_history_is_set_aside(tmp_path):
    from storecore.transfer.history import TransferHistory

    path = tmp_path / "h.json"
    path.write_text("{not json")
    h = TransferHistory(path)
    assert h.entries() == [] and (tmp_path / "h.json.corrupt").exists()
    h.record({"id": "x"})
    assert TransferHistory(path).entries() == [{"id": "x"}]


# volume ---------------------------------------------------------------------------------------
@pytest.mark.s3
def test_thousand_small_files_local_to_s3_and_back(local_root, s3_root, tmp_path):
    payload = {f"n/{i // 100:02d}/{i:04d}.dat": os.urandom(256 + i) for i in range(1000)}
    for k, v in payload.items():
        put(f"{local_root}/{k}", v)
    with TransferQueue(concurrency=16, history=False) as q:
        up = q.submit(f"{local_root}/n", f"{s3_root}/n")
        assert up.wait(120) is JobState.DONE, up.error
        down = q.submit(f"{s3_root}/n", f"{local_root}/back")
        assert down.wait(120) is JobState.DONE, down.error
    assert up.summary()["verified"] == 1000 and down.summary()["verified"] == 1000
    assert len(listing(f"{s3_root}/n")) == 1000
    for k, v in list(payload.items())[::37]:
        assert get(f"{local_root}/back/{k[2:]}") == v


@pytest.mark.s3
@pytest.mark.slow
def test_300_mib_object_up_and_down(tmp_path, s3_root):
    size = 300 * 1024 * 1024
    src = tmp_path / "big.bin"
    block = os.urandom(1024 * 1024)
    h = hashlib.md5()
    with open(src, "wb") as f:
        for i in range(300):
            chunk = block[i:] + block[:i]
            f.write(chunk)
            h.update(chunk)
    with TransferQueue(history=False) as q:
        up = q.submit(str(src), f"{s3_root}/big.bin")
        assert up.wait(300) is JobState.DONE, up.error
        os.unlink(src)  # keep the disk footprint at one copy
        down = q.submit(f"{s3_root}/big.bin", str(tmp_path / "back.bin"))
        assert down.wait(300) is JobState.DONE, down.error
    assert os.path.getsize(tmp_path / "back.bin") == size
    h2 = hashlib.md5()
    with open(tmp_path / "back.bin", "rb") as f:
        while chunk := f.read(8 << 20):
            h2.update(chunk)
    assert h2.hexdigest() == h.hexdigest()
    assert up.report()[0].destination_checksum == down.report()[0].source_checksum
    assert down.report()[0].verified and down.report()[0].checksum_kind == "crc32-composite"
