"""A zarr v3 store over any storecore backend, so zarr's own chunk machinery reads S3 and memory.

:class:`BackendStore` maps zarr keys (``zarr.json``, ``c/0/1/2``...) onto backend
keys under a root prefix and serves byte ranges with ranged reads, so a slice
fetches only the chunks (or shard pieces) it touches.  Backend calls are
blocking; they run in worker threads (``asyncio.to_thread``) so that zarr's
event loop fetches many chunks concurrently.  :class:`CountingStore` wraps any
zarr store (e.g. ``LocalStore``) to count the bytes it returns.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
from zarr.storage import WrapperStore

from ..errors import IsADirectory, NotADirectory, NotFound

if TYPE_CHECKING:
    from ..backends.base import Backend


class ByteCounter:
    """Thread-safe running totals of bytes returned and requests made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes_read = 0
        self.requests = 0

    def add(self, n: int) -> None:
        """Record one request that returned ``n`` bytes."""
        with self._lock:
            self.bytes_read += n
            self.requests += 1

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.bytes_read = 0
            self.requests = 0

    def __getstate__(self) -> dict[str, Any]:
        """Pickles without its lock (the totals travel; each process counts on its own from there)."""
        return {"bytes_read": self.bytes_read, "requests": self.requests}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self.bytes_read = state["bytes_read"]
        self.requests = state["requests"]


def _range(byte_range: ByteRequest | None) -> tuple[int | None, int | None]:
    """``(start, end)`` for ``Backend.read_bytes`` (negative start = suffix)."""
    if byte_range is None:
        return None, None
    if isinstance(byte_range, RangeByteRequest):
        return byte_range.start, byte_range.end
    if isinstance(byte_range, OffsetByteRequest):
        return byte_range.offset, None
    if isinstance(byte_range, SuffixByteRequest):
        return -byte_range.suffix, None
    raise TypeError(f"unexpected byte range {byte_range!r}")


class BackendStore(Store):
    """A zarr store over ``backend`` with every zarr key below ``root`` (a backend key/path)."""

    supports_writes: bool = True
    supports_deletes: bool = True
    supports_listing: bool = True

    def __init__(self, backend: Backend, root: str, *, read_only: bool = False, counter: ByteCounter | None = None) -> None:
        super().__init__(read_only=read_only)
        self.backend = backend
        self.root = root.rstrip("/")
        self.counter = counter or ByteCounter()

    # -- identity -----------------------------------------------------------------
    def with_read_only(self, read_only: bool = False) -> BackendStore:
        """The same store, read-only or writable."""
        return type(self)(self.backend, self.root, read_only=read_only, counter=self.counter)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BackendStore)
            and other.backend is self.backend
            and other.root == self.root
            and other.read_only == self.read_only
        )

    def __hash__(self) -> int:
        return hash((id(self.backend), self.root, self.read_only))

    def __str__(self) -> str:
        return self.backend.uri(self.root)

    def __repr__(self) -> str:
        return f"BackendStore({str(self)!r})"

    @property
    def bytes_read(self) -> int:
        """Bytes returned by ``get`` so far."""
        return self.counter.bytes_read

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    # -- blocking helpers (run in threads) ----------------------------------------------
    def get_sync(
        self, key: str, *, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        """Blocking ``get``: the value (or the byte range) of ``key``, ``None`` when missing."""
        prototype = prototype or default_buffer_prototype()
        start, end = _range(byte_range)
        try:
            data = self.backend.read_bytes(self._path(key), start, end)
        except (NotFound, IsADirectory, NotADirectory):
            return None
        self.counter.add(len(data))
        return prototype.buffer.from_bytes(data)

    def set_sync(self, key: str, value: Buffer) -> None:
        """Blocking ``set``."""
        self._check_writable()
        self.backend.write_bytes(self._path(key), value.to_bytes())

    def delete_sync(self, key: str) -> None:
        """Blocking ``delete`` (a missing key is not an error)."""
        self._check_writable()
        try:
            self.backend.delete(self._path(key), recursive=False)
        except NotFound:
            pass

    def _list(self, prefix: str, recursive: bool) -> list[tuple[str, bool]]:
        try:
            base = self.backend.key(self._path(prefix))
            out = []
            for entry in self.backend.ls(self._path(prefix), recursive=recursive):
                out.append((self.backend.key(entry.path)[len(base) :].lstrip("/"), entry.is_dir))
            return out
        except (NotFound, NotADirectory):
            return []

    # -- zarr's async protocol ----------------------------------------------------------
    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        return await asyncio.to_thread(self.get_sync, key, prototype=prototype, byte_range=byte_range)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return list(await asyncio.gather(*(self.get(k, prototype, r) for k, r in key_ranges)))

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.backend.is_file, self._path(key))

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        if not isinstance(value, Buffer):
            raise TypeError(f"BackendStore.set(): expected a Buffer, got {type(value).__name__}")
        await asyncio.to_thread(self.set_sync, key, value)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.delete_sync, key)

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()
        path = self._path(prefix.rstrip("/"))

        def _delete() -> None:
            try:
                self.backend.delete(path, recursive=True)
            except NotFound:
                pass

        await asyncio.to_thread(_delete)

    async def getsize(self, key: str) -> int:
        entry = await asyncio.to_thread(self.backend.stat, self._path(key))
        if entry.is_dir or entry.size is None:
            raise FileNotFoundError(key)
        return entry.size

    async def list(self) -> AsyncIterator[str]:
        for rel, _ in await asyncio.to_thread(self._list, "", True):
            yield rel

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        # zarr passes prefixes such as "a/b/" or "" and wants full keys back.
        head, _, _ = prefix.rpartition("/")
        for rel, _ in await asyncio.to_thread(self._list, head, True):
            key = f"{head}/{rel}" if head else rel
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        for rel, _ in await asyncio.to_thread(self._list, prefix.rstrip("/"), False):
            yield rel

    async def is_empty(self, prefix: str) -> bool:
        async for _ in self.list_dir(prefix):
            return False
        return True


class CountingStore(WrapperStore[Any]):
    """Wraps a zarr store (``LocalStore``...) and counts the bytes its reads return."""

    def __init__(self, store: Store, counter: ByteCounter | None = None) -> None:
        super().__init__(store)
        self.counter = counter or ByteCounter()

    def _with_store(self, store: Store) -> CountingStore:
        return type(self)(store, self.counter)

    @property
    def bytes_read(self) -> int:
        """Bytes returned by ``get`` so far."""
        return self.counter.bytes_read

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        value = await self._store.get(key, prototype, byte_range)
        if value is not None:
            self.counter.add(len(value))
        return value

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        values = await self._store.get_partial_values(prototype, key_ranges)
        for v in values:
            if v is not None:
                self.counter.add(len(v))
        return values

    def __repr__(self) -> str:
        return f"CountingStore({self._store!r})"
