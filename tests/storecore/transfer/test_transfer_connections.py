"""The transfer engine's plain HTTP path and what rides on it: kept-alive connections, size-only transfers, modes."""

from __future__ import annotations

import http.server
import os
import stat
import threading

import pytest
from transfer_helpers import whole_body

from storecore.transfer import JobState, TransferQueue
from storecore.transfer.connections import Connections

MiB = 1024 * 1024


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers GET /n with n bytes over HTTP/1.1; ``/drop`` closes after the headers and half the body;
    every response except ``/stay`` then hangs up without saying so (a keep-alive the server drops)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        name = self.path.strip("/")
        size = 1000 if name in ("drop", "stay") else int(name)
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(b"x" * (size // 2 if name == "drop" else size))
        self.close_connection = name != "stay"

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_connection_the_server_dropped_is_replaced_without_failing_the_request(http_server):
    conns = Connections(http_server, connect_timeout=5, read_timeout=5)
    for size in (10, 20, 30):  # each response is followed by a silent hang-up
        resp = conns.request("GET", f"{http_server}/{size}")
        assert resp.status == 200 and whole_body(resp, 7) == b"x" * size


def test_a_kept_connection_is_reused_by_the_same_thread(http_server):
    conns = Connections(http_server, connect_timeout=5, read_timeout=5)
    first = conns.request("GET", f"{http_server}/stay")
    assert whole_body(first, 4096) == b"x" * 1000
    second = conns.request("GET", f"{http_server}/stay")
    assert second.conn is first.conn
    assert whole_body(second, 4096) == b"x" * 1000


def test_a_body_read_into_a_reused_buffer_arrives_whole_in_pieces_of_the_buffer_size(http_server):
    conns = Connections(http_server, connect_timeout=5, read_timeout=5)
    buffer = bytearray(4096)
    resp = conns.request("GET", f"{http_server}/10000")
    pieces = [bytes(piece) for piece in resp.stream_into(buffer)]  # a piece is valid until the next: copy it
    assert [len(p) for p in pieces] == [4096, 4096, 1808] and b"".join(pieces) == b"x" * 10000
    resp = conns.request("GET", f"{http_server}/drop")
    with pytest.raises(ConnectionError, match="ended early"):
        for _ in resp.stream_into(buffer):
            pass
    assert resp.conn.sock is None


def test_a_body_cut_short_is_a_connection_error_and_the_connection_is_dropped(http_server):
    conns = Connections(http_server, connect_timeout=5, read_timeout=5)
    resp = conns.request("GET", f"{http_server}/drop")
    with pytest.raises(ConnectionError, match="ended early"):
        whole_body(resp, 100)
    assert resp.conn.sock is None
    assert whole_body(conns.request("GET", f"{http_server}/5"), 100) == b"xxxxx"


def test_an_endpoint_nobody_listens_on_is_a_connection_error():
    conns = Connections("http://127.0.0.1:9", connect_timeout=2, read_timeout=2)
    with pytest.raises(ConnectionError, match="GET failed"):
        conns.request("GET", "http://127.0.0.1:9/x")


def test_size_only_transfers_move_every_byte(s3_root, tmp_path):
    """``verify=False`` skips checksums but not sizes: small and multipart files both ways arrive intact."""
    src = tmp_path / "src"
    src.mkdir()
    files = {"small.bin": os.urandom(90_000), "big.bin": os.urandom(11 * MiB)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    with TransferQueue(part_size=5 * MiB, history=False, verify=False) as q:
        up = q.submit(str(src), f"{s3_root}/plain")
        assert up.wait(60) is JobState.DONE, up.error
        down = q.submit(f"{s3_root}/plain", str(tmp_path / "back"))
        assert down.wait(60) is JobState.DONE, down.error
    for name, data in files.items():
        assert (tmp_path / "back" / name).read_bytes() == data
    assert {r.checksum_kind for r in up.report() + down.report()} == {"size"}


def test_downloads_keep_the_mode_of_the_file_they_replace(s3_root, tmp_path):
    src = tmp_path / "m.bin"
    src.write_bytes(b"mode")
    umask = os.umask(0)
    os.umask(umask)
    with TransferQueue(history=False) as q:
        assert q.submit(str(src), f"{s3_root}/m.bin").wait(60) is JobState.DONE
        assert q.submit(f"{s3_root}/m.bin", str(tmp_path / "new.bin")).wait(60) is JobState.DONE
        kept = tmp_path / "kept.bin"
        kept.write_bytes(b"old")
        os.chmod(kept, 0o600)
        assert q.submit(f"{s3_root}/m.bin", str(kept)).wait(60) is JobState.DONE
    assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600 and kept.read_bytes() == b"mode"
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".storecore-tmp")]


# signed requests --------------------------------------------------------------------------------
KEYS = ["a.bin", "dir/sub dir/ü ñ+%&=?#x.bin", "~tilde/(paren)[b]{c}*'!$@;:,", "trailing/"]


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8333", "https://s3.example.org", "http://minio.local:9000/p"])
@pytest.mark.parametrize("token", [None, "TOKEN/with+chars=="])
def test_signed_requests_carry_the_authorization_botocore_computes(monkeypatch, endpoint, token):
    import datetime

    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials

    from storecore.transfer.sigv4 import UNSIGNED_PAYLOAD, Signer

    fixed = datetime.datetime(2026, 11, 26, 12, 30, 5)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: fixed)
    credentials = Credentials("AKIDEXAMPLE", "wJalr/K7+EXAMPLEKEY", token)
    ours = Signer(endpoint, "eu-west-3", credentials)
    part = {"partNumber": "7", "uploadId": "2~a/b+c=="}
    listing = {"list-type": "2", "prefix": "dir/sub dir/ü+", "continuation-token": "AbC+/==", "encoding-type": "url"}
    cases = [("GET", {}, None), ("GET", {"x-amz-checksum-mode": "ENABLED"}, None),
             ("PUT", {"x-amz-checksum-crc32": "NhCmhg=="}, None), ("PUT", {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, None),
             ("PUT", {"x-amz-checksum-crc32": "NhCmhg=="}, part), ("GET", {}, listing)]
    for key in KEYS:
        for method, headers, params in cases:
            url, send = ours.sign(method, "my-bucket", "" if params is listing else key, headers, params=params, now=fixed)
            assert {k: send[k] for k in headers} == headers and send["X-Amz-Content-SHA256"] == UNSIGNED_PAYLOAD
            assert ("X-Amz-Security-Token" in send) == bool(token)
            theirs = AWSRequest(method=method, url=url, headers={**headers, "X-Amz-Content-SHA256": UNSIGNED_PAYLOAD})
            theirs.context["client_config"] = Config(s3={"payload_signing_enabled": False})
            botocore.auth.S3SigV4Auth(credentials, "s3", "eu-west-3").add_auth(theirs)
            assert send["Authorization"] == theirs.headers["Authorization"], (key, method, headers, params)
            assert send["X-Amz-Date"] == theirs.headers["X-Amz-Date"]
            assert url.startswith(endpoint.rstrip("/") + "/my-bucket/")


def test_signed_requests_reach_odd_keys_and_wrong_secrets_are_refused(s3_server, s3_bucket, s3_scheme):
    import storecore
    from storecore.errors import PermissionDenied
    from storecore.transfer import multipart

    b, _ = storecore.backend_for(f"{s3_scheme}://{s3_bucket}/x")
    fast = multipart._fast_get(b)
    assert fast is not None and fast.signer is not None
    for key in KEYS[:3]:
        data = key.encode() * 100
        fast.put(s3_bucket, key, data, {"ChecksumCRC32": multipart.crc32_b64(multipart.crc32(data))})
        assert s3_server.client().get_object(Bucket=s3_bucket, Key=key)["Body"].read() == data
        assert b"".join(bytes(c) for c in multipart._read_body(fast(s3_bucket, key, {}))) == data
    storecore.register_scheme("wrongsecret3", "s3", **s3_server.options(aws_secret_access_key="not-the-secret"))
    wrong, _ = storecore.backend_for(f"wrongsecret3://{s3_bucket}/x")
    with pytest.raises(Exception) as refused:
        multipart.get_object(wrong, KEYS[0])
    err = multipart._error(refused.value, wrong.uri(KEYS[0]))
    assert isinstance(err, PermissionDenied) and "not-the-secret" not in str(err)


@pytest.fixture
def https_server(tmp_path):
    """The same little server over TLS with a throwaway certificate for 127.0.0.1 (needs the openssl tool)."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("the openssl tool is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", str(cert)
    finally:
        server.shutdown()
        server.server_close()


def test_https_endpoints_verify_certificates_as_botocore_does(https_server, monkeypatch):
    url, cert = https_server
    untrusted = Connections(url, connect_timeout=5, read_timeout=5)
    with pytest.raises(ConnectionError, match="SSL"):
        untrusted.request("GET", f"{url}/10")
    monkeypatch.setenv("AWS_CA_BUNDLE", cert)  # botocore's way of trusting a private CA
    trusted = Connections(url, connect_timeout=5, read_timeout=5)
    for size in (10, 20):
        assert whole_body(trusted.request("GET", f"{url}/{size}"), 7) == b"x" * size
