"""The S3 backend (AWS and any S3-compatible endpoint) on boto3.

Listings are paginated and streamed; reads are ranged GETs; uploads and
downloads go through boto3's TransferManager (multipart, parallel parts,
failed multipart uploads aborted); copies within one endpoint are server-side.
Credentials live only inside the boto3 session: never in reprs, logs or errors.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, Any

from ..errors import (
    AlreadyExists,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    StorecoreError,
)
from ..tuning import Tuning, tuning_for
from .base import Backend, Entry, ProgressCallback
from .s3_errors import translate

logger = logging.getLogger(__name__)

S3_OPTION_NAMES = (
    "endpoint_url",
    "region_name",
    "profile_name",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
)
#: S3 options that tune transfers; their defaults are the scheme's :class:`~storecore.tuning.Tuning` fields
TUNING_OPTION_NAMES = (
    "multipart_threshold",
    "multipart_chunksize",
    "max_concurrency",
    "max_attempts",
    "connect_timeout",
    "read_timeout",
)
TUNING_DEFAULTS: dict[str, Any] = {k: getattr(tuning_for("s3"), k) for k in TUNING_OPTION_NAMES}
_CREDENTIAL_NAMES = ("profile_name", "aws_access_key_id", "aws_secret_access_key", "aws_session_token")

_clients: dict[tuple, Any] = {}
_sessions: dict[tuple, Any] = {}
_making: dict[tuple, threading.Lock] = {}
_clients_lock = threading.Lock()

def _session(options: dict[str, Any]) -> Any:
    """One boto3 session per set of credentials (named, a profile, or the default chain)."""
    creds = {k: options[k] for k in _CREDENTIAL_NAMES if options.get(k)}
    key = tuple(sorted((k, str(v)) for k, v in creds.items()))
    with _clients_lock:
        if key in _sessions:
            return _sessions[key]
    import boto3

    session = boto3.session.Session(**creds)
    with _clients_lock:
        return _sessions.setdefault(key, session)


def _client(options: dict[str, Any], tuning: Tuning | None = None, *, purpose: str = "default",
            sign_payload: bool = False) -> Any:
    """The boto3 client factory: one client per (endpoint, credentials, options, purpose); clients are thread-safe.

    ``purpose="default"`` is the backend's client (botocore retries, a pool of
    twice ``max_concurrency``); ``"transfer"`` is the transfer engine's (a
    large pool, no botocore retries (the engine retries parts itself), no extra
    CRC checksums, payload signing only with ``sign_payload``).
    """
    tuning = tuning or tuning_for("s3")
    key = (purpose, sign_payload, tuning, *sorted((k, str(v)) for k, v in options.items()))
    with _clients_lock:
        if key in _clients:
            return _clients[key]
        making = _making.setdefault(key, threading.Lock())
    with making:  # many workers start at once: one of them builds the client, the others wait for it
        with _clients_lock:
            if key in _clients:
                return _clients[key]
        client = _new_client(options, tuning, purpose, sign_payload)
        with _clients_lock:
            return _clients.setdefault(key, client)


def _new_client(options: dict[str, Any], tuning: Tuning, purpose: str, sign_payload: bool) -> Any:
    from botocore.config import Config

    addressing = {"addressing_style": "path"} if options.get("endpoint_url") else {}
    if purpose == "transfer":
        session = _session(options)
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=options.get("connect_timeout", tuning.connect_timeout),
            read_timeout=options.get("read_timeout", tuning.read_timeout),
            max_pool_connections=tuning.transfer_pool_size,
            s3={"payload_signing_enabled": sign_payload, **addressing},
            signature_version="s3v4",
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
    else:
        try:
            session = _session(options)
        except Exception as e:  # ProfileNotFound and friends
            raise InvalidArgument(f"cannot set up S3 credentials: {type(e).__name__}: {e}") from e
        config = Config(
            retries={"max_attempts": int(options.get("max_attempts", tuning.max_attempts)), "mode": "standard"},
            connect_timeout=options.get("connect_timeout", tuning.connect_timeout),
            read_timeout=options.get("read_timeout", tuning.read_timeout),
            max_pool_connections=max(tuning.pool_size, 2 * int(options.get("max_concurrency", tuning.max_concurrency))),
            s3=addressing,
            signature_version="s3v4",
        )
    return session.client(
        "s3",
        endpoint_url=options.get("endpoint_url") or None,
        region_name=options.get("region_name") or ("us-east-1" if options.get("endpoint_url") else None),
        config=config,
    )


class S3Backend(Backend):
    """One bucket on an S3-compatible endpoint.

    ``options`` are boto3's names (``endpoint_url``, ``region_name``,
    ``profile_name``, ``aws_access_key_id``, ``aws_secret_access_key``,
    ``aws_session_token``) plus tuning: ``multipart_threshold``,
    ``multipart_chunksize``, ``max_concurrency``, ``max_attempts`` (retries with
    backoff on throttling and 5xx), ``connect_timeout``, ``read_timeout``.
    Without keys the usual AWS chain (environment, ``~/.aws``, instance role) applies.
    """

    scheme = "s3"
    block_size = tuning_for("s3").read_block_size
    is_remote = True
    supports_server_side_copy = True
    supports_multipart = True
    supports_checksums = True
    supports_prefix_listing = True
    implicit_folders = True
    supports_s3_api = True

    def __init__(self, bucket: str, *, scheme: str = "s3", **options: Any) -> None:
        unknown = set(options) - set(S3_OPTION_NAMES) - set(TUNING_OPTION_NAMES)
        if unknown:
            raise InvalidArgument(f"unknown S3 options: {', '.join(sorted(unknown))}")
        self.bucket = bucket
        self.scheme = scheme
        self._options = options
        #: the scheme's :class:`~storecore.tuning.Tuning`, with this backend's tuning options applied
        self._tuning = tuning_for(scheme).replace(**{k: options[k] for k in TUNING_OPTION_NAMES if k in options})
        self.endpoint_url = options.get("endpoint_url")

    @property
    def tuning(self) -> Tuning:
        """The tuning this backend uses (``tuning["max_concurrency"]`` works as well)."""
        return self._tuning

    # connection -----------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The boto3 S3 client (created on first use, shared by backends with the same options)."""
        return _client(self._options, self._tuning)

    def transfer_client(self, *, sign_payload: bool = False) -> Any:
        """The transfer engine's client for this endpoint (see :func:`_client`, ``purpose="transfer"``)."""
        return _client(self._options, self._tuning, purpose="transfer", sign_payload=sign_payload)

    def credentials(self) -> Any:
        """The botocore credentials this backend signs with (None when the chain finds none)."""
        return _session(self._options).get_credentials()

    @property
    def connection_options(self) -> dict[str, Any]:
        """The connection options as given (boto3 names, credentials included: never log them)."""
        return {k: v for k, v in self._options.items() if k in S3_OPTION_NAMES}

    @property
    def storage_options(self) -> dict[str, Any]:
        """Endpoint, region and credentials (boto3 names), the credentials resolved as the backend resolves them."""
        opts = self.connection_options
        out: dict[str, Any] = {}
        key, secret, token = opts.get("aws_access_key_id"), opts.get("aws_secret_access_key"), opts.get("aws_session_token")
        if not key:
            # Profiles and the default chain: resolved by the backend's own session.
            creds = _session(opts).get_credentials()
            if creds is not None:
                frozen = creds.get_frozen_credentials()
                key, secret, token = frozen.access_key, frozen.secret_key, frozen.token
        if key:
            out["aws_access_key_id"] = key
            out["aws_secret_access_key"] = secret or ""
        if token:
            out["aws_session_token"] = token
        if opts.get("endpoint_url"):
            out["endpoint_url"] = opts["endpoint_url"]
        out["region_name"] = opts.get("region_name") or self.client.meta.region_name or "us-east-1"
        return out

    def same_service(self, other: Backend) -> bool:
        """True when ``other`` reaches the same endpoint with the same credentials (server-side copy works)."""
        return isinstance(other, S3Backend) and self.connection_options == other.connection_options

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        try:
            yield
        except StorecoreError:
            raise
        except Exception as e:
            raise translate(e, self.uri(key)) from e

    def create_bucket(self, exist_ok: bool = True) -> None:
        """Create this backend's bucket."""
        with self._errors(""):
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except Exception as e:
                code = (getattr(e, "response", None) or {}).get("Error", {}).get("Code", "")
                if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists") and exist_ok:
                    return
                if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise AlreadyExists(f"{self.uri('')}: bucket exists", path=self.uri("")) from e
                raise

    # primitives ------------------------------------------------------------------
    @staticmethod
    def _etag(raw: str | None) -> str | None:
        return raw.strip('"') if raw else None

    def _file_entry(self, key: str, size: int, mtime: Any, etag: str | None) -> Entry:
        ts = mtime.timestamp() if isinstance(mtime, _dt.datetime) else mtime
        return Entry(key, key.rsplit("/", 1)[-1], int(size), ts, self._etag(etag), False)

    def ls_pages(self, prefix: str = "", recursive: bool = False) -> Iterator[list[Entry]]:
        key = self.key(prefix)
        pfx = key + "/" if key else ""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": pfx}
        if not recursive:
            kwargs["Delimiter"] = "/"
        seen_any = False
        with self._errors(key):
            pages = self.client.get_paginator("list_objects_v2").paginate(**kwargs)
            for page in pages:
                out: list[Entry] = []
                for cp in page.get("CommonPrefixes", []) or []:
                    p = cp["Prefix"].rstrip("/")
                    out.append(Entry(p, p.rsplit("/", 1)[-1], None, None, None, True))
                for obj in page.get("Contents", []) or []:
                    k = obj["Key"]
                    seen_any = True
                    if k.endswith("/"):
                        continue  # folder marker objects
                    out.append(self._file_entry(k, obj["Size"], obj.get("LastModified"), obj.get("ETag")))
                seen_any = seen_any or bool(out)
                if out:
                    yield out
        if not seen_any and key:
            entry = self.stat(key)  # NotFound when nothing is there
            if not entry.is_dir:
                raise NotADirectory(f"{self.uri(key)}: not a directory", path=self.uri(key))

    def stat(self, path: str) -> Entry:
        key = self.key(path)
        with self._errors(key):
            if not key:
                self.client.head_bucket(Bucket=self.bucket)
                return Entry("", self.bucket, None, None, None, True)
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=key)
                return self._file_entry(key, head["ContentLength"], head.get("LastModified"), head.get("ETag"))
            except Exception as e:
                err = translate(e, self.uri(key))
                if not isinstance(err, NotFound):
                    raise
            resp = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key + "/", MaxKeys=1)
            if resp.get("KeyCount", 0) or resp.get("Contents"):
                return Entry(key, key.rsplit("/", 1)[-1], None, None, None, True)
            # A missing bucket must say so, not "no such object".
            self.client.head_bucket(Bucket=self.bucket)
        raise NotFound(f"{self.uri(key)}: no such object", path=self.uri(key))

    def _read_range(self, path: str, start: int, end: int | None) -> bytes:
        key = self.key(path)
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
        with self._errors(key):
            try:
                return self.client.get_object(**kwargs)["Body"].read()
            except Exception as e:
                code = (getattr(e, "response", None) or {}).get("Error", {}).get("Code", "")
                if code == "InvalidRange":
                    self._check_file(key)
                    return b""
                err = translate(e, self.uri(key))
                if isinstance(err, NotFound) and self.is_dir(key):
                    raise IsADirectory(f"{self.uri(key)}: is a directory", path=self.uri(key)) from e
                raise

    def open_stream(self, path: str) -> IO[bytes]:
        key = self.key(path)
        with self._errors(key):
            try:
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            except Exception as e:
                if isinstance(translate(e, self.uri(key)), NotFound) and self.is_dir(key):
                    raise IsADirectory(f"{self.uri(key)}: is a directory", path=self.uri(key)) from e
                raise

    def read_to(self, path: str, fileobj: IO[bytes], *, progress: ProgressCallback | None = None) -> int:
        """Stream the object into ``fileobj`` through the transfer engine (parallel ranged GETs, verified)."""
        from ..transfer.objects import download
        from ..transfer.verify import content_etag

        entry = self._check_file(path)
        with self._errors(entry.path):
            download(self, entry.path, fileobj.write, size=entry.size or 0, etag=content_etag(entry), progress=progress)
        return entry.size or 0

    def write_from(
        self, path: str, fileobj: IO[bytes], *, progress: ProgressCallback | None = None, size: int | None = None
    ) -> None:
        """Store ``fileobj`` at ``path`` through the transfer engine (checksummed parts; nothing left on failure).

        A stream of unknown ``size`` is spooled first (memory, then a temporary file).
        """
        from ..transfer.objects import StreamParts, upload, upload_part_size

        key = self._writable_key(path)
        part_size = upload_part_size(self.tuning)
        with contextlib.ExitStack() as stack:
            if size is None:
                fileobj, size = stack.enter_context(_spooled(fileobj, part_size))
            reader = StreamParts(fileobj, size, part_size)
            with self._errors(key):
                upload(self, key, reader, size, progress=progress,
                               check_source=lambda: reader.check_end(self.uri(key)))

    def _writable_key(self, path: str) -> str:
        key = self.key(path)
        if not key:
            raise InvalidArgument(f"{self.uri('')}: cannot write to the bucket root")
        return key

    def upload_file(self, filename: str, path: str, *, progress: ProgressCallback | None = None) -> None:
        """Upload a local file through the transfer engine (parts read from disk as they are sent: memory stays
        small); a file rewritten meanwhile fails the upload."""
        from ..transfer.multipart import range_reader
        from ..transfer.objects import upload
        from ..transfer.onefile import source_guard
        from .local import LocalBackend

        key = self._writable_key(path)
        folder, name = os.path.split(os.path.abspath(filename))
        local = LocalBackend(folder)
        size = os.path.getsize(filename)
        with self._errors(key), range_reader(local, name) as read:
            upload(self, key, read, size, progress=progress, check_source=source_guard(local, name))

    def abort_uploads(self, key: str, since: _dt.datetime | None = None) -> int:
        """Abort pending multipart uploads of ``key`` (started after ``since``); return how many."""
        n = 0
        try:
            resp = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
            for up in resp.get("Uploads", []) or []:
                if up.get("Key") != key:
                    continue
                initiated = up.get("Initiated")
                if since is not None and isinstance(initiated, _dt.datetime) and initiated < since:
                    continue
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=up["UploadId"])
                n += 1
        except Exception as e:  # noqa: BLE001 - best effort: a failed upload is reported by its caller
            logger.warning("could not abort pending uploads of %s: %s", self.uri(key), type(e).__name__)
        return n

    def mkdir(self, path: str, exist_ok: bool = True) -> None:
        key = self.key(path)
        if not key:
            self.create_bucket(exist_ok=exist_ok)
            return
        try:
            entry = self.stat(key)
        except NotFound:
            entry = None
        if entry is not None:
            if not entry.is_dir:
                raise AlreadyExists(f"{self.uri(key)}: an object exists there", path=self.uri(key))
            if not exist_ok:
                raise AlreadyExists(f"{self.uri(key)}: already exists", path=self.uri(key))
            return
        with self._errors(key):
            self.client.put_object(Bucket=self.bucket, Key=key + "/", Body=b"")

    def delete(self, path: str, recursive: bool = True) -> None:
        key = self.key(path)
        if not key:
            raise InvalidArgument(f"refusing to delete the whole bucket {self.uri('')}")
        entry = self.stat(key)
        with self._errors(key):
            if not entry.is_dir:
                self.client.delete_object(Bucket=self.bucket, Key=key)
                return
            batch: list[dict[str, str]] = []
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key + "/")
            for page in pages:
                contents = page.get("Contents", []) or []
                if not recursive and any(o["Key"] != key + "/" for o in contents):
                    raise AlreadyExists(f"{self.uri(key)}: directory not empty", path=self.uri(key))
                for obj in contents:
                    batch.append({"Key": obj["Key"]})
                    if len(batch) == 1000:
                        self._delete_batch(batch)
                        batch = []
            if batch:
                self._delete_batch(batch)

    def _delete_batch(self, batch: list[dict[str, str]]) -> None:
        resp = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        errors = resp.get("Errors") or []
        if errors:
            first = errors[0]
            raise StorecoreError(f"{self.uri(first.get('Key', ''))}: delete failed: {first.get('Code')}")

    def find_prefixed(self, key: str, suffixes: Any = ()) -> list[tuple[str, str]]:
        """One prefix listing (``key.``): the objects beside ``key`` whose name starts with its name and a dot."""
        key = self.key(key)
        parent = key.rsplit("/", 1)[0] if "/" in key else ""
        found: list[tuple[str, str]] = []
        with self._errors(key):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key + ".")
            for page in pages:
                for obj in page.get("Contents", []) or []:
                    rest = obj["Key"][len(parent) + 1 :] if parent else obj["Key"]
                    if "/" not in rest:
                        found.append((rest, obj["Key"]))
        return found

    def ls_pages_ramped(self, prefix: str, first: int, page: int) -> Iterator[list[Entry]]:
        """A recursive listing whose first page holds ``first`` keys, the next ones ``page``.

        Some S3 servers take time in proportion to the keys a page returns
        (SeaweedFS: about 0.5 ms a key): a small first page brings the first entries sooner.
        """
        key = self.key(prefix)
        kwargs: dict = {"Bucket": self.bucket, "Prefix": key + "/" if key else "", "MaxKeys": first}
        seen_any = False
        with self._errors(key):
            while True:
                resp = self.client.list_objects_v2(**kwargs)
                contents = resp.get("Contents") or []
                seen_any = seen_any or bool(contents)
                out = [
                    self._file_entry(o["Key"], o["Size"], o.get("LastModified"), o.get("ETag"))
                    for o in contents
                    if not o["Key"].endswith("/")  # folder marker objects
                ]
                if out:
                    yield out
                if not resp.get("IsTruncated") or not resp.get("NextContinuationToken"):
                    break
                kwargs["ContinuationToken"] = resp["NextContinuationToken"]
                kwargs["MaxKeys"] = page
        if not seen_any and key and not self.stat(key).is_dir:  # stat raises NotFound when nothing is there
            raise NotADirectory(f"{self.uri(key)}: not a directory", path=self.uri(key))

    def part_size_of(self, path: str) -> int | None:
        """The size of part 1 of a multipart object (what its composite ETag was built with), else None."""
        key = self.key(path)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key, PartNumber=1)
        except Exception as e:  # noqa: BLE001 - servers without PartNumber support: no composite checksum
            logger.debug("no part size for %s: %s", self.uri(key), type(e).__name__)
            return None
        return int(head["ContentLength"]) if head.get("PartsCount") else None

    # server-side copies ----------------------------------------------------------------
    def copy_object_from(self, source: S3Backend, src: str, dst: str, *, progress: ProgressCallback | None = None) -> None:
        """Server-side copy of one object from ``source`` (same endpoint) to ``dst`` here."""
        skey, dkey = source.key(src), self.key(dst)
        entry = source.stat(skey)
        if entry.is_dir:
            raise IsADirectory(f"{source.uri(skey)}: is a directory", path=source.uri(skey))
        from ..transfer.multipart import server_copy
        from ..transfer.objects import Standalone

        ctx = Standalone(progress, entry.size)
        with self._errors(dkey):
            server_copy(ctx, source, skey, self, dkey, entry.size or 0)

    def _copy_file(self, src: str, dst: str, progress: ProgressCallback | None) -> None:
        self.copy_object_from(self, src, dst, progress=progress)

    def __repr__(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"<S3Backend {self.scheme}://{self.bucket} at {where}>"


@contextlib.contextmanager
def _spooled(stream: IO[bytes], in_memory: int) -> Iterator[tuple[IO[bytes], int]]:
    """``stream`` copied into a spooled temporary file (memory up to ``in_memory`` bytes), and its size."""
    with tempfile.SpooledTemporaryFile(max_size=in_memory) as spool:
        while piece := stream.read(1 << 20):
            spool.write(piece)
        size = spool.tell()
        spool.seek(0)
        yield spool, size  # type: ignore[misc]
