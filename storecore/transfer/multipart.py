"""Resumable, verified S3 uploads and downloads with parallel parts and per-part retries.

boto3's TransferManager moves parts in parallel but cannot resume a failed
upload, does not say which parts made it, and verifies nothing end to end.
Here every part carries its checksum (S3 rejects a damaged part, and the
checksum it stored is compared), the parts' checksums give the composite
checksum the finished object must have, and an :class:`UploadState` /
:class:`DownloadState` remembers completed parts so that a retried job sends
only what is missing.

The checksum is a CRC32 (S3's additional checksums) where the endpoint keeps
one: it costs a sixth of the CPU of MD5, which at several hundred MB/s is what
bounds a verified transfer.  An endpoint that ignores CRC32 headers is noticed
on its first reply (no CRC32 echoed) and verified by MD5 and ETag from then on.  A failed
part is retried with exponential backoff; a cancelled transfer aborts its
multipart upload (or deletes its temporary file), so nothing partial remains.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import logging
import os
import random
import stat as stat_mod
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..backends.base import Backend, Entry
from ..errors import BackendUnavailable, Cancelled, ChecksumMismatch, StorecoreError
from ..logs import describe, suppress_logged
from .direct import DirectWriter, aligned_buffer, open_direct, suits_direct
from .verify import (
    composite_etag,
    crc32,
    crc32_b64,
    crc32_combine,
    crc32_composite,
    crc32_parts,
    crc32_text,
    from_s3_crc32,
    parts_of,
)

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
#: S3 allows at most this many parts per upload
MAX_PARTS = 10_000
#: chunk size for streaming a part body to disk (the cancel and pause checks and progress come per chunk): each one
#: is read into a buffer its thread reuses, hashed, and written before the next is read
STREAM_CHUNK = 256 * 1024
#: largest single write into a downloaded file.  The kernel (6.x, ext4) gives a write page-cache folios of the write's
#: size; up to 32 KiB (order 3) they come from the per-CPU lists of recently freed pages, larger ones from the buddy
#: free lists, where a VM's free-page reporting hands blocks back to its host (each page is then faulted in from the
#: host on first touch): the likely cause of the slow rounds below, and the one every measurement here fits.
#: 1 GiB downloads alternated with s5cmd (which writes 32 KiB at a time) on a 2-core VM, kernel 6.18: writes of
#: 256 KiB ran 1,100-1,160 MB/s in most rounds but 430-590 MB/s, at 1.4-2.1 s of system CPU instead of 0.5, in 2
#: rounds of 7 (4 MiB writes: half the rounds); 32 KiB writes ran 926-1,110 MB/s in all 7, s5cmd 990-1,140
WRITE_SLICE = 32 * 1024
TMP_SUFFIX = ".storecore-tmp"


class Control(Protocol):
    """What a transfer needs from its job: cancellation/pause checks, progress and retry counting."""

    retries: int
    max_retries: int
    backoff: float
    @property
    def cancelled(self) -> bool:
        """True when the user cancelled (partial results are then thrown away, not kept for a retry)."""
    #: False to skip checksums (size checks only): faster on a slow CPU, but nothing proves the bytes
    verify: bool
    #: "crc32" (S3 CRC32 checksums where the endpoint keeps them, else MD5) or "md5" (always MD5 / ETag)
    checksum: str

    def check(self) -> None:
        """Raise :class:`Cancelled` when cancelled (a subclass of it while paused: the file is set aside)."""

    def add_bytes(self, n: int) -> None:
        """Count ``n`` more bytes moved (negative to take back a failed attempt's bytes)."""


# clients ----------------------------------------------------------------------------
_clients_lock = threading.Lock()


def transfer_client(backend: Any, *, sign_payload: bool = False) -> Any:
    """A boto3 client for bulk transfers to ``backend``'s endpoint (made by the backend's client factory).

    It has a large connection pool, no built-in retries (parts are retried here
    with backoff, so a dead endpoint fails in seconds rather than minutes) and
    no extra CRC checksums (every part already carries its MD5).  Without
    ``sign_payload`` request bodies are not SHA-256 signed: over plain HTTP
    botocore would otherwise hash every byte a second time (about 0.8 s of CPU
    per GiB), although the Content-MD5 each body carries already makes the
    server refuse damaged bytes.  Bodies sent without a Content-MD5 (size-only
    transfers) use ``sign_payload=True``.
    """
    return backend.transfer_client(sign_payload=sign_payload)


# fast GETs and PUTs ------------------------------------------------------------------------
#: id of a transfer client -> its fast path (None where there is none); clients live as long as the process
_fast_paths: dict[int, Any] = {}


class _Get:
    """Object GETs and PUTs (whole objects, checksummed parts) and listings sent on plain keep-alive connections.

    A botocore ``get_object`` costs about 1.3 ms of CPU (event hooks, request
    building, response parsing), as much as moving a 256 KiB body: for many
    small objects that, not the network, sets the pace.  Signing here (with
    :class:`~.sigv4.Signer` on a custom endpoint: SigV4 headers; on AWS's own
    addressing with the same client's presigner, so that credentials, region
    and addressing are botocore's) and sending on a per-thread keep-alive
    connection (:mod:`.connections`) costs about a tenth of that (0.12 ms of
    CPU for a 256 KiB GET, body included).  Used only where botocore would
    connect directly (no proxy in the environment); elsewhere
    :func:`get_object` calls boto3.
    """

    def __init__(self, client: Any, connections: Any, signer: Any = None) -> None:
        self.client, self.connections, self.signer = client, connections, signer

    def sign(self, method: str, bucket: str, key: str, headers: dict[str, str],
             part: tuple[str, int] | None = None) -> tuple[str, dict[str, str]]:
        """The URL and headers of a ``method`` request on ``key`` that sends ``headers``; ``part``: (upload id,
        part number) of a multipart upload's part (a PUT)."""
        if self.signer is not None:
            query = {"partNumber": str(part[1]), "uploadId": part[0]} if part else None
            return self.signer.sign(method, bucket, key, headers, params=query)
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if headers.get("x-amz-checksum-mode"):
            params["ChecksumMode"] = headers["x-amz-checksum-mode"]
        if headers.get("x-amz-checksum-crc32"):
            params["ChecksumCRC32"] = headers["x-amz-checksum-crc32"]
        op = "get_object" if method == "GET" else "put_object"
        if part:
            op, params["UploadId"], params["PartNumber"] = "upload_part", part[0], part[1]
        return self.client.generate_presigned_url(op, Params=params, ExpiresIn=900), headers

    def __call__(self, bucket: str, key: str, headers: dict[str, str]) -> Any:
        url, send = self.sign("GET", bucket, key, headers)
        resp = self.connections.request("GET", url, headers=send)
        if resp.status in (200, 206):
            return resp
        from botocore.exceptions import ClientError  # here: an import statement costs even when cached

        raise ClientError(_error_body(resp), "GetObject")

    def put(self, bucket: str, key: str, body: bytes, checksum: dict[str, str],
            part: tuple[str, int] | None = None) -> dict[str, Any]:
        """PUT a whole object (or with ``part``, (upload id, part number), one part of a multipart upload) with
        its ``{"ContentMD5": ...}`` or ``{"ChecksumCRC32": ...}`` (the server refuses damaged bytes; ``{}`` for
        none); return ``{"ETag": ..., "ChecksumCRC32": ...}`` as boto3 would."""
        if "ChecksumCRC32" in checksum:
            headers = {"x-amz-checksum-crc32": checksum["ChecksumCRC32"]}  # signed, as every x-amz-* header
        elif "ContentMD5" in checksum:
            headers = {"Content-MD5": checksum["ContentMD5"]}
        else:
            headers = {}  # size checks only
        url, send = self.sign("PUT", bucket, key, headers, part)
        resp = self.connections.request("PUT", url, body=body, headers=send)
        etag = resp.headers.get("ETag")
        if resp.status == 200 and etag:
            resp.read()
            resp.release_conn()
            out = {"ETag": etag}
            if resp.headers.get("x-amz-checksum-crc32"):
                out["ChecksumCRC32"] = resp.headers["x-amz-checksum-crc32"]
            return out
        from botocore.exceptions import ClientError

        raise ClientError(_error_body(resp), "UploadPart" if part else "PutObject")

    def list(self, bucket: str, params: dict[str, str]) -> bytes:
        """The XML body of one ListObjectsV2 page (``params``: its query), signed by :attr:`signer`."""
        from botocore.exceptions import ClientError

        url, send = self.signer.sign("GET", bucket, "", params=params)
        resp = self.connections.request("GET", url, headers=send)
        if resp.status != 200:
            raise ClientError(_error_body(resp), "ListObjectsV2")
        body = resp.read()
        resp.release_conn()
        return body


def list_pages(backend: Any, path: str, first: int, page: int, *, folders: bool = False) -> Iterator[list[Any]]:
    """The files below ``path`` in pages (a first one of ``first`` keys, then ``page``), as the backend's
    :meth:`ls_pages_ramped` gives them, but fetched and parsed here.  ``folders=True``: the folder's own
    entries instead, sub-folders included (a ``/`` delimiter), as :meth:`ls_pages` gives them.

    botocore spends about 0.4 ms of CPU a key on a listing (XML to dicts, every timestamp through
    ``dateutil``): as much as moving a small object.  The same request sent through the fast path's signer
    and read with ElementTree costs a tenth of that.  Where there is no fast path, where the first page is
    refused or nothing is listed, the backend lists (and raises its own errors).
    """
    import datetime
    import urllib.parse
    import xml.etree.ElementTree as ET

    def by_backend() -> Iterator[list[Any]]:
        return backend.ls_pages(path) if folders else backend.ls_pages_ramped(path, first, page)

    fast = _fast_get(backend) if getattr(backend, "supports_s3_api", False) else None
    if fast is None or fast.signer is None:
        yield from by_backend()
        return
    key = backend.key(path)
    params = {"list-type": "2", "prefix": key + "/" if key else "", "max-keys": str(first), "encoding-type": "url"}
    if folders:
        params["delimiter"] = "/"
    unquote = urllib.parse.unquote_plus  # what botocore decodes EncodingType=url keys with
    parse_time = datetime.datetime.fromisoformat
    listed = False
    seen = False  # any key at all (a folder holding only its marker object is an empty folder, not a missing one)
    while True:
        try:
            root = ET.fromstring(fast.list(backend.bucket, params))
        except Exception as e:  # noqa: BLE001 - the backend's listing raises its own, translated errors
            if not listed:
                logger.debug("fast listing of %s refused (%s): the backend lists", backend.uri(key), describe(e))
                yield from by_backend()
                return
            raise _error(e, backend.uri(key)) from e
        ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        out = []
        for c in root.iterfind(ns + "CommonPrefixes"):
            sub = unquote(c.findtext(ns + "Prefix") or "").rstrip("/")
            out.append(Entry(sub, sub.rsplit("/", 1)[-1], None, None, None, True))
        for c in root.iterfind(ns + "Contents"):
            seen = True
            k = unquote(c.findtext(ns + "Key") or "")
            if k.endswith("/"):
                continue  # folder marker objects
            stamp = c.findtext(ns + "LastModified")
            mtime = parse_time(stamp).timestamp() if stamp else None
            out.append(backend._file_entry(k, int(c.findtext(ns + "Size") or 0), mtime, c.findtext(ns + "ETag")))
        if out:
            listed = True
            yield out
        token = root.findtext(ns + "NextContinuationToken")
        if (root.findtext(ns + "IsTruncated") or "").lower() != "true" or not token:
            break
        params["continuation-token"] = token
        params["max-keys"] = str(page)
    if not listed and not seen:
        yield from by_backend()  # nothing there: the backend says what that means


def _error_body(resp: Any) -> dict[str, Any]:
    """botocore's error shape for a refused request, from the start of its XML body (the connection is dropped)."""
    code = ""
    try:
        text = resp.read(64 * 1024).decode("utf-8", "replace")
        if "<Code>" in text:
            code = text.split("<Code>", 1)[1].split("</Code>", 1)[0]
    except ConnectionError:
        pass
    finally:
        resp.close()
    error = {"Code": code or str(resp.status), "Message": code or f"HTTP {resp.status}"}
    return {"Error": error, "ResponseMetadata": {"HTTPStatusCode": resp.status}}


def _fast_get(backend: Any) -> _Get | None:
    """A :class:`_Get` for ``backend``'s endpoint, or None where plain connections cannot stand in for botocore."""
    hit = _fast_by_backend.get(id(backend))
    if hit is not None and hit[0] is backend:
        return hit[1]  # the same backend object (a job's every file): no client lookup per request
    fast = _fast_get_for_client(backend)
    with _clients_lock:
        if len(_fast_by_backend) > 256:
            _fast_by_backend.clear()
        _fast_by_backend[id(backend)] = (backend, fast)
    return fast


#: id(backend) -> (backend, its fast path): the backend is kept so that its id is not reused meanwhile
_fast_by_backend: dict[int, tuple[Any, Any]] = {}


def _fast_get_for_client(backend: Any) -> _Get | None:
    import urllib.parse
    import urllib.request

    client = transfer_client(backend)
    key = id(client)
    if key in _fast_paths:
        return _fast_paths[key]
    endpoint = client.meta.endpoint_url
    parts = urllib.parse.urlsplit(endpoint)
    proxies = urllib.request.getproxies()
    if parts.scheme not in ("http", "https") or (
        proxies.get(parts.scheme) and not urllib.request.proxy_bypass(parts.hostname or "")
    ):
        with _clients_lock:
            _fast_paths[key] = None  # botocore knows best here
        return None
    with _clients_lock:
        if _fast_paths.get(key) is None:
            from .connections import Connections
            from .sigv4 import Signer

            tuning = backend.tuning
            signer = None
            credentials = backend.credentials()
            if backend.endpoint_url and credentials is not None:
                # path-style URLs on a custom endpoint; AWS's own addressing is left to botocore
                signer = Signer(endpoint, client.meta.region_name, credentials)
            _fast_paths[key] = _Get(client, Connections(endpoint, connect_timeout=tuning.connect_timeout,
                                                   read_timeout=tuning.read_timeout), signer)
        return _fast_paths[key]


def get_object(backend: Any, key: str, start: int | None = None, end: int | None = None,
               if_match: str | None = None, *, with_crc32: bool = False) -> Any:
    """GET ``key`` (bytes ``start``..``end``-1 when given) from ``backend``; return a response to stream.

    The result streams through :func:`_read_body`; with ``with_crc32`` the
    object's stored CRC32, if any, is asked for and :func:`response_crc32`
    gives it.  Errors are botocore's (or ``ConnectionError``): :func:`retrying`
    translates them.
    """
    headers: dict[str, str] = {}
    if start is not None and end is not None and end > start:
        headers["Range"] = f"bytes={start}-{end - 1}"
    if if_match:
        headers["If-Match"] = f'"{if_match}"'
    if with_crc32:
        headers["x-amz-checksum-mode"] = "ENABLED"
    fast = _fast_get(backend)
    if fast is not None:
        return fast(backend.bucket, key, headers)
    kwargs: dict[str, Any] = {"Bucket": backend.bucket, "Key": key}
    if "Range" in headers:
        kwargs["Range"] = headers["Range"]
    if if_match:
        kwargs["IfMatch"] = headers["If-Match"]
    if with_crc32:
        kwargs["ChecksumMode"] = "ENABLED"
    resp = transfer_client(backend).get_object(**kwargs)
    body = resp["Body"]
    body.storecore_crc32 = resp.get("ChecksumCRC32")
    return body


def response_crc32(body: Any) -> str | None:
    """The stored CRC32 a GET response reported (``b64`` or ``b64-N``), or None."""
    if hasattr(body, "storecore_crc32"):
        return body.storecore_crc32
    headers = getattr(body, "headers", None)
    return headers.get("x-amz-checksum-crc32") if headers is not None else None


def object_crc32(backend: Any, key: str) -> str | None:
    """The CRC32 the endpoint keeps for ``key`` as a checksum string (``crc32:...``), or None."""
    try:
        head = transfer_client(backend).head_object(Bucket=backend.bucket, Key=key, ChecksumMode="ENABLED")
    except Exception as exc:  # noqa: BLE001 - no additional checksums here: MD5 verifies instead
        logger.debug("object_crc32: caught %s", describe(exc))
        return None
    return from_s3_crc32(head.get("ChecksumCRC32"))


#: ids of transfer clients whose endpoint ignores CRC32 headers (it then gets MD5s)
_no_crc: set[int] = set()


def _uses_crc32(ctx: Control, client: Any) -> bool:
    return ctx.verify and ctx.checksum == "crc32" and id(client) not in _no_crc


def _error(exc: BaseException, uri: str) -> BaseException:
    if isinstance(exc, StorecoreError):
        return exc
    from ..backends.s3_errors import translate

    # botocore's HTTPClientError (a connection lost mid-request) has ``response = None``
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
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
    local = backend.local_path(path)
    if local is not None:
        fd = os.open(local, os.O_RDONLY)
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
    #: part number -> (ETag, binary MD5 of the part or b"", CRC32 of the part or None)
    done: dict[int, tuple[str, bytes, int | None]] = field(default_factory=dict)
    client: Any = None
    bucket: str = ""
    #: True when the upload was created for CRC32 part checksums
    crc32: bool = False

    def abort(self) -> None:
        """Abort the upload on the server (its parts are discarded)."""
        if self.upload_id and self.client is not None:
            with suppress_logged(logger, "abort"):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
        self.upload_id = None
        self.done.clear()


def _send_part(client: Any, **kwargs: Any) -> dict[str, Any]:
    """Send one part (a seam the fault tests use to damage a part in flight).

    With a Content-MD5 or CRC32 it goes through the client's fast path when there is one, as whole objects do
    (:func:`_put_object`): botocore's ``upload_part`` cost 5.6-6.2 ms of CPU for an 8 MiB part here, the
    fast path's PUT 2.9-3.4 ms, about 0.35 s of the 1.1 s a 1 GiB upload costs the client.  Size-only parts
    (no checksum header) keep botocore, whose client for them signs the payload.
    """
    fast = _fast_paths.get(id(client))
    extra = set(kwargs) - {"Bucket", "Key", "Body", "UploadId", "PartNumber"}
    if fast is not None and extra in ({"ContentMD5"}, {"ChecksumCRC32"}):
        return fast.put(kwargs["Bucket"], kwargs["Key"], kwargs["Body"], {k: kwargs[k] for k in extra},
                        part=(kwargs["UploadId"], kwargs["PartNumber"]))
    return client.upload_part(**kwargs)


def _put_object(client: Any, **kwargs: Any) -> dict[str, Any]:
    """Send a whole small object (a seam for the fault tests, as :func:`_send_part`).

    With a Content-MD5 or CRC32 it goes through the client's fast path when there is one (see :class:`_Get`).
    """
    fast = _fast_paths.get(id(client))
    extra = set(kwargs) - {"Bucket", "Key", "Body"}
    if fast is not None and extra in (set(), {"ContentMD5"}, {"ChecksumCRC32"}):
        return fast.put(kwargs["Bucket"], kwargs["Key"], kwargs["Body"], {k: kwargs[k] for k in extra})
    return client.put_object(**kwargs)


def _md5_checked(uri: str, what: str, data: bytes, etag: str) -> tuple[str, str]:
    """(MD5, ETag) of bytes an endpoint stored without a checksum header; raise when they differ."""
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if etag != md5:
        raise ChecksumMismatch(f"{uri}: {what} stored with ETag {etag}, expected {md5}", path=uri)
    return md5, etag


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
    check_source: Callable[[], None] | None = None,
    max_in_flight: int | None = None,
) -> tuple[str, str]:
    """Upload ``size`` bytes from ``read`` to ``db`` (an S3Backend) at ``dkey``; return (source, dest) checksums.

    ``max_in_flight`` caps the parts of this upload read and not yet sent (each is read whole: memory).

    ``check_source()``, when given, runs once every byte was read and before the object is created: it raises
    when the source changed meanwhile (the upload is then aborted: its parts mix two versions).

    Objects up to ``part_size`` go in one PUT; larger ones as a multipart
    upload whose state is handed to ``on_state`` (so the job can resume or
    abort it).  Raises :class:`ChecksumMismatch` when the checksum the server
    stored differs from the checksum of the bytes read.
    """
    if size <= part_size:
        return _put_whole(ctx, read, size, db, dkey, check_source)
    client = transfer_client(db, sign_payload=not ctx.verify)
    _fast_get(db)  # parts with a checksum go through the fast path (see _send_part)
    ranges = plan_parts(size, part_size)
    state = _resumed_or_new(ctx, client, db, dkey, size, ranges, state)
    on_state(state)
    for n in state.done:
        s, e = ranges[n - 1]
        ctx.add_bytes(e - s)
    try:
        _send_parts(ctx, client, read, db, dkey, state, ranges, executor, max_in_flight)
        ctx.check()
    except Cancelled:
        if ctx.cancelled:
            state.abort()
            on_state(None)
        raise
    if check_source is not None:
        try:
            check_source()
        except BaseException:
            state.abort()  # its parts hold two versions of the source: none of them may be resumed
            on_state(None)
            raise
    return _complete(ctx, client, db, dkey, state, on_state)


