"""Transfers under faults: cancel mid-way, the S3 server killed mid-transfer, damaged parts."""

from __future__ import annotations

import os
import zlib

import pytest
from transfer_helpers import keys, pending_uploads, when_bytes, write

import storecore
from storecore.errors import BackendUnavailable, ChecksumMismatch
from storecore.transfer import JobState, TransferQueue, multipart, verify

pytestmark = pytest.mark.s3
MiB = 1024 * 1024


def test_cancel_mid_upload_leaves_no_object_and_no_multipart_upload(s3_server, s3_bucket, s3_scheme, tmp_path):
    data = os.urandom(40 * MiB)
    write(str(tmp_path / "big.bin"), data)
    on_progress, reached = when_bytes(10 * MiB)
    with TransferQueue(part_size=5 * MiB, part_concurrency=2, history=False, progress_interval=0) as q:
        job = q.submit(str(tmp_path / "big.bin"), f"{s3_scheme}://{s3_bucket}/big.bin", on_progress=on_progress)
        assert reached.wait(60)
        job.cancel()
        assert job.wait(60) is JobState.CANCELLED
        assert "big.bin" not in keys(s3_server, s3_bucket)
        assert pending_uploads(s3_server, s3_bucket) == []
        assert job.report()[0].status == "cancelled"
        # and it can still be done afterwards
        job.retry()
        assert job.wait(60) is JobState.DONE, job.error
    b, loc = storecore.backend_for(f"{s3_scheme}://{s3_bucket}/big.bin")
    assert b.read_bytes(loc.path) == data


def test_cancel_mid_download_leaves_no_partial_file(s3_server, s3_root, tmp_path):
    data = os.urandom(40 * MiB)
    b, _ = storecore.backend_for(s3_root)
    write(str(tmp_path / "src.bin"), data)
    with TransferQueue(part_size=5 * MiB, history=False) as q:
        assert q.submit(str(tmp_path / "src.bin"), f"{s3_root}/obj.bin").wait(60) is JobState.DONE
    os.unlink(tmp_path / "src.bin")
    out = tmp_path / "out"
    on_progress, reached = when_bytes(8 * MiB)
    with TransferQueue(part_size=5 * MiB, part_concurrency=2, history=False, progress_interval=0) as q:
        job = q.submit(f"{s3_root}/obj.bin", str(out / "obj.bin"), on_progress=on_progress)
        assert reached.wait(60)
        job.cancel()
        assert job.wait(60) is JobState.CANCELLED
    assert not out.exists() or os.listdir(out) == []
    assert b.stat("obj.bin").size == len(data)


def test_cancel_mid_tree_keeps_only_complete_objects(s3_server, s3_bucket, s3_scheme, tmp_path):
    files = {f"t/{i:03d}.bin": os.urandom(300_000) for i in range(60)}
    for k, v in files.items():
        write(str(tmp_path / k), v)
    on_progress, reached = when_bytes(3_000_000)
    with TransferQueue(concurrency=2, history=False, progress_interval=0) as q:
        job = q.submit(str(tmp_path / "t"), f"{s3_scheme}://{s3_bucket}/t", on_progress=on_progress)
        assert reached.wait(60)
        job.cancel()
        assert job.wait(60) is JobState.CANCELLED
    present = keys(s3_server, s3_bucket)
    assert 0 < len(present) < 60
    client = s3_server.client()
    for key in present:
        assert client.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == files[key]
    assert pending_uploads(s3_server, s3_bucket) == []


