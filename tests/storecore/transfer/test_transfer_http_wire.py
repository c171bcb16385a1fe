"""The transfer engine's own HTTP/1.1 exchange (``transfer.connections``) against canned server replies.

Each test's server answers one connection with fixed bytes, so the framing cases a real S3 endpoint rarely
shows (chunked bodies, bodies read to the close, 100 Continue, folded or repeated headers) are all covered.
"""

from __future__ import annotations

import socket
import threading

import pytest
from transfer_helpers import whole_body

from storecore.transfer.connections import Connections


class _Canned:
    """A server that reads one request per reply from ``replies`` on one connection, then hangs up."""

    def __init__(self, *replies: bytes) -> None:
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:  # closed before anyone connected (a test that never sent): nothing to serve
            return
        with conn:
            for reply in self.replies:
                data = b""
                while b"\r\n\r\n" not in data:
                    more = conn.recv(65536)
                    if not more:
                        return
                    data += more
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + body)
                conn.sendall(reply)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def canned():
    servers: list[_Canned] = []

    def make(*replies: bytes) -> _Canned:
        servers.append(_Canned(*replies))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_a_request_is_written_whole_with_host_length_and_headers(canned):
    server = canned(b"HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nContent-Length: 0\r\n\r\n")
    conns = Connections(server.url, connect_timeout=5, read_timeout=5)
    resp = conns.request("PUT", f"{server.url}/b/k?x=1", body=b"hello", headers={"x-amz-checksum-crc32": "AAAA"})
    assert resp.status == 200 and resp.headers.get("etag") == '"abc"' and resp.headers["ETag"] == '"abc"'
    assert resp.read() == b""
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"PUT /b/k?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.url.rsplit(':', 1)[1]}".encode() in lines
    assert b"x-amz-checksum-crc32: AAAA" in lines and b"Content-Length: 5" in lines
    assert body == b"hello"


def test_chunked_bodies_folded_and_repeated_headers_are_read(canned):
    server = canned(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Amz-Meta-A: one\r\n two\r\nX-Rep: 1\r\nx-rep: 2\r\n\r\n"
        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    conns = Connections(server.url, connect_timeout=5, read_timeout=5)
    resp = conns.request("GET", f"{server.url}/a")
    assert resp.headers.get("x-amz-meta-a") == "one two" and resp.headers.get("X-REP") == "1, 2"
    assert whole_body(resp, 3) == b"hello world"
    second = conns.request("GET", f"{server.url}/b")  # the same connection, kept after the last chunk
    assert second.conn is resp.conn and second.read() == b"ok"


def test_a_chunked_body_read_into_a_reused_buffer_arrives_whole(canned):
    server = canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    conns = Connections(server.url, connect_timeout=5, read_timeout=5)
    resp = conns.request("GET", f"{server.url}/a")
    assert b"".join(bytes(piece) for piece in resp.stream_into(bytearray(4))) == b"hello world"


def test_100_continue_is_skipped_and_a_body_without_length_is_read_to_the_close(canned):
    server = canned(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nuntil the end")
    conns = Connections(server.url, connect_timeout=5, read_timeout=5)
    resp = conns.request("GET", f"{server.url}/a")
    assert resp.status == 200 and resp.headers.get("x-a") == "1"
    assert whole_body(resp, 4) == b"until the end"
    assert resp.conn.sock is None  # read to the close: never kept


def test_connection_close_drops_the_connection_after_the_body(canned):
    server = canned(b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 4\r\n\r\nnope")
    conns = Connections(server.url, connect_timeout=5, read_timeout=5)
    resp = conns.request("GET", f"{server.url}/a")
    assert resp.status == 404 and resp.read() == b"nope"
    resp.release_conn()
    assert resp.conn.sock is None


def test_a_reply_that_is_not_http_is_a_connection_error(canned):
    server = canned(b"SSH-2.0-OpenSSH\r\n\r\n")
    conns = Connections(server.url, connect_timeout=5, read_timeout=5)
    with pytest.raises(ConnectionError, match="GET failed"):
        conns.request("GET", f"{server.url}/a")


def test_a_chunked_body_cut_short_is_a_connection_error(canned):
    server = canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort")
    conns = Connections(server.url, connect_timeout=5, read_timeout=5)
    resp = conns.request("GET", f"{server.url}/a")
    with pytest.raises(ConnectionError, match="ended early"):
        whole_body(resp, 100)


def test_control_characters_in_headers_are_refused_before_sending(canned):
    server = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    conns = Connections(server.url, connect_timeout=5, read_timeout=5)
    with pytest.raises(ValueError, match="control characters"):
        conns.request("GET", f"{server.url}/a", headers={"Range": "bytes=0-1\r\nX-Evil: 1"})
    assert server.requests == []
