"""Keep-alive HTTP/1.1 connections for signed S3 requests: one per thread and host, on plain sockets.

The transfer engine's GETs, whole-object PUTs, checksummed multipart parts and
listings are signed by the engine itself (see ``multipart._Get``).  Sending them through urllib3 costs about 0.5 ms of CPU
per request, and its pool serialises thousands of small requests on one lock;
:mod:`http.client` halves that, but still parses every response's headers
with the :mod:`email` package and validates every request line piece by piece
(together about 0.15 ms a request, as much as moving a 256 KiB body).  The
exchange these requests need is small: one request written at once, a status
line, a few headers and a body of known length (chunked bodies, from some
servers' error replies, are read too).  Each worker thread here keeps its own
connection per host, so nothing is shared and nothing waits.

A request on a kept-alive connection the server has meanwhile closed (idle
timeout, restart) is sent once more on a new connection; every request
sent here is idempotent (a GET, or a PUT of a whole object or of one part, carrying its checksum).
Failures surface as :class:`ConnectionError`; HTTP error statuses are left to
the caller.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import struct
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

#: what a broken or closed connection raises
_BROKEN = (http.client.HTTPException, OSError, ValueError)
#: longest status or header line accepted (as http.client)
_MAX_LINE = 65536
#: most header lines accepted (as http.client)
_MAX_HEADERS = 100
#: request bodies up to this size are sent with their headers in one write
_JOIN_BODY = 64 * 1024
#: ``recv`` waits for the whole size asked for (0 where the platform lacks it)
_WAITALL = getattr(socket, "MSG_WAITALL", 0)


class Headers(dict[str, str]):
    """Response headers by lower-case name; ``get`` and ``[]`` take any case (repeated ones are joined with
    ``", "``, as HTTP allows)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        """The header ``name`` (any case), or ``default``."""
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())

    def get_all(self, name: str, failobj: Any = None) -> Any:
        """The header ``name`` as a one-item list (``failobj`` when missing), as :mod:`email` messages give it."""
        value = self.get(name)
        return failobj if value is None else [value]


class Connection:
    """One kept-alive connection: its socket and a buffered reader over it (kept across responses)."""

    __slots__ = ("sock", "reader")

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket | None = sock
        self.reader = sock.makefile("rb")

    def close(self) -> None:
        """Close the socket (bytes still in flight make a connection unusable)."""
        if self.sock is not None:
            self.reader.close()
            self.sock.close()
            self.sock = None