def test_killed_server_then_retry_completes_without_loss_or_duplicates(s3_server, s3_bucket, s3_scheme, tmp_path,
                                                                       monkeypatch):
    if s3_server.external:
        pytest.skip("the S3 endpoint is external: it cannot be killed from here")
    files = {f"k/small/{i:02d}.bin": os.urandom(100_000) for i in range(20)}
    files["k/large.bin"] = os.urandom(30 * MiB)
    for k, v in files.items():
        write(str(tmp_path / k), v)
    sent: list[int] = []
    real_send = multipart._send_part

    def counting_send(client, **kw):
        resp = real_send(client, **kw)
        sent.append(kw["PartNumber"])
        return resp

    monkeypatch.setattr(multipart, "_send_part", counting_send)
    on_progress, reached = when_bytes(12 * MiB)
    dst = f"{s3_scheme}://{s3_bucket}/k"
    q = TransferQueue(concurrency=2, part_size=5 * MiB, part_concurrency=2, backoff=0.05, max_retries=2,
                      history=False, progress_interval=0)
    try:
        job = q.submit(str(tmp_path / "k"), dst, on_progress=on_progress)
        assert reached.wait(60)
        s3_server.stop()
        assert job.wait(120) is JobState.FAILED
        assert isinstance(job.exception, BackendUnavailable), job.error
        parts_before = len(sent)
        s3_server.start()
        job.retry()
        assert job.wait(120) is JobState.DONE, job.error
    finally:
        if s3_server.proc is None:
            s3_server.start()  # the server is shared by the whole session
        q.close()
    assert parts_before > 0
    assert len(sent) - parts_before < 6  # the resumed upload did not send all six parts again
    assert keys(s3_server, s3_bucket) == sorted(files)
    client = s3_server.client()
    for k, v in files.items():
        assert client.get_object(Bucket=s3_bucket, Key=k)["Body"].read() == v
    assert pending_uploads(s3_server, s3_bucket) == []
    assert job.summary()["verified"] == len(files)


@pytest.mark.parametrize(("checksum", "stored_as"), [("md5", "ETag"), ("crc32", "CRC32")])
def test_damaged_part_is_detected_by_its_stored_checksum(s3_server, s3_bucket, s3_scheme, tmp_path, monkeypatch,
                                                         checksum, stored_as):
    data = os.urandom(12 * MiB)
    write(str(tmp_path / "d.bin"), data)
    real_send = multipart._send_part

    def damaging_send(client, **kw):
        if kw["PartNumber"] == 2:
            body = bytearray(kw["Body"])
            body[100] ^= 0xFF
            kw = dict(kw, Body=bytes(body))
            # so the server stores it and only the checksum it reports can tell
            if kw.pop("ContentMD5", None) is None:
                kw["ChecksumCRC32"] = verify.crc32_b64(zlib.crc32(body))
        return real_send(client, **kw)

    monkeypatch.setattr(multipart, "_send_part", damaging_send)
    dst = f"{s3_scheme}://{s3_bucket}/d.bin"
    with TransferQueue(part_size=5 * MiB, backoff=0.01, max_retries=2, history=False, checksum=checksum) as q:
        job = q.submit(str(tmp_path / "d.bin"), dst)
        assert job.wait(60) is JobState.FAILED
        assert isinstance(job.exception, ChecksumMismatch)
        assert "part 2" in job.error and stored_as in job.error
        rec = job.report()[0]
        assert rec.status == "failed" and not rec.verified and rec.retries == 2
        assert "d.bin" not in keys(s3_server, s3_bucket)
        monkeypatch.setattr(multipart, "_send_part", real_send)
        job.retry()  # resumes: parts 1 and 3 are already there
        assert job.wait(60) is JobState.DONE, job.error
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="d.bin")["Body"].read() == data
    assert pending_uploads(s3_server, s3_bucket) == []


def test_damaged_body_is_refused_by_the_server(s3_server, s3_bucket, s3_scheme, tmp_path, monkeypatch):
    write(str(tmp_path / "s.bin"), b"small and precious")

    def damaging_put(client, **kw):
        return client.put_object(**dict(kw, Body=kw["Body"][:-1] + b"?"))

    monkeypatch.setattr(multipart, "_put_object", damaging_put)
    with TransferQueue(backoff=0.01, max_retries=1, history=False) as q:
        job = q.submit(str(tmp_path / "s.bin"), f"{s3_scheme}://{s3_bucket}/s.bin")
        assert job.wait(60) is JobState.FAILED
    assert isinstance(job.exception, ChecksumMismatch) and "BadDigest" in job.error
    assert keys(s3_server, s3_bucket) == []


@pytest.mark.parametrize("size", [12 * MiB, 100_000], ids=["parts", "one-stream"])
@pytest.mark.parametrize("checksum", ["crc32", "md5"])
def test_damaged_download_is_detected_and_not_installed(s3_root, tmp_path, monkeypatch, checksum, size):
    data = os.urandom(size)
    write(str(tmp_path / "u.bin"), data)
    with TransferQueue(part_size=5 * MiB, history=False) as q:
        assert q.submit(str(tmp_path / "u.bin"), f"{s3_root}/u.bin").wait(60) is JobState.DONE
    real_read = multipart._read_body

    def damaging_read(body):
        for i, chunk in enumerate(real_read(body)):
            yield (bytes([chunk[0] ^ 0xFF]) + chunk[1:]) if i == 0 else chunk

    monkeypatch.setattr(multipart, "_read_body", damaging_read)
    with TransferQueue(part_size=5 * MiB, history=False, checksum=checksum) as q:
        job = q.submit(f"{s3_root}/u.bin", str(tmp_path / "dl" / "u.bin"))
        assert job.wait(60) is JobState.FAILED
    assert isinstance(job.exception, ChecksumMismatch) and "does not match" in job.error
    assert os.listdir(tmp_path / "dl") == []