def _put_whole(ctx: Control, read: Callable[[int, int], bytes], size: int, db: Any, dkey: str,
               check_source: Callable[[], None] | None) -> tuple[str, str]:  # fmt: skip
    """One PUT of the whole object with its CRC32 (or MD5), through the fast path (see :class:`_Get`)."""
    uri = db.uri(dkey)
    data = read(0, size) if size else b""
    if len(data) != size:
        raise ChecksumMismatch(f"{uri}: source gave {len(data)} bytes, expected {size}", path=uri)
    if check_source is not None:
        check_source()
    client = transfer_client(db)  # the fast path signs no payload: the CRC32 or Content-MD5 guards the body
    _fast_get(db)

    def put() -> tuple[str | None, str]:
        if not ctx.verify:
            return None, _put_object(client, Bucket=db.bucket, Key=dkey, Body=data)["ETag"].strip('"')
        if _uses_crc32(ctx, client):
            crc = crc32_b64(crc32(data))
            resp = _put_object(client, Bucket=db.bucket, Key=dkey, Body=data, ChecksumCRC32=crc)
            stored = resp.get("ChecksumCRC32")
            if stored:
                return "crc32:" + crc, "crc32:" + stored
            _no_crc.add(id(client))  # the endpoint ignored the CRC32: its ETag must be our MD5
            return _md5_checked(uri, "object", data, resp["ETag"].strip('"'))
        md5 = hashlib.md5(data, usedforsecurity=False).digest()
        resp = _put_object(client, Bucket=db.bucket, Key=dkey, Body=data, ContentMD5=base64.b64encode(md5).decode())
        return md5.hex(), resp["ETag"].strip('"')

    sums = retrying(ctx, uri, put)
    ctx.add_bytes(size)
    return sums  # type: ignore[no-any-return]


