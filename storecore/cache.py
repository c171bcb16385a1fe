"""A persistent on-disk cache of remote objects, validated by ETag.

:meth:`RemoteCache.local_path` returns a local file holding a fresh copy of a
remote object.  Reopening an object already cached costs one small request: a
conditional GET (``If-None-Match``) on S3, which answers "not modified" without
a body, or a metadata ``stat`` on other backends.  A changed object is fetched
again.  Local paths are returned as they are (nothing to cache).

Layout: one metadata file (``<sha256(uri)>.json``) per URI naming its data file
(``<sha256(uri)>.<etag hash>.data``).  Downloads go to a private temporary file
that is renamed into place only when complete, and the metadata is renamed
after it, so two processes filling the same entry at once are safe and a
partial download is never served.  Entries older than ``expiry_hours`` (0 =
never) are refetched; when the cache holds more than ``max_bytes`` the least
recently used entries are evicted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .backends.base import COPY_BUFSIZE, Backend
from .backends.registry import backend_for
from .errors import InvalidArgument, NotFound, StorecoreError

DEFAULT_MAX_BYTES = 10 * 1024**3
#: Leftover temporary downloads older than this are removed by :meth:`RemoteCache.cleanup`.
STALE_PART_SECONDS = 3600
_PART = ".part"
#: A fill rescans the cache (for the size cap) at least this often.
RESCAN_EVERY = 256


def default_directory() -> str:
    """The per-user cache folder (``platformdirs.user_cache_dir("storescope")/remote``)."""
    import platformdirs

    return os.path.join(platformdirs.user_cache_dir("storescope"), "remote")


@dataclass(frozen=True)
class CacheEntry:
    """What the cache holds for one URI."""

    uri: str
    etag: str | None
    size: int
    fetched: float
    last_used: float
    path: str


class _EngineFill:
    """An S3 object to be fetched by the transfer engine (parallel ranged GETs pinned to one version by
    If-Match, checksum verified); ``first`` is the validating request's open response for its first part."""

    def __init__(self, backend: Any, key: str, etag: str, size: int, first: Any = None, first_len: int = 0) -> None:
        self.backend, self.key, self.etag, self.size = backend, key, etag, int(size)
        self.first = (first, int(first_len)) if first is not None else None

    def download_to(self, path: str) -> None:
        """Fill the local file ``path`` (a change of the object meanwhile fails the download: 412)."""
        from .transfer.objects import download_file

        download_file(self.backend, self.key, path, size=self.size, etag=self.etag, first=self.first)