def test_object_gets_read_ranges_and_report_errors_as_storecore_errors(s3_server, s3_bucket, s3_scheme):
    """The GET path downloads use: exact ranges, If-Match, missing keys and dead endpoints map onto clear errors."""
    from storecore.errors import NotFound, StorecoreError

    data = os.urandom(300_000)
    etag = s3_server.client().put_object(Bucket=s3_bucket, Key="g.bin", Body=data)["ETag"].strip('"')
    b, _ = storecore.backend_for(f"{s3_scheme}://{s3_bucket}/g.bin")
    assert b"".join(bytes(c) for c in multipart._read_body(multipart.get_object(b, "g.bin"))) == data
    assert b"".join(bytes(c) for c in multipart._read_body(multipart.get_object(b, "g.bin", 1000, 2000, etag))) == data[1000:2000]
    uri = b.uri("g.bin")
    with pytest.raises(Exception) as missing:
        multipart.get_object(b, "nope.bin")
    assert isinstance(multipart._error(missing.value, uri), NotFound)
    with pytest.raises(Exception) as changed:
        multipart.get_object(b, "g.bin", if_match="0" * 32)
    err = multipart._error(changed.value, uri)
    assert isinstance(err, StorecoreError) and not isinstance(err, BackendUnavailable | NotFound)
    assert "g.bin" in str(err)
    # the connection used by the refused GETs is still good for the next one
    assert b"".join(bytes(c) for c in multipart._read_body(multipart.get_object(b, "g.bin", 0, 10))) == data[:10]
    storecore.register_scheme("deadgets3", "s3", **s3_server.options(endpoint_url="http://127.0.0.1:9"))
    dead, _ = storecore.backend_for(f"deadgets3://{s3_bucket}/g.bin")
    with pytest.raises(Exception) as down:
        multipart.get_object(dead, "g.bin")
    assert isinstance(multipart._error(down.value, dead.uri("g.bin")), BackendUnavailable)


def test_uploads_without_payload_signing_still_refuse_damaged_bytes(s3_server, s3_bucket, s3_scheme, tmp_path,
                                                                    monkeypatch):
    """Bodies go unsigned (no SHA-256 pass) but carry their MD5: a damaged multipart part is refused and retried."""
    data = os.urandom(11 * MiB)
    write(str(tmp_path / "p.bin"), data)
    real_send = multipart._send_part
    damaged = []

    def damaging_send(client, **kw):
        if kw["PartNumber"] == 1 and not damaged:
            damaged.append(1)
            body = bytearray(kw["Body"])
            body[7] ^= 0xFF
            kw = dict(kw, Body=bytes(body))  # the Content-MD5 still describes the intact part
        return real_send(client, **kw)

    monkeypatch.setattr(multipart, "_send_part", damaging_send)
    with TransferQueue(part_size=5 * MiB, backoff=0.01, max_retries=2, history=False) as q:
        job = q.submit(str(tmp_path / "p.bin"), f"{s3_scheme}://{s3_bucket}/p.bin")
        assert job.wait(60) is JobState.DONE, job.error
    assert damaged and job.report()[0].retries >= 1 and job.report()[0].verified
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="p.bin")["Body"].read() == data


def test_small_puts_carry_their_md5_and_damage_is_refused(s3_server, s3_bucket, s3_scheme):
    """The fast PUT of small objects stores intact bytes and the server refuses a body that fails its MD5."""
    import base64
    import hashlib

    b, _ = storecore.backend_for(f"{s3_scheme}://{s3_bucket}/x")
    client = multipart.transfer_client(b)
    assert multipart._fast_get(b) is not None
    data = os.urandom(70_000)
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    resp = multipart._put_object(client, Bucket=s3_bucket, Key="ok.bin", Body=data, ContentMD5=md5)
    assert resp["ETag"].strip('"') == hashlib.md5(data).hexdigest()
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="ok.bin")["Body"].read() == data
    with pytest.raises(Exception) as bad:
        multipart._put_object(client, Bucket=s3_bucket, Key="bad.bin", Body=data[:-1] + bytes([data[-1] ^ 1]), ContentMD5=md5)
    assert isinstance(multipart._error(bad.value, b.uri("bad.bin")), ChecksumMismatch)
    assert keys(s3_server, s3_bucket) == ["ok.bin"]