def _resumed_or_new(ctx: Control, client: Any, db: Any, dkey: str, size: int, ranges: list[tuple[int, int]],
                    state: UploadState | None) -> UploadState:  # fmt: skip
    """The upload to continue (``state``, trusting only the parts the server still has) or a new one."""
    crc_mode = _uses_crc32(ctx, client)
    if state is not None and (state.size != size or state.part_size != ranges[0][1] or state.key != dkey
                              or state.crc32 != crc_mode):
        state.abort()
        state = None
    if state is not None and state.upload_id:
        # Trust only the parts the server still has, with the ETag we recorded.
        try:
            listed = _list_parts(client, db.bucket, dkey, state.upload_id)
            state.done = {n: v for n, v in state.done.items() if listed.get(n) == v[0]}
        except Exception as exc:  # noqa: BLE001 - the upload is gone: start over
            logger.debug("upload: caught %s", describe(exc))
            state.upload_id = None
            state.done.clear()
    if state is None or not state.upload_id:
        extra = {"ChecksumAlgorithm": "CRC32"} if crc_mode else {}
        resp = retrying(ctx, db.uri(dkey), lambda: client.create_multipart_upload(Bucket=db.bucket, Key=dkey, **extra))
        state = UploadState(dkey, size, ranges[0][1], resp["UploadId"], client=client, bucket=db.bucket,
                            crc32=crc_mode)
    state.client, state.bucket = client, db.bucket
    return state