def part_size(backend: Any) -> int:
    """Bytes per ranged GET when filling the cache from S3 (the backend's ``Tuning.multipart_chunksize``)."""
    return max(1024 * 1024, int(backend.tuning.multipart_chunksize))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RemoteCache:
    """On-disk cache of remote objects keyed by URI (see the module docstring).

    ``directory`` defaults to :func:`default_directory`; ``max_bytes`` caps the
    total size (least-recently-used eviction); ``expiry_hours`` makes entries
    older than that be fetched again (0 = never expire).  Counters ``hits``,
    ``misses`` and ``validations`` tell what happened.
    """

    def __init__(
        self, directory: str | os.PathLike[str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES, expiry_hours: float = 0
    ) -> None:
        if max_bytes <= 0:
            raise InvalidArgument(f"max_bytes must be positive, got {max_bytes}")
        if expiry_hours < 0:
            raise InvalidArgument(f"expiry_hours must be >= 0 (0 = never expire), got {expiry_hours}")
        self.directory = os.path.abspath(os.fspath(directory)) if directory is not None else default_directory()
        self.max_bytes = int(max_bytes)
        self.expiry_hours = float(expiry_hours)
        self.hits = 0
        self.misses = 0
        self.validations = 0
        self._lock = threading.Lock()
        # Running estimate of the total size, so a fill does not rescan the whole cache;
        # refreshed by a full scan when it nears the cap and every RESCAN_EVERY fills
        # (other processes may fill the same cache).
        self._estimate: int | None = None
        self._fills_since_scan = 0
        os.makedirs(self.directory, exist_ok=True)

    # -- public API -------------------------------------------------------------------
    def local_path(self, uri: str | os.PathLike[str], *, refresh: bool = False) -> str:
        """A local file path holding a fresh copy of ``uri``.

        Local locations are returned as they are.  ``refresh=True`` skips the
        cached copy and fetches the object again.
        """
        backend, loc = backend_for(uri)
        local = backend.local_path(loc.path)
        if local is not None:
            return local
        key = str(loc.outer)
        entry = None if refresh else self._read_meta(key)
        if entry is not None and self._expired(entry):
            entry = None
        misses = self.misses
        path = self._validate_or_fetch(backend, loc.path, key, entry)
        if self.misses != misses:
            self._after_fill(path)  # only a download can push the cache over its cap
        return path

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, least recently used first."""
        out = []
        for meta in self._meta_files():
            entry = self._load_meta(meta)
            if entry is not None and os.path.exists(entry.path):
                out.append(entry)
        return sorted(out, key=lambda e: e.last_used)

    def total_bytes(self) -> int:
        """Bytes held by complete entries."""
        return sum(e.size for e in self.entries())

    def invalidate(self, uri: str | os.PathLike[str]) -> None:
        """Forget the cached copy of ``uri`` (no error when there is none)."""
        _, loc = backend_for(uri)
        entry = self._read_meta(str(loc.outer))
        self._remove(_digest(str(loc.outer)), entry)
        self._estimate = None

    def clear(self) -> None:
        """Remove every entry."""
        for meta in self._meta_files():
            self._remove(os.path.basename(meta)[: -len(".json")], self._load_meta(meta))
        self._estimate = None

    def cleanup(self) -> int:
        """Remove expired entries, stale temporary downloads and orphans, then enforce ``max_bytes``.

        Returns the number of files removed.
        """
        removed = 0
        now = time.time()
        live: set[str] = set()
        for meta in self._meta_files():
            entry = self._load_meta(meta)
            digest = os.path.basename(meta)[: -len(".json")]
            if entry is None or self._expired(entry) or not os.path.exists(entry.path):
                removed += self._remove(digest, entry)
            else:
                live.add(entry.path)
                live.add(meta)
        for path in self._files():
            if path in live or path.endswith(".json"):
                continue
            try:
                age = now - os.stat(path).st_mtime
            except FileNotFoundError:
                continue
            # A fresh .part may belong to a download in progress (another process).
            if not path.endswith(_PART) or age > STALE_PART_SECONDS:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    removed += 1
        removed += self._evict()
        return removed

    # -- internals ---------------------------------------------------------------------
    def _expired(self, entry: CacheEntry) -> bool:
        return self.expiry_hours > 0 and time.time() - entry.fetched > self.expiry_hours * 3600

    def _meta_path(self, digest: str) -> str:
        return os.path.join(self.directory, digest[:2], digest + ".json")

    def _files(self) -> Iterator[str]:
        with contextlib.suppress(FileNotFoundError):
            for sub in os.scandir(self.directory):
                if sub.is_dir():
                    with contextlib.suppress(FileNotFoundError):
                        for f in os.scandir(sub.path):
                            yield f.path

    def _meta_files(self) -> list[str]:
        return [p for p in self._files() if p.endswith(".json")]

    def _load_meta(self, meta_path: str) -> CacheEntry | None:
        try:
            with open(meta_path, encoding="utf-8") as f:
                raw = json.load(f)
            path = os.path.join(os.path.dirname(meta_path), raw["file"])
            last_used = os.stat(path).st_mtime if os.path.exists(path) else raw["fetched"]
            return CacheEntry(raw["uri"], raw.get("etag"), int(raw["size"]), float(raw["fetched"]), last_used, path)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or unreadable metadata: treated as not cached

    def _read_meta(self, key: str) -> CacheEntry | None:
        entry = self._load_meta(self._meta_path(_digest(key)))
        if entry is None or entry.uri != key or not os.path.exists(entry.path):
            return None
        return entry

    def _remove(self, digest: str, entry: CacheEntry | None) -> int:
        n = 0
        for path in (self._meta_path(digest), entry.path if entry else None):
            if path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    n += 1
        return n

    def _touch(self, path: str) -> None:
        with contextlib.suppress(OSError):
            os.utime(path)  # mtime of the data file is the LRU clock

    def _validate_or_fetch(self, backend: Backend, path: str, key: str, entry: CacheEntry | None) -> str:
        if backend.supports_s3_api:
            # an S3-compatible service: a conditional, ranged GET validates and starts the fill at once
            return self._s3_conditional_get(backend, path, key, entry)
        if entry is not None:
            self.validations += 1
            try:
                current = backend.stat(path)
            except NotFound:
                self._remove(_digest(key), entry)  # the object is gone: so is its copy
                raise
            if current.etag is not None and current.etag == entry.etag:
                self.hits += 1
                self._touch(entry.path)
                return entry.path
        stat = backend._check_file(path)
        with backend.open_stream(path) as body:
            return self._store(key, stat.etag, body)

    def _s3_conditional_get(self, backend: Any, path: str, key: str, entry: CacheEntry | None) -> str:
        """One GET of the first part, conditional on the cached ETag: 304 = fresh; else it starts the fill."""
        from .backends.s3_errors import translate

        s3key = backend.key(path)
        part = part_size(backend)
        kwargs: dict[str, Any] = {"Bucket": backend.bucket, "Key": s3key, "Range": f"bytes=0-{part - 1}"}
        if entry is not None and entry.etag:
            kwargs["IfNoneMatch"] = f'"{entry.etag}"'
            self.validations += 1
        resp = None
        for _attempt in range(2):
            try:
                resp = backend.client.get_object(**kwargs)
                break
            except Exception as e:
                status = str(getattr(e, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
                code = str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))
                if entry is not None and (status == "304" or code in ("304", "NotModified")):
                    self.hits += 1
                    self._touch(entry.path)
                    return entry.path
                if code == "InvalidRange" and "Range" in kwargs:
                    kwargs.pop("Range")  # an empty object has no byte 0
                    continue
                err = translate(e, backend.uri(s3key))
                if isinstance(err, NotFound) and entry is not None:
                    self._remove(_digest(key), entry)  # the object is gone: so is its copy
                if isinstance(err, NotFound) and backend.is_dir(s3key):
                    from .errors import IsADirectory

                    raise IsADirectory(f"{backend.uri(s3key)}: is a directory", path=backend.uri(s3key)) from e
                raise err from e
        assert resp is not None
        etag = (resp.get("ETag") or "").strip('"') or None
        body = resp["Body"]
        if entry is not None and etag is not None and etag == entry.etag:
            # A server that ignores If-None-Match: same ETag, so drop the (at most one part) body.
            body.close()
            self.hits += 1
            self._touch(entry.path)
            return entry.path
        first_len = int(resp.get("ContentLength") or 0)
        content_range = resp.get("ContentRange") or ""
        total = int(content_range.rsplit("/", 1)[1]) if "/" in content_range else first_len
        try:
            if total > first_len and etag:
                # The rest in parallel ranged GETs pinned to this version, while the first part streams.
                source: Any = _EngineFill(backend, s3key, etag, total, body, first_len)
            elif total > first_len:
                body.close()
                source = backend.client.get_object(Bucket=backend.bucket, Key=s3key)["Body"]
            else:
                source = body
            return self._store(key, etag, source, expected=total, uri=backend.uri(s3key))
        except StorecoreError:
            raise
        except Exception as e:
            raise translate(e, backend.uri(s3key)) from e
        finally:
            body.close()

    def _store(self, key: str, etag: str | None, body: Any, *, expected: int | None = None, uri: str = "") -> str:
        """Write ``body`` to a private temp file, then rename it and its metadata into place."""
        self.misses += 1
        digest = _digest(key)
        folder = os.path.dirname(self._meta_path(digest))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=digest[:16] + ".", suffix=_PART)
        try:
            size = 0
            if isinstance(body, _EngineFill):
                os.close(fd)
                body.download_to(tmp)  # written whole (and synced) or not at all
                size = os.path.getsize(tmp)
            else:
                with os.fdopen(fd, "wb") as out:
                    while True:
                        chunk = body.read(COPY_BUFSIZE)
                        if not chunk:
                            break
                        out.write(chunk)
                        size += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            if expected is not None and size != int(expected):
                from .errors import ChecksumMismatch

                raise ChecksumMismatch(f"{uri or key}: got {size} of {expected} bytes; not cached", path=uri or key)
            tag = hashlib.sha1((etag or f"size-{size}-{time.time_ns()}").encode(), usedforsecurity=False).hexdigest()[:16]
            data_name = f"{digest}.{tag}.data"
            data_path = os.path.join(folder, data_name)
            os.replace(tmp, data_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        previous = self._read_meta(key)
        if self._estimate is not None:
            self._estimate += size - (previous.size if previous is not None else 0)
        meta = {"uri": key, "etag": etag, "size": size, "fetched": time.time(), "file": data_name}
        fd, mtmp = tempfile.mkstemp(dir=folder, prefix=digest[:16] + ".", suffix=_PART)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(meta, f)
        os.replace(mtmp, self._meta_path(digest))
        if previous is not None and previous.path != data_path:
            # The old version's data file; a reader holding it open keeps its data (POSIX).
            with contextlib.suppress(OSError):
                os.unlink(previous.path)
        return data_path

    def _after_fill(self, path: str) -> None:
        self._fills_since_scan += 1
        if (
            self._estimate is None
            or self._estimate > self.max_bytes
            or self._fills_since_scan >= RESCAN_EVERY
        ):
            self._evict(keep=path)

    def _evict(self, keep: str | None = None) -> int:
        """Remove least-recently-used entries until the total fits ``max_bytes`` (a full scan)."""
        with self._lock:
            entries = self.entries()
            total = sum(e.size for e in entries)
            removed = 0
            for entry in entries:
                if total <= self.max_bytes:
                    break
                if entry.path == keep:
                    continue
                removed += self._remove(_digest(entry.uri), entry)
                total -= entry.size
            self._estimate = total
            self._fills_since_scan = 0
            return removed


def cleanup_cache(
    directory: str | os.PathLike[str] | None = None, *, expiry_hours: float = 0, max_bytes: int = DEFAULT_MAX_BYTES
) -> int:
    """Clean the cache in ``directory`` (default: the per-user cache): expired entries,
    leftover temporary downloads, and least-recently-used entries over ``max_bytes``.

    Returns the number of files removed.
    """
    return RemoteCache(directory, max_bytes=max_bytes, expiry_hours=expiry_hours).cleanup()


__all__ = ["RemoteCache", "CacheEntry", "cleanup_cache", "default_directory"]