class Response:
    """A response being read; its connection goes back to its thread once the body is read to the end."""

    def __init__(self, conn: Connection, owner: Connections, method: str) -> None:
        self.conn, self.owner = conn, owner
        reader = conn.reader
        while True:
            line = reader.readline(_MAX_LINE + 1)
            if not line:
                raise http.client.RemoteDisconnected("Remote end closed connection without response")
            version, _, rest = line.decode("iso-8859-1").partition(" ")
            if not version.startswith("HTTP/1."):
                raise http.client.BadStatusLine(line.decode("iso-8859-1", "replace")[:100])
            try:
                status = int(rest[:3])
            except ValueError:
                raise http.client.BadStatusLine(line.decode("iso-8859-1", "replace")[:100]) from None
            headers = _read_headers(reader)
            if status >= 200 or status == 101:
                break  # a 1xx reply (100 Continue) comes before the real one
        self.status = status
        self.headers = headers
        connection = (headers.get("connection") or "").lower()
        self.will_close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
        self.chunked = "chunked" in (headers.get("transfer-encoding") or "").lower()
        #: body bytes still to read (None: unknown, read to the end or to the last chunk)
        self.length: int | None = None
        if method == "HEAD" or status in (204, 304) or status < 200:
            self.length = 0
        elif not self.chunked:
            try:
                self.length = int(headers.get("content-length") or "")
            except ValueError:
                self.length = None
            if self.length is None or self.length < 0:
                self.length, self.will_close = None, True
        self._chunk_left = 0
        #: True once the body was read to its end
        self.complete = self.length == 0

    def _read_some(self, amt: int) -> bytes:
        """Up to ``amt`` body bytes (``b""`` at the end); raises on a body cut short."""
        if self.complete:
            return b""
        reader = self.conn.reader
        if self.chunked:
            return self._read_chunk(amt)
        n = amt if self.length is None else min(amt, self.length)
        data = reader.read(n)
        if self.length is None:
            if not data:
                self.complete = True
            return data
        if not data:
            raise http.client.IncompleteRead(b"", self.length)
        self.length -= len(data)
        if not self.length:
            self.complete = True
        return data

    def _read_chunk(self, amt: int) -> bytes:
        reader = self.conn.reader
        if not self._chunk_left:
            line = reader.readline(_MAX_LINE + 1)
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise http.client.IncompleteRead(b"") from None
            if size == 0:
                _read_headers(reader)  # trailers, to the blank line
                self.complete = True
                return b""
            self._chunk_left = size
        data = reader.read(min(amt, self._chunk_left))
        if not data:
            raise http.client.IncompleteRead(b"", self._chunk_left)
        self._chunk_left -= len(data)
        if not self._chunk_left and reader.read(2) != b"\r\n":
            raise http.client.IncompleteRead(b"")
        return data

    def _read_exact_into(self, view: memoryview) -> int:
        """Read the next ``min(len(view), length)`` body bytes into ``view``; return how many (0 at the end).

        On a plain socket with a body of known length: what the reader holds, then the rest in one ``recv`` that
        waits for all of it (``MSG_WAITALL``) instead of one per arrival, each a GIL handoff.  Into a buffer the
        caller keeps: nothing to allocate and zero per piece, and the bytes are still in the CPU's cache when they
        are hashed and written on.  Elsewhere (TLS, chunked, unknown length) :meth:`_read_some` reads them."""
        sock = self.conn.sock
        length = self.length
        if self.chunked or length is None or not _WAITALL or sock is None or isinstance(sock, ssl.SSLSocket):
            data = self._read_some(len(view))
            view[: len(data)] = data
            return len(data)
        if self.complete:
            return 0
        n = min(len(view), length)
        got = self.conn.reader.readinto1(view[:n])  # bytes already buffered (one receive when none are)
        if not got:
            raise http.client.IncompleteRead(b"", length)
        while got < n:
            k = sock.recv_into(view[got:n], n - got, _WAITALL)
            if not k:
                raise http.client.IncompleteRead(b"", length - got)
            got += k
        self.length = length - n
        if not self.length:
            self.complete = True
        return n

    def stream_into(self, buffer: bytearray | memoryview) -> Iterator[memoryview]:
        """The body in pieces read into ``buffer`` (up to its size each): every piece is a view of ``buffer``, valid
        only until the next one is asked for.  Raises ConnectionError if the body ends early."""
        view = memoryview(buffer)
        try:
            while True:
                n = self._read_exact_into(view)
                if not n:
                    break
                yield view[:n]
        except _BROKEN as e:
            missing = f": {self.length} bytes missing" if self.length else ""
            raise ConnectionError(f"body ended early{missing} ({type(e).__name__})") from None
        finally:
            self.release_conn()

    def read(self, amt: int | None = None) -> bytes:
        """Up to ``amt`` bytes of the body (all of it when None)."""
        try:
            if amt is not None:
                return self._read_some(amt)
            parts = []
            while chunk := self._read_some(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        except _BROKEN as e:
            self.close()
            raise ConnectionError(f"body ended early: {type(e).__name__}") from None

    def release_conn(self) -> None:
        """Give the connection back for the next request (or drop it while the body is unread)."""
        if self.complete and not self.will_close and self.conn.sock is not None:
            self.owner._keep(self.conn)
        else:
            self.close()

    def close(self) -> None:
        """Drop the connection: bytes still in flight make it unusable."""
        self.complete = True
        self.conn.close()


def _read_headers(reader: Any) -> Headers:
    headers = Headers()
    name = ""
    for _ in range(_MAX_HEADERS + 1):
        line = reader.readline(_MAX_LINE + 1)
        if line in (b"\r\n", b"\n", b""):
            return headers
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        text = line.decode("iso-8859-1")
        if text[0] in " \t" and name:  # an obsolete folded continuation line
            dict.__setitem__(headers, name, dict.__getitem__(headers, name) + " " + text.strip())
            continue
        key, sep, value = text.partition(":")
        if not sep:
            raise http.client.HTTPException(f"malformed header line {text[:100]!r}")
        name, value = key.strip().lower(), value.strip()
        old = dict.get(headers, name)
        dict.__setitem__(headers, name, value if old is None else f"{old}, {value}")
    raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


def _kernel_timeouts(sock: socket.socket, seconds: float) -> None:
    """Make ``sock`` blocking with ``seconds`` as the kernel's receive and send timeouts.

    A Python socket with a timeout polls before every ``recv`` (two system calls, and the GIL taken twice, for
    each piece of a body); a blocking one with ``SO_RCVTIMEO`` / ``SO_SNDTIMEO`` waits in ``recv`` itself and
    still gives up after ``seconds`` (as ``OSError``: a broken connection).  Where the options are missing
    (TLS sockets keep Python's own timeout: their reads buffer anyway), Python's timeout stays.
    """
    if isinstance(sock, ssl.SSLSocket) or not hasattr(socket, "SO_RCVTIMEO"):
        sock.settimeout(seconds)
        return
    try:
        whole = int(seconds)
        tv = struct.pack("ll", whole, int((seconds - whole) * 1e6))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        sock.settimeout(None)
    except (OSError, struct.error):
        sock.settimeout(seconds)


def _send(sock: socket.socket, head: bytes, body: bytes | None) -> None:
    """Send ``head`` then ``body``: one ``sendmsg`` of both on a plain socket (no copy, and one system call: one
    GIL handoff less per request than two ``sendall``), finished by ``sendall`` after a partial send."""
    if not body:
        sock.sendall(head)
        return
    if isinstance(sock, ssl.SSLSocket) or not hasattr(sock, "sendmsg"):
        sock.sendall(head)
        sock.sendall(body)
        return
    sent = sock.sendmsg([head, body])
    if sent < len(head):
        sock.sendall(memoryview(head)[sent:])
        sock.sendall(body)
    elif sent < len(head) + len(body):
        sock.sendall(memoryview(body)[sent - len(head):])


class Connections:
    """Per-thread keep-alive connections to one endpoint's host."""

    def __init__(self, endpoint: str, *, connect_timeout: float, read_timeout: float) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        # the Host header as http.client writes it: the port only when it is not the scheme's own
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if parts.scheme == "https" else 80
        self._host_line = f"Host: {host if self.port == default_port else f'{host}:{self.port}'}\r\n"
        self.connect_timeout, self.read_timeout = float(connect_timeout), float(read_timeout)
        self._ssl: ssl.SSLContext | None = None
        if self.scheme == "https":
            # the certificates botocore itself would trust
            from botocore.httpsession import get_cert_path

            self._ssl = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True))
        self._local = threading.local()

    def _new(self) -> Connection:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # requests are written whole
            if self._ssl is not None:
                sock = self._ssl.wrap_socket(sock, server_hostname=self.host)
            _kernel_timeouts(sock, self.read_timeout)
        except BaseException:
            sock.close()
            raise
        return Connection(sock)

    def _keep(self, conn: Connection) -> None:
        self._local.conn = conn

    def request(self, method: str, url: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        """Send a request for ``url`` (on this endpoint's host) and return its response, headers read."""
        rest = url[len(self._origin):] if url.startswith(self._origin) else ""
        if rest.startswith("/") and "#" not in rest:
            target = rest  # a URL signed for this endpoint: its path and query as they are
        else:
            parts = urllib.parse.urlsplit(url)
            target = parts.path + ("?" + parts.query if parts.query else "")
        lines = [f"{method} {target} HTTP/1.1\r\n", self._host_line, "Accept-Encoding: identity\r\n"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}\r\n")
        if body is not None or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {len(body or b'')}\r\n")
        lines.append("\r\n")
        head = "".join(lines)
        if head.count("\n") != len(lines) or head.count("\r") != len(lines):
            raise ValueError(f"{method}: refusing a request with control characters in its line or headers")
        data = head.encode("iso-8859-1")
        if body and len(body) <= _JOIN_BODY:
            data, body = data + body, None
        kept = getattr(self._local, "conn", None)
        self._local.conn = None  # in use: a failure must not leave it for the next request
        for conn in (kept, None):
            reused = conn is not None
            try:
                if conn is None:
                    conn = self._new()
                sock = conn.sock
                assert sock is not None
                _send(sock, data, body)
                return Response(conn, self, method)
            except _BROKEN as e:
                if conn is not None:
                    conn.close()
                if not reused:
                    raise ConnectionError(f"{method} failed: {type(e).__name__}: {e}") from None
        raise AssertionError("unreachable")


__all__ = ["Connections", "Connection", "Headers", "Response"]