def _send_parts(ctx: Control, client: Any, read: Callable[[int, int], bytes], db: Any, dkey: str,
                state: UploadState, ranges: list[tuple[int, int]], executor: Executor,
                max_in_flight: int | None) -> None:  # fmt: skip
    """Send the parts not done yet on ``executor`` (at most ``max_in_flight`` read and unsent), each checked."""
    uri = db.uri(dkey)
    stop = threading.Event()
    lock = threading.Lock()
    gate: Any = threading.BoundedSemaphore(max_in_flight) if max_in_flight else contextlib.nullcontext()

    def one(n: int, s: int, e: int) -> None:
        with gate:
            if stop.is_set():
                return
            ctx.check()
            data = read(s, e)
            if len(data) != e - s:
                raise ChecksumMismatch(f"{uri}: source gave {len(data)} bytes for part {n}, expected {e - s}",
                                       path=uri)
            done = retrying(ctx, f"{uri} (part {n})", lambda: _send_one_part(ctx, client, db, dkey, state, n, data))
            with lock:
                state.done[n] = done
            ctx.add_bytes(e - s)

    futures = [executor.submit(one, n, s, e) for n, (s, e) in enumerate(ranges, start=1) if n not in state.done]
    _wait_all(futures, stop)


def _send_one_part(ctx: Control, client: Any, db: Any, dkey: str, state: UploadState, n: int,
                   data: bytes) -> tuple[str, bytes, int | None]:  # fmt: skip
    """UploadPart ``n`` with its CRC32 (or MD5) and check what the server stored: (ETag, MD5 digest or b"",
    CRC32 or None)."""
    uri, where = db.uri(dkey), f"part {n}"
    kwargs = dict(Bucket=db.bucket, Key=dkey, UploadId=state.upload_id, PartNumber=n, Body=data)
    if not ctx.verify:
        return _send_part(client, **kwargs)["ETag"].strip('"'), b"", None
    if state.crc32 and id(client) not in _no_crc:
        crc = crc32(data)
        resp = _send_part(client, **kwargs, ChecksumCRC32=crc32_b64(crc))
        etag = resp["ETag"].strip('"')
        stored = resp.get("ChecksumCRC32")
        if stored is None:
            _no_crc.add(id(client))  # the endpoint ignored the CRC32: the part's ETag must be our MD5
            return etag, bytes.fromhex(_md5_checked(uri, where, data, etag)[0]), None
        if stored != crc32_b64(crc):
            raise ChecksumMismatch(f"{uri}: {where} stored with CRC32 {stored}, expected {crc32_b64(crc)}", path=uri)
        return etag, b"", crc
    digest = hashlib.md5(data, usedforsecurity=False).digest()
    resp = _send_part(client, **kwargs, ContentMD5=base64.b64encode(digest).decode())
    etag = resp["ETag"].strip('"')
    if etag != digest.hex():
        raise ChecksumMismatch(f"{uri}: {where} stored with ETag {etag}, expected {digest.hex()}", path=uri)
    return etag, digest, None


