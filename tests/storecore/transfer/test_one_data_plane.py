"""One S3 data plane: the backend's read_to/write_from/upload_file, the remote cache, ``copy`` and the savers
move S3 bytes through the transfer engine (checksummed parts, If-Match, retries), never a second path."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

import storecore
from storecore.errors import ChecksumMismatch
from storecore.transfer import copy, multipart

MiB = 1024 * 1024
pytestmark = pytest.mark.s3


@pytest.fixture
def small_parts(s3_server, s3_bucket):
    """A scheme whose single-object part size is 5 MiB (S3's smallest): a 12 MiB object is three parts."""
    storecore.register_scheme("parts3", "s3", **s3_server.options(multipart_chunksize=5 * MiB, max_concurrency=3))
    try:
        yield f"parts3://{s3_bucket}"
    finally:
        storecore.unregister_scheme("parts3")


def _count_gets(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    real = multipart.get_object

    def counting(backend, key, start=None, end=None, if_match=None, **kw):
        calls.append((key, start, end, if_match))
        return real(backend, key, start, end, if_match, **kw)

    monkeypatch.setattr(multipart, "get_object", counting)
    return calls


def _damage_first_chunk(monkeypatch) -> None:
    real_read = multipart._read_body

    def damaging_read(body):
        for i, chunk in enumerate(real_read(body)):
            yield (bytes([chunk[0] ^ 0xFF]) + chunk[1:]) if i == 0 else chunk

    monkeypatch.setattr(multipart, "_read_body", damaging_read)


def _open_uploads(backend) -> list:
    return backend.client.list_multipart_uploads(Bucket=backend.bucket).get("Uploads", []) or []


@pytest.mark.parametrize("size", [0, 1000, 12 * MiB + 7])
def test_read_to_streams_through_the_engine_in_order(small_parts, monkeypatch, size):
    data = os.urandom(size)
    backend, loc = storecore.backend_for(f"{small_parts}/r.bin")
    backend.write_bytes(loc.path, data)
    gets = _count_gets(monkeypatch)
    out = io.BytesIO()
    seen: list[int] = []
    assert backend.read_to(loc.path, out, progress=lambda done, total: seen.append(done)) == size
    assert out.getvalue() == data
    # every GET went through the engine, pinned to the version it started with
    assert gets and all(g[3] for g in gets if size)
    if size > 5 * MiB:
        assert len(gets) == 3
        assert seen[-1] == size


def test_read_to_refuses_damaged_bytes(small_parts, monkeypatch):
    backend, loc = storecore.backend_for(f"{small_parts}/d.bin")
    backend.write_bytes(loc.path, os.urandom(11 * MiB))
    _damage_first_chunk(monkeypatch)
    with pytest.raises(ChecksumMismatch, match="does not match"):
        backend.read_to(loc.path, io.BytesIO())


@pytest.mark.parametrize("size", [None, 12 * MiB + 3], ids=["unknown-size", "known-size"])
def test_write_from_a_stream_sends_checksummed_parts(small_parts, size):
    data = os.urandom(12 * MiB + 3)
    backend, loc = storecore.backend_for(f"{small_parts}/w.bin")

    class OneWay(io.RawIOBase):
        """A pipe-like stream: reads only, no seek, short reads."""

        def __init__(self) -> None:
            self.pos = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            n = min(n if n >= 0 else len(data), 100_000)
            piece = data[self.pos : self.pos + n]
            self.pos += len(piece)
            return piece

    backend.write_from(loc.path, OneWay(), size=size)  # type: ignore[arg-type]
    assert backend.read_bytes(loc.path) == data
    etag = backend.stat(loc.path).etag or ""
    assert etag.endswith("-3")  # three parts of 5 MiB: the engine's multipart upload
    assert _open_uploads(backend) == []


def test_write_from_a_stream_longer_than_announced_leaves_nothing(small_parts):
    backend, loc = storecore.backend_for(f"{small_parts}/long.bin")
    with pytest.raises(ChecksumMismatch, match="more bytes than its announced size"):
        backend.write_from(loc.path, io.BytesIO(os.urandom(11 * MiB)), size=10 * MiB)
    assert not backend.exists(loc.path)
    assert _open_uploads(backend) == []


def test_upload_file_rewritten_meanwhile_fails_and_leaves_nothing(small_parts, tmp_path, monkeypatch):
    src = tmp_path / "live.bin"
    src.write_bytes(os.urandom(12 * MiB))
    backend, loc = storecore.backend_for(f"{small_parts}/live.bin")
    real_send = multipart._send_part
    touched = []

    def rewriting_send(client, **kwargs):
        if not touched:
            touched.append(True)
            with open(src, "r+b") as f:
                f.write(b"changed")
            os.utime(src, ns=(1, 1))
        return real_send(client, **kwargs)

    monkeypatch.setattr(multipart, "_send_part", rewriting_send)
    with pytest.raises(ChecksumMismatch, match="changed while it was copied"):
        backend.upload_file(str(src), loc.path)
    assert not backend.exists(loc.path)
    assert _open_uploads(backend) == []


def test_copy_verifies_downloads_and_keeps_no_partial_file(s3_root, tmp_path, monkeypatch):
    """``storecore.transfer.copy`` is the queue's verified route: a damaged download fails and installs nothing."""
    data = os.urandom(3 * MiB)
    backend, loc = storecore.backend_for(f"{s3_root}/c.bin")
    backend.write_bytes(loc.path, data)
    target = tmp_path / "out" / "c.bin"
    _damage_first_chunk(monkeypatch)
    with pytest.raises(ChecksumMismatch):
        copy(f"{s3_root}/c.bin", str(target))
    assert not target.exists() and os.listdir(tmp_path / "out") == []
    monkeypatch.undo()
    assert copy(f"{s3_root}/c.bin", str(target)) == len(data)
    assert target.read_bytes() == data


def test_cache_fill_reuses_the_validating_get_as_part_one(small_parts, tmp_path, monkeypatch):
    from storecore.cache import RemoteCache

    data = os.urandom(12 * MiB)
    backend, loc = storecore.backend_for(f"{small_parts}/cached.bin")
    backend.write_bytes(loc.path, data)
    gets = _count_gets(monkeypatch)
    cache = RemoteCache(tmp_path / "cache")
    path = cache.local_path(f"{small_parts}/cached.bin")
    with open(path, "rb") as f:
        assert f.read() == data
    # the first 5 MiB came with the validating GET; the engine fetched the other two parts, pinned by If-Match
    assert sorted((g[1], g[2]) for g in gets) == [(5 * MiB, 10 * MiB), (10 * MiB, 12 * MiB)]
    assert all(g[3] for g in gets)


def test_cache_refuses_a_damaged_fill(small_parts, tmp_path, monkeypatch):
    from storecore.cache import RemoteCache

    backend, loc = storecore.backend_for(f"{small_parts}/bad.bin")
    backend.write_bytes(loc.path, os.urandom(12 * MiB))
    _damage_first_chunk(monkeypatch)
    cache = RemoteCache(tmp_path / "cache")
    with pytest.raises(ChecksumMismatch):
        cache.local_path(f"{small_parts}/bad.bin")
    assert cache.entries() == []


def test_savers_write_to_s3_through_the_engine(s3_root, monkeypatch):
    """A saver writing to S3 (ZarrSaver over a storecore store) sends checksummed engine PUTs."""
    import zarr

    from storecore.apis.savers import ZarrSaver
    from storecore.containers.zarr_store import BackendStore

    sent: list[dict] = []
    real_put = multipart._put_object

    def counting_put(client, **kwargs):
        sent.append(kwargs)
        return real_put(client, **kwargs)

    monkeypatch.setattr(multipart, "_put_object", counting_put)
    backend, loc = storecore.backend_for(f"{s3_root}/saved.zarr")
    arr = np.arange(1000, dtype=np.float64).reshape(10, 100)
    ZarrSaver(BackendStore(backend, loc.path)).save(arr, chunks=(5, 100))
    got = zarr.open_array(BackendStore(backend, loc.path, read_only=True), path="dataset", mode="r")[:]
    assert np.array_equal(got, arr)
    assert sent and all("ChecksumCRC32" in k or "ContentMD5" in k for k in sent)


@pytest.mark.parametrize("verify", [True, False])
def test_checksummed_parts_go_through_the_fast_path_and_size_only_ones_through_botocore(small_parts, tmp_path, verify):
    """A verified multipart upload sends its parts as PUTs it signs itself, with their CRC32 (botocore's UploadPart is
    never called), and the object is whole; a size-only upload keeps botocore, whose client signs the payload."""
    from storecore.transfer import JobState, TransferQueue

    data = os.urandom(12 * MiB + 3)
    src = tmp_path / "parts.bin"
    src.write_bytes(data)
    name = f"fast ü+%20=&?-{verify}.bin"  # keys are data: quoted into the signed URL as they are
    backend, loc = storecore.backend_for(f"{small_parts}/{name}")
    botocore_parts: list[str] = []
    hooks = []
    for signed in (False, True):
        events = multipart.transfer_client(backend, sign_payload=signed).meta.events
        events.register("before-call.s3.UploadPart", lambda **kw: botocore_parts.append("UploadPart"),
                        unique_id="count-upload-parts")
        hooks.append(events)
    try:
        queue = TransferQueue(part_size=5 * MiB, history=False, verify=verify)
        job = queue.submit(str(src), f"{small_parts}/{name}")
        assert job.wait() is JobState.DONE, job.error
        queue.close()
    finally:
        for events in hooks:
            events.unregister("before-call.s3.UploadPart", unique_id="count-upload-parts")
    assert backend.read_bytes(loc.path) == data
    assert (backend.stat(loc.path).etag or "").endswith("-3")
    assert botocore_parts == ([] if verify else ["UploadPart"] * 3)
    assert _open_uploads(backend) == []
