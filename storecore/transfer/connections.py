"""Keep-alive HTTP connections for presigned S3 requests: one per thread and host, on :mod:`http.client`.

The transfer engine's small GETs and PUTs go to presigned URLs (see
``multipart._Get``).  Sending them through urllib3 costs about 0.5 ms of CPU
per request, twice what :mod:`http.client` needs for the same exchange, and
its pool serialises thousands of small requests on one lock.  Each worker
thread here keeps its own connection per host instead, so nothing is shared
and nothing waits.

A request on a kept-alive connection the server has meanwhile closed (idle
timeout, restart) is sent once more on a new connection; every request
sent here is idempotent (a GET, or a whole-object PUT carrying its checksum).
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

#: what a broken or closed connection raises
_BROKEN = (http.client.HTTPException, OSError)


class Response:
    """A response being read; its connection goes back to its thread once the body is read to the end."""

    def __init__(self, raw: http.client.HTTPResponse, conn: http.client.HTTPConnection, owner: Connections) -> None:
        self.raw, self.conn, self.owner = raw, conn, owner
        self.status = raw.status
        self.headers = raw.headers

    def stream(self, amt: int) -> Iterator[bytes]:
        """The body in chunks of up to ``amt`` bytes; raises ConnectionError if it ends early."""
        complete = False
        try:
            while True:
                chunk = self.raw.read(amt)
                if not chunk:
                    break
                yield chunk
            if self.raw.length:  # http.client ends a short body quietly
                raise ConnectionError(f"body ended early: {self.raw.length} bytes missing")
            complete = True
        except _BROKEN as e:
            raise ConnectionError(f"body ended early: {type(e).__name__}") from None
        finally:
            if complete:
                self.release_conn()
            else:
                self.close()

    def read(self, amt: int | None = None) -> bytes:
        """Up to ``amt`` bytes of the body (all of it when None)."""
        try:
            return self.raw.read(amt)
        except _BROKEN as e:
            self.close()
            raise ConnectionError(f"body ended early: {type(e).__name__}") from None

    def release_conn(self) -> None:
        """Give the connection back for the next request (or drop it while the body is unread)."""
        if self.raw.isclosed() and not self.raw.will_close:
            self.owner._keep(self.conn)
        else:
            self.close()

    def close(self) -> None:
        """Drop the connection: bytes still in flight make it unusable."""
        self.raw.close()
        self.conn.close()


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


class Connections:
    """Per-thread keep-alive connections to one endpoint's host."""

    def __init__(self, endpoint: str, *, connect_timeout: float, read_timeout: float) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self.connect_timeout, self.read_timeout = float(connect_timeout), float(read_timeout)
        self._ssl: ssl.SSLContext | None = None
        if self.scheme == "https":
            # the certificates botocore itself would trust
            from botocore.httpsession import get_cert_path

            self._ssl = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True))
        self._local = threading.local()

    def _new(self) -> http.client.HTTPConnection:
        if self._ssl is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.connect_timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
        conn.connect()
        _kernel_timeouts(conn.sock, self.read_timeout)
        return conn

    def _keep(self, conn: http.client.HTTPConnection) -> None:
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
        kept = getattr(self._local, "conn", None)
        self._local.conn = None  # in use: a failure must not leave it for the next request
        for conn in (kept, None):
            reused = conn is not None
            try:
                if conn is None:
                    conn = self._new()
                conn.request(method, target, body=body, headers=headers or {})
                return Response(conn.getresponse(), conn, self)
            except _BROKEN as e:
                if conn is not None:
                    conn.close()
                if not reused:
                    raise ConnectionError(f"{method} failed: {type(e).__name__}: {e}") from None
        raise AssertionError("unreachable")


__all__ = ["Connections", "Response"]
