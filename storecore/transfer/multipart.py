"""Resumable, verified S3 uploads and downloads with parallel parts and per-part retries.

boto3's TransferManager moves parts in parallel but cannot resume a failed
upload, does not say which parts made it, and verifies nothing end to end.
Here every part carries its MD5 (S3 rejects a damaged part, and its ETag is
checked), the parts' digests give the composite ETag the finished object
must have, and an :class:`UploadState` / :class:`DownloadState` remembers
completed parts so that a retried job sends only what is missing.  A failed
part is retried with exponential backoff; a cancelled transfer aborts its
multipart upload (or deletes its temporary file), so nothing partial remains.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import random
import stat as stat_mod
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..backends.base import Backend
from ..errors import BackendUnavailable, Cancelled, ChecksumMismatch, StorecoreError
from .verify import composite_etag, hash_file, parts_of

MiB = 1024 * 1024
#: S3 allows at most this many parts per upload
MAX_PARTS = 10_000
#: chunk size for streaming a part body to disk
STREAM_CHUNK = 1 * MiB
TMP_SUFFIX = ".storecore-tmp"


class Control(Protocol):
    """What a transfer needs from its job: cancellation/pause checks, progress and retry counting."""

    retries: int
    max_retries: int
    backoff: float
    #: True when the user cancelled (partial results are then thrown away, not kept for a retry)
    cancelled: bool
    #: False to skip checksums (size checks only): faster on a slow CPU, but nothing proves the bytes
    verify: bool

    def check(self) -> None:
        """Raise :class:`Cancelled` when cancelled; block while paused."""

    def add_bytes(self, n: int) -> None:
        """Count ``n`` more bytes moved (negative to take back a failed attempt's bytes)."""


# clients ----------------------------------------------------------------------------
_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def transfer_client(backend: Any, *, sign_payload: bool = False) -> Any:
    """A boto3 client for bulk transfers to ``backend``'s endpoint.

    It has a large connection pool, no built-in retries (parts are retried here
    with backoff, so a dead endpoint fails in seconds rather than minutes) and
    no extra CRC checksums (every part already carries its MD5).  Without
    ``sign_payload`` request bodies are not SHA-256 signed: over plain HTTP
    botocore would otherwise hash every byte a second time (about 0.8 s of CPU
    per GiB), although the Content-MD5 each body carries already makes the
    server refuse damaged bytes.  Bodies sent without a Content-MD5 (size-only
    transfers) use ``sign_payload=True``.
    """
    options = backend._options
    key = (sign_payload, *sorted((k, str(v)) for k, v in options.items()))
    with _clients_lock:
        if key in _clients:
            return _clients[key]
    import boto3
    from botocore.config import Config

    creds = {
        k: options[k]
        for k in ("profile_name", "aws_access_key_id", "aws_secret_access_key", "aws_session_token")
        if options.get(k)
    }
    session = boto3.session.Session(**creds)
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=options.get("connect_timeout", 10),
        read_timeout=options.get("read_timeout", 60),
        max_pool_connections=64,
        s3={"payload_signing_enabled": sign_payload,
            **({"addressing_style": "path"} if options.get("endpoint_url") else {})},
        signature_version="s3v4",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    client = session.client(
        "s3",
        endpoint_url=options.get("endpoint_url") or None,
        region_name=options.get("region_name") or ("us-east-1" if options.get("endpoint_url") else None),
        config=config,
    )
    with _clients_lock:
        return _clients.setdefault(key, client)


# fast GETs ----------------------------------------------------------------------------
#: id of a transfer client -> its fast path (None where there is none); clients live as long as the process
_pools: dict[int, Any] = {}


def _stale_connection_retry() -> Any:
    """One retry on a connection error: a pooled keep-alive connection the server closed
    (idle timeout, restart) must not fail a request.  Both requests sent here are idempotent
    (a ranged GET; a whole-object PUT with its Content-MD5); HTTP errors are not retried."""
    import urllib3

    return urllib3.Retry(total=1, connect=1, read=1, status=0, other=0, redirect=False,
                         allowed_methods=frozenset({"GET", "PUT"}), raise_on_status=False)


class _Get:
    """An object GET sent through a presigned URL on a plain urllib3 pool.

    A botocore ``get_object`` costs about 1.3 ms of CPU (event hooks, request
    building, response parsing), as much as moving a 256 KiB body: for many
    small objects that, not the network, sets the pace.  Presigning with the
    same client (so credentials, region and addressing are botocore's) costs
    a fifth of that.  Used only where botocore would connect directly (no
    proxy in the environment); elsewhere :func:`get_object` calls boto3.
    """

    def __init__(self, client: Any, pool: Any, timeout: Any) -> None:
        self.client, self.pool, self.timeout = client, pool, timeout

    def __call__(self, bucket: str, key: str, headers: dict[str, str]) -> Any:
        import urllib3
        from botocore.exceptions import ClientError

        url = self.client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900)
        try:
            resp = self.pool.request("GET", url, headers=headers, preload_content=False, decode_content=False,
                                     timeout=self.timeout, retries=_stale_connection_retry(), redirect=False)
        except urllib3.exceptions.HTTPError as e:
            raise ConnectionError(f"GET failed: {type(e).__name__}") from None
        if resp.status in (200, 206):
            return resp
        code = ""
        try:
            text = resp.read(64 * 1024).decode("utf-8", "replace")
            if "<Code>" in text:
                code = text.split("<Code>", 1)[1].split("</Code>", 1)[0]
        except urllib3.exceptions.HTTPError:
            pass
        finally:
            resp.release_conn()
        error = {"Code": code or str(resp.status), "Message": code or f"HTTP {resp.status}"}
        raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": resp.status}}, "GetObject")

    def put(self, bucket: str, key: str, body: bytes, content_md5: str) -> dict[str, Any]:
        """PUT a whole object with its Content-MD5 (the server refuses damaged bytes); return ``{"ETag": ...}``."""
        import urllib3

        url = self.client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900)
        try:
            resp = self.pool.request("PUT", url, body=body, headers={"Content-MD5": content_md5},
                                     timeout=self.timeout, retries=_stale_connection_retry(), redirect=False)
        except urllib3.exceptions.HTTPError as e:
            raise ConnectionError(f"PUT failed: {type(e).__name__}") from None
        etag = resp.headers.get("ETag")
        if resp.status == 200 and etag:
            return {"ETag": etag}
        from botocore.exceptions import ClientError

        text = resp.data[: 64 * 1024].decode("utf-8", "replace")
        code = text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else str(resp.status)
        error = {"Code": code, "Message": code}
        raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": resp.status}}, "PutObject")


