"""S3-specific behaviour on the real test server: pages, multipart, aborts, credentials."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

import storecore
from storecore.backends.s3 import S3Backend
from storecore.errors import BackendUnavailable, NotFound, PermissionDenied

pytestmark = pytest.mark.s3


def test_listing_2500_keys_arrives_in_pages(s3_server, s3_bucket):
    client = s3_server.client()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: client.put_object(Bucket=s3_bucket, Key=f"many/{i:05d}", Body=b"x"), range(2500)))
    b = S3Backend(s3_bucket, **s3_server.options())
    pages = list(b.ls_pages("many"))
    assert len(pages) >= 3  # 1000 keys a page
    assert sum(len(pg) for pg in pages) == 2500
    first = next(iter(b.ls("many")))
    assert first.name == "00000" and first.size == 1


def test_64mib_multipart_round_trip_byte_for_byte(s3_server, s3_bucket, tmp_path):
    b = S3Backend(s3_bucket, **s3_server.options(multipart_threshold=8 << 20, multipart_chunksize=8 << 20))
    data = os.urandom(64 << 20)
    b.write_from("big/object.bin", io.BytesIO(data), size=len(data))
    st = b.stat("big/object.bin")
    assert st.size == len(data)
    assert st.etag.endswith("-8")  # eight parts: it really went multipart
    out = tmp_path / "down.bin"
    with open(out, "wb") as f:
        b.read_to("big/object.bin", f)
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert b.read_bytes("big/object.bin", 30 << 20, (30 << 20) + 100) == data[30 << 20 : (30 << 20) + 100]


def test_interrupted_upload_leaves_no_object_and_no_pending_multipart(s3_server, s3_bucket):
    b = S3Backend(s3_bucket, **s3_server.options(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))

    class Dies(io.RawIOBase):
        def __init__(self):
            self.sent = 0

        def readable(self):
            return True

        def readinto(self, buf):
            if self.sent > 12 << 20:
                raise OSError("network cable pulled")
            n = len(buf)
            buf[:n] = b"z" * n
            self.sent += n
            return n

    with pytest.raises((OSError, storecore.StorecoreError)):
        b.write_from("broken.bin", io.BufferedReader(Dies()))
    assert not b.exists("broken.bin")
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert uploads == []


def test_bad_credentials_are_refused_with_permission_denied(s3_server, s3_bucket):
    opts = s3_server.options(aws_secret_access_key="wrong-secret", max_attempts=1)
    b = S3Backend(s3_bucket, **opts)
    with pytest.raises(PermissionDenied) as info:
        b.read_bytes("anything")
    assert "wrong-secret" not in str(info.value)
    assert "wrong-secret" not in repr(b)


def test_unreachable_endpoint_is_backend_unavailable():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    b = S3Backend("bkt", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="k", aws_secret_access_key="s", max_attempts=1, connect_timeout=2)
    with pytest.raises(BackendUnavailable) as info:
        b.stat("x")
    assert f"127.0.0.1:{port}" not in str(info.value) or "s3://bkt/x" in str(info.value)


def test_missing_bucket_says_so(s3_server):
    b = S3Backend("no-such-bucket-here", **s3_server.options())
    with pytest.raises(NotFound, match="bucket"):
        b.stat("k")


def test_server_side_copy_between_buckets(s3_scheme, s3_server):
    a, c = s3_server.new_bucket(), s3_server.new_bucket()
    src, _ = storecore.backend_for(f"{s3_scheme}://{a}")
    src.write_bytes("x/y.bin", b"payload")
    storecore.transfer.copy(f"{s3_scheme}://{a}/x/y.bin", f"{s3_scheme}://{c}/z.bin")
    dst, _ = storecore.backend_for(f"{s3_scheme}://{c}")
    assert dst.read_bytes("z.bin") == b"payload"


def test_h5py_reads_through_the_lazy_file(s3_server, s3_bucket, tmp_path):
    import h5py
    import numpy as np

    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("g/data", data=np.arange(2_000_000, dtype="f8"), chunks=(10_000,))
        f["g"].attrs["sample"] = "LK-17"
    b = S3Backend(s3_bucket, **s3_server.options())
    b.write_bytes("f.h5", path.read_bytes())
    fobj = b.open("f.h5")
    with h5py.File(fobj, "r") as f:
        assert f["g"].attrs["sample"] == "LK-17"
        assert f["g/data"][5000:5003].tolist() == [5000.0, 5001.0, 5002.0]
    assert fobj.bytes_fetched < path.stat().st_size // 4  # never the whole file