def _complete(ctx: Control, client: Any, db: Any, dkey: str, state: UploadState,
              on_state: Callable[[UploadState | None], None]) -> tuple[str, str]:  # fmt: skip
    """Complete the upload, abort older ones of the key, and return (checksum of the parts sent, the server's)."""
    uri, upload_id = db.uri(dkey), state.upload_id
    done = [state.done[n] for n in sorted(state.done)]
    parts = [{"PartNumber": n, "ETag": f'"{etag}"', **({"ChecksumCRC32": crc32_b64(crc)} if crc is not None else {})}
             for n, (etag, _md5, crc) in zip(sorted(state.done), done, strict=True)]
    stale = _older_uploads(client, db.bucket, dkey, upload_id)
    resp = retrying(
        ctx, uri,
        lambda: client.complete_multipart_upload(
            Bucket=db.bucket, Key=dkey, UploadId=upload_id, MultipartUpload={"Parts": parts}
        ),
    )
    on_state(None)
    _abort_uploads(client, db.bucket, dkey, stale)
    if done and all(crc is not None for _e, _m, crc in done):
        # each part's CRC32 was checked as it landed; the object's composite one closes the loop
        return crc32_composite(crc for _e, _m, crc in done), from_s3_crc32(resp.get("ChecksumCRC32"))
    etag = resp.get("ETag", "").strip('"')
    expected = composite_etag(md5 for _e, md5, _c in done) if all(md5 for _e, md5, _c in done) else None
    return expected, etag