def _fast_get(backend: Any) -> _Get | None:
    """A :class:`_Get` for ``backend``'s endpoint, or None where a plain pool cannot stand in for botocore."""
    import urllib.parse
    import urllib.request

    client = transfer_client(backend)
    key = id(client)
    if key in _pools:
        return _pools[key]
    endpoint = client.meta.endpoint_url
    parts = urllib.parse.urlsplit(endpoint)
    proxies = urllib.request.getproxies()
    if parts.scheme not in ("http", "https") or (
        proxies.get(parts.scheme) and not urllib.request.proxy_bypass(parts.hostname or "")
    ):
        with _clients_lock:
            _pools[key] = None  # botocore knows best here
        return None
    with _clients_lock:
        if _pools.get(key) is None:
            import urllib3

            options = backend._options
            timeout = urllib3.Timeout(connect=options.get("connect_timeout", 10),
                                      read=options.get("read_timeout", 60))
            # As many connections as the file and part workers can use at once; more are opened
            # (and dropped after use) rather than making a worker wait.
            pool = urllib3.PoolManager(num_pools=4, maxsize=64, block=False)
            _pools[key] = _Get(client, pool, timeout)
        return _pools[key]


def get_object(backend: Any, key: str, start: int | None = None, end: int | None = None,
               if_match: str | None = None) -> Any:
    """GET ``key`` (bytes ``start``..``end``-1 when given) from ``backend``; return a response to stream.

    The result has ``stream(n)`` (see :func:`_read_body`) and ``release_conn()``.
    Errors are botocore's (or ``ConnectionError``): :func:`retrying` translates them.
    """
    headers: dict[str, str] = {}
    if start is not None and end is not None and end > start:
        headers["Range"] = f"bytes={start}-{end - 1}"
    if if_match:
        headers["If-Match"] = f'"{if_match}"'
    fast = _fast_get(backend)
    if fast is not None:
        return fast(backend.bucket, key, headers)
    kwargs: dict[str, Any] = {"Bucket": backend.bucket, "Key": key}
    if "Range" in headers:
        kwargs["Range"] = headers["Range"]
    if if_match:
        kwargs["IfMatch"] = headers["If-Match"]
    return transfer_client(backend).get_object(**kwargs)["Body"]


