"""The in-memory backend: a thread-safe object store over a (possibly shared) mapping."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator, MutableMapping
from typing import IO, Any

from ..errors import AlreadyExists, InvalidArgument, IsADirectory, NotADirectory, NotFound
from .base import COPY_BUFSIZE, Backend, Entry, Progress, ProgressCallback

PAGE_SIZE = 1000

_named: dict[str, InMemoryBackend] = {}
_named_lock = threading.Lock()


class InMemoryBackend(Backend):
    """Objects held in a mapping: ``key -> (bytes, mtime)`` for files, ``key -> None`` for folders.

    Pass ``mapping`` to share the data, e.g. a ``multiprocessing.Manager().dict()``
    so that worker processes see the same store.  Parents are implied by keys,
    as on an object store; ``mkdir`` records an explicit (possibly empty) folder.
    """

    scheme = "memory"
    #: the ETag of an object is the MD5 of its content
    supports_checksums = True

    def __init__(self, name: str = "", mapping: MutableMapping[str, Any] | None = None, **_options: Any) -> None:
        self.bucket = name
        self.data: MutableMapping[str, Any] = {} if mapping is None else mapping
        self._lock = threading.RLock()

    @classmethod
    def named(cls, name: str) -> InMemoryBackend:
        """The process-wide store called ``name`` (``memory://name/...``), created on first use."""
        with _named_lock:
            if name not in _named:
                _named[name] = cls(name)
            return _named[name]

    @staticmethod
    def drop(name: str) -> None:
        """Forget the process-wide store ``name`` and its data."""
        with _named_lock:
            _named.pop(name, None)

    def __reduce__(self) -> tuple:
        """A process-wide store pickles by name (the same store in this process, a new empty one in another);
        others with their mapping (shared when it is a ``multiprocessing.Manager`` dict)."""
        with _named_lock:
            if _named.get(self.bucket) is self:
                return (InMemoryBackend.named, (self.bucket,))
        return (InMemoryBackend, (self.bucket, self.data))

    # helpers ----------------------------------------------------------------
    def _err(self, cls: type[Exception], key: str, what: str) -> Exception:
        uri = self.uri(key)
        return cls(f"{uri}: {what}", path=uri)

    def _is_dir_key(self, key: str) -> bool:
        if key == "":
            return True
        if self.data.get(key, 0) is None:
            return True
        prefix = key + "/"
        return any(k.startswith(prefix) for k in list(self.data.keys()))

    def _file(self, key: str) -> tuple[bytes, float]:
        value = self.data.get(key)
        if value is None:
            if self._is_dir_key(key):
                raise self._err(IsADirectory, key, "is a directory")
            raise self._err(NotFound, key, "no such object")
        return value

    def _entry(self, key: str, value: Any) -> Entry:
        name = key.rsplit("/", 1)[-1]
        if value is None:
            return Entry(key, name, None, None, None, True)
        data, mtime = value
        return Entry(key, name, len(data), mtime, hashlib.md5(data, usedforsecurity=False).hexdigest(), False)

    # primitives ---------------------------------------------------------------
    def ls_pages(self, prefix: str = "", recursive: bool = False) -> Iterator[list[Entry]]:
        key = self.key(prefix)
        with self._lock:
            if key and key in self.data and self.data[key] is not None:
                raise self._err(NotADirectory, key, "not a directory")
            if not self._is_dir_key(key):
                raise self._err(NotFound, key, "no such prefix")
            snapshot = dict(self.data.items())
        base = key + "/" if key else ""
        seen_dirs: set[str] = set()
        entries: list[Entry] = []
        for k in sorted(snapshot):
            if not k.startswith(base) or k == key:
                continue
            rest = k[len(base) :]
            value = snapshot[k]
            if recursive:
                if value is not None:
                    entries.append(self._entry(k, value))
            elif "/" in rest or value is None:
                child = rest.split("/", 1)[0]
                if child not in seen_dirs:
                    seen_dirs.add(child)
                    entries.append(Entry(base + child, child, None, None, None, True))
            else:
                entries.append(self._entry(k, value))
        for i in range(0, len(entries), PAGE_SIZE):
            yield entries[i : i + PAGE_SIZE]

    def stat(self, path: str) -> Entry:
        key = self.key(path)
        with self._lock:
            value = self.data.get(key, 0)
            if value != 0 and value is not None:
                return self._entry(key, value)
            if self._is_dir_key(key):
                return Entry(key, key.rsplit("/", 1)[-1], None, None, None, True)
        raise self._err(NotFound, key, "no such object")

    def _read_range(self, path: str, start: int, end: int | None) -> bytes:
        key = self.key(path)
        with self._lock:
            data, _ = self._file(key)
        return bytes(data[start:end])

    def write_from(
        self, path: str, fileobj: IO[bytes], *, progress: ProgressCallback | None = None, size: int | None = None
    ) -> None:
        tracker = Progress(progress, size)
        chunks = []
        while True:
            chunk = fileobj.read(COPY_BUFSIZE)
            if not chunk:
                break
            chunks.append(chunk)
            tracker(len(chunk))
        self._store(path, b"".join(chunks))

    def write_bytes(self, path: str, data: bytes, *, progress: ProgressCallback | None = None) -> None:
        self._store(path, bytes(data))
        if progress is not None:
            progress(len(data), len(data))

    def _store(self, path: str, data: bytes) -> None:
        key = self.key(path)
        if not key:
            raise InvalidArgument(f"{self.uri('')}: cannot write to the store root")
        with self._lock:
            if self._is_dir_key(key):
                raise self._err(IsADirectory, key, "is a directory")
            parts = key.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                if self.data.get(parent) is not None:
                    raise self._err(NotADirectory, parent, "a file is in the way")
            self.data[key] = (data, time.time())

    def mkdir(self, path: str, exist_ok: bool = True) -> None:
        key = self.key(path)
        with self._lock:
            value = self.data.get(key, 0)
            if value != 0 and value is not None:
                raise self._err(AlreadyExists, key, "a file exists there")
            if key and self._is_dir_key(key):
                if not exist_ok:
                    raise self._err(AlreadyExists, key, "already exists")
                return
            if key:
                self.data[key] = None

    def delete(self, path: str, recursive: bool = True) -> None:
        key = self.key(path)
        if not key:
            raise InvalidArgument(f"refusing to delete the root of {self.uri('')}")
        with self._lock:
            value = self.data.get(key, 0)
            if value != 0 and value is not None:
                del self.data[key]
                return
            if not self._is_dir_key(key):
                raise self._err(NotFound, key, "no such object")
            children = [k for k in list(self.data.keys()) if k.startswith(key + "/")]
            if children and not recursive:
                raise self._err(AlreadyExists, key, "directory not empty")
            for k in children:
                del self.data[k]
            self.data.pop(key, None)

    def _copy_file(self, src: str, dst: str, progress: ProgressCallback | None) -> None:
        with self._lock:
            data, _ = self._file(self.key(src))
        self.write_bytes(dst, data, progress=progress)

    def __repr__(self) -> str:
        return f"<InMemoryBackend {self.bucket!r}>"