def _older_uploads(client: Any, bucket: str, key: str, mine: str) -> list[str]:
    """The ids of the open multipart uploads of ``key`` begun before the upload ``mine`` (still open).

    A process killed mid-upload, or a create whose reply was lost with the connection, leaves an upload open
    that no one will continue: once a newer upload of the same key completes, it can only hold stale bytes.
    Uploads begun after ours (another writer) are not listed.
    """
    try:
        resp = client.list_multipart_uploads(Bucket=bucket, Prefix=key)
    except Exception as e:  # noqa: BLE001 - only clean-up depends on it
        logger.info("could not list the multipart uploads of %s: %s", key, e)
        return []
    uploads = [u for u in resp.get("Uploads", []) or [] if u.get("Key") == key]
    started = next((u.get("Initiated") for u in uploads if u.get("UploadId") == mine), None)
    if started is None:
        return []
    return [u["UploadId"] for u in uploads
            if u.get("UploadId") != mine and u.get("Initiated") is not None and u["Initiated"] <= started]


def _abort_uploads(client: Any, bucket: str, key: str, upload_ids: list[str]) -> None:
    for upload_id in upload_ids:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            logger.info("aborted the stale multipart upload %s of %s", upload_id, key)
        except Exception as e:  # noqa: BLE001 - the object is complete; a leftover upload is only clutter
            logger.warning("could not abort the stale multipart upload %s of %s: %s", upload_id, key, e)


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
    #: what the parts are hashed with: "crc32" or "md5"
    checksum: str = "md5"
    #: part number -> CRC32 or binary MD5 of the bytes written
    done: dict[int, bytes | int] = field(default_factory=dict)

    def abort(self) -> None:
        """Delete the temporary file."""
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)
        self.done.clear()


def _read_body(body: Any) -> Iterator[bytes | memoryview]:
    """The chunks of a GET response body, each valid only until the next is asked for (a fast-path response reads
    them into one buffer per thread); a seam the fault tests use to damage a part in flight."""
    if hasattr(body, "iter_chunks"):
        return body.iter_chunks(STREAM_CHUNK)
    return _stream_chunks(body)


#: each thread's buffer for :func:`_stream_chunks`
_chunk_buffers = threading.local()


def _stream_chunks(resp: Any) -> Iterator[memoryview]:
    buffer = getattr(_chunk_buffers, "buffer", None)
    if buffer is None:
        buffer = _chunk_buffers.buffer = aligned_buffer(STREAM_CHUNK)  # aligned for direct writes
    yield from resp.stream_into(buffer)


@dataclass
class _Plan:
    """How one object is fetched: its byte ranges and the checksum the bytes must match."""

    ranges: list[tuple[int, int]]
    #: the source checksum to verify against (a CRC32 or the ETag); a single stream learns it from its GET
    expected: str | None
    etag: str | None
    want_crc: bool


def _plan_download(ctx: Control, sb: Any, skey: str, size: int, etag: str | None, part_size: int, *,
                   first_len: int | None = None, one_stream_up_to: int = 4) -> _Plan:  # fmt: skip
    """Choose the ranges of a download (the object's own part size for a composite ETag, so that part MD5s
    rebuild it; one stream up to ``one_stream_up_to`` parts where only an MD5 can verify it)."""
    want_crc = ctx.verify and ctx.checksum == "crc32"
    head_crc: str | None | bool = False  # False: not asked yet
    if parts_of(etag):
        from .verify import part_size_of

        psize = part_size_of(sb, skey) or part_size
    elif first_len:
        psize = first_len  # the first part is already open: the others follow it
    elif size <= part_size:
        psize = max(size, 1)  # one stream: its MD5 is the object's ETag, its GET carries the CRC32
    elif size <= one_stream_up_to * part_size:
        psize = max(size, 1)
        if want_crc:
            # A whole-object CRC32 can be rebuilt from parts of any size: fetch them in parallel.
            head_crc = object_crc32(sb, skey)
            if head_crc is not None and not crc32_parts(head_crc):
                psize = part_size
    else:
        psize = part_size
    ranges = plan_parts(size, psize)
    expected: str | None = etag
    if want_crc and len(ranges) > 1:
        crc = object_crc32(sb, skey) if head_crc is False else head_crc
        if crc is not None and (crc32_parts(crc) or len(ranges)) == len(ranges):
            expected = crc
    return _Plan(ranges, expected, etag, want_crc)


def _fetch_part(ctx: Control, sb: Any, skey: str, plan: _Plan, n: int,
                write_at: Callable[[bytes | memoryview, int], Any], body: Any = None) -> bytes | int:  # fmt: skip
    """GET part ``n`` of ``plan`` (or read the already open ``body``), hand its bytes to ``write_at(chunk,
    offset)`` as they arrive (a chunk is valid only during that call) and return their CRC32 or MD5 digest; a
    short part is :class:`BackendUnavailable` (retried)."""
    s, e = plan.ranges[n - 1]
    single = len(plan.ranges) == 1
    got = 0
    try:
        if body is None:
            # If-Match: the object must not change between parts.
            body = get_object(sb, skey, s, None if single else e, plan.etag, with_crc32=plan.want_crc and single)
            if single and plan.want_crc:
                crc = from_s3_crc32(response_crc32(body))
                if crc is not None and (crc32_parts(crc) or 1) == 1:
                    plan.expected = crc
        use_crc = plan.expected is not None and plan.expected.startswith("crc32:")
        h = None if use_crc else hashlib.md5(usedforsecurity=False)
        running = 0
        for chunk in _read_body(body):
            ctx.check()
            if not ctx.verify:
                pass
            elif h is None:
                running = crc32(chunk, running)
            else:
                h.update(chunk)
            write_at(chunk, s + got)
            got += len(chunk)
            ctx.add_bytes(len(chunk))
    except BaseException:
        ctx.add_bytes(-got)
        raise
    if got != e - s:
        ctx.add_bytes(-got)
        uri = sb.uri(skey)
        raise BackendUnavailable(f"{uri}: part {n} ended after {got} of {e - s} bytes", path=uri)
    return running if h is None else h.digest()