def _error(exc: BaseException, uri: str) -> BaseException:
    if isinstance(exc, StorecoreError):
        return exc
    from ..backends.s3 import translate

    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") if hasattr(exc, "response") else ""
    if code in ("BadDigest", "InvalidDigest"):
        return ChecksumMismatch(f"{uri}: the server received different bytes than were sent ({code})", path=uri)
    return translate(exc, uri)


RETRYABLE = (BackendUnavailable, ChecksumMismatch)


def retrying(ctx: Control, uri: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` with up to ``ctx.max_retries`` retries on transient errors, backing off exponentially."""
    attempt = 0
    while True:
        ctx.check()
        try:
            return fn()
        except Cancelled:
            raise
        except Exception as e:  # noqa: BLE001 - translated and re-raised below
            err = _error(e, uri)
            if not isinstance(err, RETRYABLE) or attempt >= ctx.max_retries:
                if err is e:
                    raise
                raise err from e
        attempt += 1
        ctx.retries += 1
        # Jitter keeps parallel parts from hammering a recovering endpoint in lockstep.
        delay = ctx.backoff * (2 ** (attempt - 1)) * (0.75 + 0.5 * random.random())
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            ctx.check()
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def plan_parts(size: int, part_size: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` byte ranges of ``size`` in parts of ``part_size`` (grown to fit 10,000 parts)."""
    part_size = max(part_size, -(-size // MAX_PARTS), 1)
    return [(s, min(size, s + part_size)) for s in range(0, max(size, 1), part_size)]


def _wait_all(futures: list[Future[Any]], stop: threading.Event) -> None:
    """Wait for every future; on the first failure stop the rest and re-raise it (Cancelled wins)."""
    first: BaseException | None = None
    pending = set(futures)
    while pending:
        done, pending = wait(pending, return_when="FIRST_EXCEPTION")
        for f in done:
            exc = f.exception()
            if exc is not None and (first is None or isinstance(exc, Cancelled)):
                first = exc
                stop.set()
    if first is not None:
        raise first


# source ranges -----------------------------------------------------------------------
@contextlib.contextmanager
def range_reader(backend: Backend, path: str) -> Iterator[Callable[[int, int], bytes]]:
    """A thread-safe ``read(start, end)`` for a stored file (``pread`` on one descriptor for local files)."""
    from ..backends.local import LocalBackend

    if isinstance(backend, LocalBackend):
        fd = os.open(backend.full(path), os.O_RDONLY)
        try:
            yield lambda s, e: os.pread(fd, e - s, s)
        finally:
            os.close(fd)
        return
    yield lambda s, e: backend.read_bytes(path, s, e)


# uploads ---------------------------------------------------------------------------------
@dataclass
class UploadState:
    """A multipart upload in progress: kept by the job so a retry sends only the missing parts."""

    key: str
    size: int
    part_size: int
    upload_id: str | None = None
    #: part number -> (ETag, binary MD5 of the part)
    done: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    client: Any = None
    bucket: str = ""

    def abort(self) -> None:
        """Abort the upload on the server (its parts are discarded)."""
        if self.upload_id and self.client is not None:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
        self.upload_id = None
        self.done.clear()


def _send_part(client: Any, **kwargs: Any) -> dict[str, Any]:
    """Send one part (a seam the fault tests use to damage a part in flight)."""
    return client.upload_part(**kwargs)


def _put_object(client: Any, **kwargs: Any) -> dict[str, Any]:
    """Send a whole small object (a seam for the fault tests, as :func:`_send_part`).

    With a Content-MD5 it goes through the client's fast path when there is one (see :class:`_Get`).
    """
    fast = _pools.get(id(client))
    if fast is not None and "ContentMD5" in kwargs and set(kwargs) == {"Bucket", "Key", "Body", "ContentMD5"}:
        return fast.put(kwargs["Bucket"], kwargs["Key"], kwargs["Body"], kwargs["ContentMD5"])
    return client.put_object(**kwargs)


def upload(
    ctx: Control,
    read: Callable[[int, int], bytes],
    size: int,
    db: Any,
    dkey: str,
    *,
    part_size: int,
    executor: Executor,
    state: UploadState | None,
    on_state: Callable[[UploadState | None], None],
) -> tuple[str, str]:
    """Upload ``size`` bytes from ``read`` to ``db`` (an S3Backend) at ``dkey``; return (source, dest) checksums.

    Objects up to ``part_size`` go in one PUT; larger ones as a multipart
    upload whose state is handed to ``on_state`` (so the job can resume or
    abort it).  Raises :class:`ChecksumMismatch` when the stored object's ETag
    differs from the checksum of the bytes read.
    """
    verify = getattr(ctx, "verify", True)
    client = transfer_client(db, sign_payload=not verify)
    uri = db.uri(dkey)
    if size <= part_size:
        data = read(0, size) if size else b""
        if len(data) != size:
            raise ChecksumMismatch(f"{uri}: source gave {len(data)} bytes, expected {size}", path=uri)
        md5 = hashlib.md5(data, usedforsecurity=False).digest() if verify else None
        if md5:
            _fast_get(db)  # makes the client's fast path ready for _put_object

        def put() -> str:
            extra = {"ContentMD5": base64.b64encode(md5).decode()} if md5 else {}
            resp = _put_object(client, Bucket=db.bucket, Key=dkey, Body=data, **extra)
            return resp["ETag"].strip('"')

        etag = retrying(ctx, uri, put)
        ctx.add_bytes(size)
        return (md5.hex() if md5 else None), etag

    ranges = plan_parts(size, part_size)
    if state is not None and (state.size != size or state.part_size != ranges[0][1] or state.key != dkey):
        state.abort()
        state = None
    if state is not None and state.upload_id:
        # Trust only the parts the server still has, with the ETag we recorded.
        try:
            listed = _list_parts(client, db.bucket, dkey, state.upload_id)
            state.done = {n: v for n, v in state.done.items() if listed.get(n) == v[0]}
        except Exception:  # noqa: BLE001 - the upload is gone: start over
            state.upload_id = None
            state.done.clear()
    if state is None or not state.upload_id:
        resp = retrying(ctx, uri, lambda: client.create_multipart_upload(Bucket=db.bucket, Key=dkey))
        state = UploadState(dkey, size, ranges[0][1], resp["UploadId"], client=client, bucket=db.bucket)
    state.client, state.bucket = client, db.bucket
    on_state(state)
    upload_id = state.upload_id
    for n in state.done:
        s, e = ranges[n - 1]
        ctx.add_bytes(e - s)
    stop = threading.Event()
    lock = threading.Lock()

    def one(n: int, s: int, e: int) -> None:
        if stop.is_set():
            return
        ctx.check()
        data = read(s, e)
        digest = hashlib.md5(data, usedforsecurity=False).digest() if verify else b""

        def send() -> str:
            extra = {"ContentMD5": base64.b64encode(digest).decode()} if digest else {}
            resp = _send_part(
                client, Bucket=db.bucket, Key=dkey, UploadId=upload_id, PartNumber=n, Body=data, **extra
            )
            etag = resp["ETag"].strip('"')
            if digest and etag != digest.hex():
                raise ChecksumMismatch(f"{uri}: part {n} stored with ETag {etag}, expected {digest.hex()}", path=uri)
            return etag

        etag = retrying(ctx, f"{uri} (part {n})", send)
        with lock:
            state.done[n] = (etag, digest)
        ctx.add_bytes(e - s)

    futures = [
        executor.submit(one, n, s, e) for n, (s, e) in enumerate(ranges, start=1) if n not in state.done
    ]
    try:
        _wait_all(futures, stop)
        ctx.check()
    except Cancelled:
        if getattr(ctx, "cancelled", True):
            state.abort()
            on_state(None)
        raise
    parts = [{"PartNumber": n, "ETag": f'"{state.done[n][0]}"'} for n in sorted(state.done)]
    digests = [state.done[n][1] for n in sorted(state.done)]
    expected = composite_etag(digests) if all(digests) else None
    resp = retrying(
        ctx, uri,
        lambda: client.complete_multipart_upload(
            Bucket=db.bucket, Key=dkey, UploadId=upload_id, MultipartUpload={"Parts": parts}
        ),
    )
    on_state(None)
    etag = resp.get("ETag", "").strip('"')
    return expected, etag


def _list_parts(client: Any, bucket: str, key: str, upload_id: str) -> dict[int, str]:
    out: dict[int, str] = {}
    marker = 0
    while True:
        resp = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
        for p in resp.get("Parts", []) or []:
            out[int(p["PartNumber"])] = p["ETag"].strip('"')
        if not resp.get("IsTruncated"):
            return out
        marker = int(resp.get("NextPartNumberMarker") or 0)


def server_copy(ctx: Control, sb: Any, skey: str, db: Any, dkey: str, size: int) -> str:
    """Server-side copy between buckets on one endpoint; return the destination ETag."""
    client = transfer_client(db)
    uri = db.uri(dkey)
    if size < 5 * 1024 * MiB:
        resp = retrying(
            ctx, uri,
            lambda: client.copy_object(Bucket=db.bucket, Key=dkey, CopySource={"Bucket": sb.bucket, "Key": skey}),
        )
        etag = resp.get("CopyObjectResult", {}).get("ETag", "")
    else:
        retrying(ctx, uri, lambda: client.copy({"Bucket": sb.bucket, "Key": skey}, db.bucket, dkey))
        etag = client.head_object(Bucket=db.bucket, Key=dkey)["ETag"]
    ctx.add_bytes(size)
    return etag.strip('"')


# downloads ---------------------------------------------------------------------------------
@dataclass
class DownloadState:
    """A download into a temporary file beside the destination, with the parts already written."""

    tmp: str
    size: int
    part_size: int
    etag: str | None
    #: part number -> binary MD5 of the bytes written
    done: dict[int, bytes] = field(default_factory=dict)

    def abort(self) -> None:
        """Delete the temporary file."""
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)
        self.done.clear()


def _read_body(body: Any) -> Iterator[bytes]:
    """The chunks of a GET response body (a seam the fault tests use to damage a part in flight)."""
    if hasattr(body, "iter_chunks"):
        return body.iter_chunks(STREAM_CHUNK)
    return _stream_chunks(body)


def _stream_chunks(resp: Any) -> Iterator[bytes]:
    import urllib3

    complete = False
    try:
        yield from resp.stream(STREAM_CHUNK, decode_content=False)
        complete = True
    except urllib3.exceptions.HTTPError as e:
        raise ConnectionError(f"GET body ended early: {type(e).__name__}") from None
    finally:
        if complete:
            resp.release_conn()  # back to the pool for the next GET
        else:
            resp.close()  # unread bytes in flight: this connection cannot be reused


def download(
    ctx: Control,
    sb: Any,
    skey: str,
    size: int,
    etag: str | None,
    target: str,
    *,
    part_size: int,
    executor: Executor,
    state: DownloadState | None,
    on_state: Callable[[DownloadState | None], None],
    durable: bool = True,
) -> tuple[str, str]:
    """Download an S3 object into the local file ``target`` with parallel ranged GETs.

    The parts land in a hidden temporary file that replaces ``target`` only once
    every byte is there and its checksum matches the source ETag (composite
    ETags are rebuilt with the object's own part size).  Returns (source
    checksum, checksum of the bytes written).
    """
    uri = sb.uri(skey)
    verify = getattr(ctx, "verify", True)
    if parts_of(etag):
        from .verify import part_size_of

        psize = part_size_of(sb, skey) or part_size
    elif size <= 4 * part_size:
        psize = max(size, 1)  # one stream: its MD5 is the object's ETag
    else:
        psize = part_size
    ranges = plan_parts(size, psize)
    if state is not None and (state.size != size or state.etag != etag or not os.path.exists(state.tmp)):
        state.abort()
        state = None
    directory = os.path.dirname(target) or "."
    os.makedirs(directory, exist_ok=True)
    if state is None:
        fd0, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=TMP_SUFFIX, dir=directory)
        os.close(fd0)
        state = DownloadState(tmp, size, ranges[0][1], etag)
    on_state(state)
    for n in state.done:
        s, e = ranges[n - 1]
        ctx.add_bytes(e - s)
    fd = os.open(state.tmp, os.O_RDWR)
    stop = threading.Event()
    lock = threading.Lock()
    try:
        if os.fstat(fd).st_size != size:
            os.ftruncate(fd, size)

        def one(n: int, s: int, e: int) -> None:
            if stop.is_set():
                return
            ctx.check()

            def fetch() -> bytes:
                got = 0
                h = hashlib.md5(usedforsecurity=False)
                try:
                    # If-Match: the object must not change between parts.
                    body = get_object(sb, skey, s, e if len(ranges) > 1 else None, etag)
                    for chunk in _read_body(body):
                        ctx.check()
                        if verify:
                            h.update(chunk)
                        os.pwrite(fd, chunk, s + got)
                        got += len(chunk)
                        ctx.add_bytes(len(chunk))
                except BaseException:
                    ctx.add_bytes(-got)
                    raise
                if got != e - s:
                    ctx.add_bytes(-got)
                    raise BackendUnavailable(f"{uri}: part {n} ended after {got} of {e - s} bytes", path=uri)
                return h.digest()

            digest = retrying(ctx, f"{uri} (part {n})", fetch)
            with lock:
                state.done[n] = digest

        todo = [(n, s, e) for n, (s, e) in enumerate(ranges, start=1) if n not in state.done]
        try:
            if len(todo) == 1:
                one(*todo[0])  # a small object: no hop through the part pool
            else:
                _wait_all([executor.submit(one, n, s, e) for n, s, e in todo], stop)
            ctx.check()
        except Cancelled:
            if getattr(ctx, "cancelled", True):
                os.close(fd)
                fd = -1
                state.abort()
                on_state(None)
            raise
        if durable:
            os.fsync(fd)
    finally:
        if fd >= 0:
            os.close(fd)
    digests = [state.done[n] for n in range(1, len(ranges) + 1)]
    if not verify:
        _install(state.tmp, target)
        on_state(None)
        return etag or "", ""
    if parts_of(etag):
        got = composite_etag(digests)
    elif len(digests) == 1:
        got = digests[0].hex()
    else:
        from ..backends.local import LocalBackend

        got = hash_file(LocalBackend("/"), state.tmp)
    if etag and got != etag:
        state.abort()
        on_state(None)
        raise ChecksumMismatch(f"{target}: checksum {got} of the downloaded bytes does not match {uri} ({etag})",
                               path=target)
    _install(state.tmp, target)
    on_state(None)
    return etag or got, got


def _current_umask() -> int:
    # Reading the umask means setting it: do it once, not from many worker threads at a time.
    umask = os.umask(0)
    os.umask(umask)
    return umask


_UMASK = _current_umask()


def _install(tmp: str, target: str) -> None:
    """Give the temporary file the target's mode (or the umask default) and rename it into place."""
    try:
        mode = stat_mod.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    os.chmod(tmp, mode)
    os.replace(tmp, target)


__all__ = [
    "Control",
    "UploadState",
    "DownloadState",
    "transfer_client",
    "retrying",
    "plan_parts",
    "range_reader",
    "upload",
    "download",
    "get_object",
    "server_copy",
]