def test_endpoint_ignoring_crc32_headers_is_verified_by_md5(s3_server, s3_bucket, s3_scheme, tmp_path, monkeypatch):
    """An endpoint without additional checksums echoes no CRC32: the queue notices and checks MD5s and ETags."""
    monkeypatch.setattr(multipart, "_no_crc", set())
    real_send, real_put = multipart._send_part, multipart._put_object
    stripped = []

    def old_server(real):
        def call(client, **kw):
            if kw.pop("ChecksumCRC32", None) is not None:
                stripped.append(kw["Key"])
            resp = real(client, **kw)
            return {k: v for k, v in resp.items() if k != "ChecksumCRC32"}
        return call

    monkeypatch.setattr(multipart, "_send_part", old_server(real_send))
    monkeypatch.setattr(multipart, "_put_object", old_server(real_put))
    small, big = os.urandom(80_000), os.urandom(11 * MiB)
    write(str(tmp_path / "src" / "small.bin"), small)
    write(str(tmp_path / "src" / "big.bin"), big)
    with TransferQueue(concurrency=1, part_size=5 * MiB, history=False) as q:
        job = q.submit(str(tmp_path / "src"), f"{s3_scheme}://{s3_bucket}/old")
        assert job.wait(60) is JobState.DONE, job.error
    assert stripped  # the first file tried CRC32, then the endpoint was known to ignore it
    kinds = {r.destination.rsplit("/", 1)[-1]: r.checksum_kind for r in job.report()}
    assert set(kinds.values()) <= {"md5", "etag-multipart"} and all(r.verified for r in job.report())
    client = s3_server.client()
    assert client.get_object(Bucket=s3_bucket, Key="old/small.bin")["Body"].read() == small
    assert client.get_object(Bucket=s3_bucket, Key="old/big.bin")["Body"].read() == big
    assert pending_uploads(s3_server, s3_bucket) == []


def test_download_checks_a_whole_object_crc32_from_parallel_parts(s3_server, s3_bucket, s3_scheme, tmp_path):
    """A single-PUT object with a CRC32, fetched in parallel ranges: the part CRC32s combine to the object's."""
    data = os.urandom(23 * MiB)
    resp = s3_server.client().put_object(Bucket=s3_bucket, Key="w.bin", Body=data, ChecksumAlgorithm="CRC32")
    with TransferQueue(part_size=5 * MiB, history=False) as q:
        job = q.submit(f"{s3_scheme}://{s3_bucket}/w.bin", str(tmp_path / "w.bin"))
        assert job.wait(60) is JobState.DONE, job.error
    rec = job.report()[0]
    assert rec.checksum_kind == "crc32" and rec.verified
    assert rec.source_checksum == rec.destination_checksum == "crc32:" + resp["ChecksumCRC32"]
    assert (tmp_path / "w.bin").read_bytes() == data


def test_crc32_helpers_match_zlib():
    import random

    rng = random.Random(7)
    for _ in range(50):
        a, b = rng.randbytes(rng.randint(0, 3000)), rng.randbytes(rng.randint(0, 3000))
        assert verify.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
        # the transfers' CRC32 (ISA-L's) is zlib's function, on views and from a running value too
        start = rng.randint(0, 2**32 - 1)
        assert verify.crc32(a) == zlib.crc32(a) and verify.crc32(memoryview(b)[1:], start) == zlib.crc32(b[1:], start)
    text = verify.crc32_composite([1, 2, 3])
    assert verify.checksum_kind(text) == "crc32-composite" and verify.crc32_parts(text) == 3
    assert verify.checksum_kind(verify.crc32_text(5)) == "crc32" and verify.crc32_parts(verify.crc32_text(5)) is None
    assert verify.from_s3_crc32("qR++gQ==-3") == "crc32:qR++gQ==-3" and verify.from_s3_crc32("junk") is None
    assert verify.checksum_kind("d41d8cd98f00b204e9800998ecf8427e") == "md5"