def _downloaded_checksum(plan: _Plan, digests: list[Any], reread: Callable[[], str]) -> str:
    """The checksum of the bytes fetched, in the form of ``plan.expected`` (``reread()`` hashes them whole
    when only an MD5 of the object can verify parts of another size)."""
    expected = plan.expected
    if expected is not None and expected.startswith("crc32:"):
        if crc32_parts(expected):
            return crc32_composite(digests)
        whole = digests[0]
        for (s, e), crc in zip(plan.ranges[1:], digests[1:], strict=True):
            whole = crc32_combine(whole, crc, e - s)
        return crc32_text(whole)
    if parts_of(plan.etag):
        return composite_etag(digests)
    if len(digests) == 1:
        return digests[0].hex()
    return reread()


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
    fresh: bool = False,
    first: tuple[Any, int] | None = None,
    direct_min: int = 0,
) -> tuple[str, str]:
    """Download an S3 object into the local file ``target`` with parallel ranged GETs.

    The parts land in a hidden temporary file that replaces ``target`` only once
    every byte is there and its checksum matches the source's: the CRC32 the
    endpoint keeps where there is one, else the ETag (composite ETags and
    CRC32s are rebuilt with the object's own part size).  Returns (source
    checksum, checksum of the bytes written).  ``fresh``: the caller found no file at ``target`` (no mode to
    keep: no stat before the rename).  ``first``: an open response for bytes ``[0, n)`` of this version (the
    remote cache's validating GET), used as part 1 where the parts fit it, else closed.  ``direct_min``: an object of
    at least this many bytes is written around the page cache on a local block file system that takes it (see
    :mod:`.direct`; 0: never).

    The bytes are hashed as they arrive (CRC32s of the parts combined into the object's, or MD5s): a file is
    read back only for an MD5-verified object fetched in several ranges without a composite ETag.
    """
    uri = sb.uri(skey)
    plan = _plan_download(ctx, sb, skey, size, etag, part_size, first_len=first[1] if first else None)
    ranges = plan.ranges
    bodies: list[Any] = []
    if first is not None:
        if state is None and ranges[0] == (0, first[1]):
            bodies.append(first[0])
        else:
            first[0].close()
    if state is not None and (state.size != size or state.etag != etag or not os.path.exists(state.tmp)
                              or state.checksum != _kind_of(plan.expected)):
        state.abort()
        state = None
    if state is None:
        fd, tmp = _new_temp(target)
        state = DownloadState(tmp, size, ranges[0][1], etag, checksum=_kind_of(plan.expected))
        resumed = False
    else:
        fd, resumed = os.open(state.tmp, os.O_RDWR), True
    on_state(state)
    for n in state.done:
        s, e = ranges[n - 1]
        ctx.add_bytes(e - s)
    direct: DirectWriter | None = None
    try:
        # Parts land anywhere in the file; one stream writes it from the start.
        if (len(ranges) > 1 or resumed) and os.fstat(fd).st_size != size:
            os.ftruncate(fd, size)
        write_at = _file_writer(fd, parallel=len(ranges) > 1)
        if direct_min and size >= direct_min and suits_direct(fd):
            direct_fd = open_direct(state.tmp, size)
            if direct_fd is not None:
                write_at = direct = DirectWriter(direct_fd, write_at)
        try:
            _fetch_parts(ctx, sb, skey, plan, state, write_at, executor, bodies)
        except Cancelled:
            if ctx.cancelled:
                os.close(fd)
                fd = -1
                state.abort()
                on_state(None)
            raise
        if durable:
            os.fsync(fd)
    finally:
        for body in bodies:
            body.close()
        if direct is not None:
            direct.close()
        if fd >= 0:
            os.close(fd)
    if not ctx.verify:
        _install(state.tmp, target, fresh=fresh)
        on_state(None)
        return etag or "", ""
    digests = [state.done[n] for n in range(1, len(ranges) + 1)]
    got = _downloaded_checksum(plan, digests, lambda: _hash_local(state.tmp))
    if plan.expected and got != plan.expected:
        state.abort()
        on_state(None)
        raise ChecksumMismatch(f"{target}: checksum {got} of the downloaded bytes does not match {uri} "
                               f"({plan.expected})", path=target)
    _install(state.tmp, target, fresh=fresh)
    on_state(None)
    return plan.expected or got, got


def _fetch_parts(ctx: Control, sb: Any, skey: str, plan: _Plan, state: DownloadState,
                 write_at: Callable[[bytes | memoryview, int], Any], executor: Executor, bodies: list[Any]) -> None:  # fmt: skip
    """Fetch the parts of ``plan`` not in ``state.done`` (in parallel on ``executor``; one part on this thread)
    and record each one's digest; ``bodies`` may hold the open response of part 1."""
    uri = sb.uri(skey)
    # A small object is one GET on this thread: no events or locks to make for it.
    stop: Any = threading.Event() if len(plan.ranges) > 1 else _NEVER
    lock: Any = threading.Lock() if len(plan.ranges) > 1 else contextlib.nullcontext()

    def one(n: int) -> None:
        if stop.is_set():
            return
        ctx.check()

        def fetch() -> bytes | int:
            return _fetch_part(ctx, sb, skey, plan, n, write_at, bodies.pop() if n == 1 and bodies else None)

        digest = retrying(ctx, f"{uri} (part {n})", fetch)
        with lock:
            state.done[n] = digest

    todo = [n for n in range(1, len(plan.ranges) + 1) if n not in state.done]
    if len(todo) == 1:
        one(todo[0])  # a small object: no hop through the part pool
    elif todo:
        _wait_all([executor.submit(one, n) for n in todo], stop)
    ctx.check()


def _hash_local(path: str) -> str:
    """The MD5 of a local file, read in the engine's piece size."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while piece := f.read(STREAM_CHUNK):
            h.update(piece)
    return h.hexdigest()


def read_into(ctx: Control, sb: Any, skey: str, size: int, etag: str | None,
              write: Callable[[bytes | bytearray], Any], *,
              part_size: int, executor: Executor, window_bytes: int = 64 * MiB) -> str:  # fmt: skip
    """Stream an S3 object to ``write`` in order: parts of at most ``part_size`` fetched in parallel (pinned to
    one version by ``If-Match``, at most ``window_bytes`` held), each written once whole; return the object's
    checksum once the bytes matched it (:class:`ChecksumMismatch` otherwise, after the bytes were written)."""
    uri = sb.uri(skey)
    plan = _plan_download(ctx, sb, skey, size, etag, part_size, one_stream_up_to=1)
    ranges = plan.ranges
    # A second pass over the bytes (an MD5 of them whole) only where the parts' own checksums cannot be combined
    # into the object's (see _downloaded_checksum): a plain ETag read in several parts.
    combinable = (plan.expected or "").startswith("crc32:") or bool(parts_of(plan.etag))
    whole = hashlib.md5(usedforsecurity=False) if ctx.verify and len(ranges) > 1 and not combinable else None
    stop = threading.Event()

    def fetch(n: int) -> tuple[Any, bytearray]:
        s, e = ranges[n - 1]
        buf = bytearray(e - s)

        def write_at(chunk: bytes | memoryview, offset: int) -> None:
            buf[offset - s : offset - s + len(chunk)] = chunk

        if stop.is_set():
            raise Cancelled(f"{uri}: download stopped")
        return retrying(ctx, f"{uri} (part {n})", lambda: _fetch_part(ctx, sb, skey, plan, n, write_at)), buf

    window = max(1, min(len(ranges), window_bytes // max(1, ranges[0][1] - ranges[0][0])))
    pending = [executor.submit(fetch, n) for n in range(1, min(window, len(ranges)) + 1)] if len(ranges) > 1 else []
    digests: list[Any] = []
    try:
        for n in range(1, len(ranges) + 1):
            digest, buf = pending.pop(0).result() if pending else fetch(n)
            if len(ranges) > 1 and n + window <= len(ranges):
                pending.append(executor.submit(fetch, n + window))
            if whole is not None:
                whole.update(buf)
            write(buf)
            digests.append(digest)
    finally:
        stop.set()
        for future in pending:
            future.cancel()
    if not ctx.verify:
        return etag or ""
    got = _downloaded_checksum(plan, digests, lambda: whole.hexdigest() if whole is not None else "")
    if plan.expected and got != plan.expected:
        raise ChecksumMismatch(f"{uri}: checksum {got} of the bytes read does not match the object's "
                               f"({plan.expected})", path=uri)
    return plan.expected or got


class _Never:
    """A stop flag that is never set (one GET needs none)."""

    @staticmethod
    def is_set() -> bool:
        return False


_NEVER = _Never()


def _file_writer(fd: int, *, parallel: bool) -> Callable[[bytes | memoryview, int], None]:
    """``write_at(chunk, offset)`` into ``fd``, one writer at a time where parts arrive in parallel.

    A buffered write holds the file's inode lock, so writes to one file never overlap anyway; but the kernel
    makes the other writers spin for that lock while its holder runs.  In a slow round of a 1 GiB download on a
    2-core VM (ten parts at once), that spinning was 13 % of all CPU samples.  Waiting on a lock here sleeps.
    """
    if not parallel:
        return lambda chunk, offset: _write_at(fd, chunk, offset)
    lock = threading.Lock()

    def write_at(chunk: bytes | memoryview, offset: int) -> None:
        with lock:
            _write_at(fd, chunk, offset)

    return write_at


def _write_at(fd: int, chunk: bytes | memoryview, offset: int) -> None:
    """Write ``chunk`` at ``offset`` in writes of at most :data:`WRITE_SLICE`, until every byte is written (a
    short write: a signal, a full disk)."""
    view = memoryview(chunk)
    while view:
        n = os.pwrite(fd, view[:WRITE_SLICE], offset)
        view, offset = view[n:], offset + n


def _kind_of(checksum: str | None) -> str:
    return "crc32" if checksum and checksum.startswith("crc32:") else "md5"


_temp_names = itertools.count()
#: this process's id in temporary names (kept, not asked of the kernel for every file; a forked child resets it)
_pid = os.getpid()


def _reset_pid() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pid)


def _new_temp(target: str) -> tuple[int, str]:
    """Create a hidden temporary file beside ``target``; return (descriptor, path).

    Cheaper than :func:`tempfile.mkstemp` (no random names, no second open),
    which shows when thousands of small files arrive; it is created with the
    umask's default mode, so a new file needs no chmod.
    """
    directory = os.path.dirname(target) or "."
    prefix = os.path.join(directory, "." + os.path.basename(target) + f".{_pid}-")
    for attempt in range(2):
        try:
            while True:
                path = f"{prefix}{next(_temp_names)}{TMP_SUFFIX}"
                try:
                    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666), path
                except FileExistsError:
                    continue  # left by an earlier process with this pid
        except FileNotFoundError:
            if attempt:
                raise
            os.makedirs(directory, exist_ok=True)
    raise AssertionError("unreachable")


def _current_umask() -> int:
    # Reading the umask means setting it: do it once, not from many worker threads at a time.
    umask = os.umask(0)
    os.umask(umask)
    return umask


_UMASK = _current_umask()


def _install(tmp: str, target: str, *, fresh: bool = False) -> None:
    """Give the temporary file the target's mode (a new one keeps the umask default) and rename it into place.

    ``fresh``: no file was at ``target`` when the job looked, so there is no mode to keep and no stat to pay.
    """
    mode = None
    if not fresh:
        try:
            mode = stat_mod.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = None
    if mode is not None and mode != 0o666 & ~_UMASK:
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
    "read_into",
    "get_object",
    "response_crc32",
    "object_crc32",
    "server_copy",
]
