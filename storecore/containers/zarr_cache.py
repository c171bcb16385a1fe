"""Zarr slices kept across opens, each checked against the chunk objects it was read from.

Reselecting or reopening an unchanged Zarr array is served from memory: a slice is kept under its
store, array and selection together with the identity of every chunk (or shard) object it touches
and of the array's metadata document — ``(size, mtime_ns, inode)`` for local files, ``(size, ETag)``
on object stores.  A later read takes those identities again (local: a ``stat`` per chunk; S3: a HEAD
per chunk, in parallel) and uses the slice only if none changed, so a chunk rewritten in place, even
without a metadata change, is read again.  Identities are taken *before* the bytes are read, so data
that changed while it was read is stored under identities that no longer match.

Selections touching more than :data:`MAX_CHUNKS` chunk objects are not validated (too many requests):
the per-open cache of :class:`~storecore.containers.zarr_nodes.ZarrContainer` serves them.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import posixpath
import threading
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import NotFound
from ..lru import ByteLRU
from ..tuning import cache_bytes

logger = logging.getLogger(__name__)

#: bytes of slices kept across opens (every store shares it); a slice over a quarter of it is not kept
SHARED_BYTES = cache_bytes("zarr_slices")
#: a selection touching more chunk objects than this is not validated (nor shared)
MAX_CHUNKS = 256
SHARED = ByteLRU(SHARED_BYTES, max_item_bytes=SHARED_BYTES // 4, size=lambda v: v[1].nbytes)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _stat_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:  # two first reads at once must not each start a pool
        if _pool is None:
            _pool = ThreadPoolExecutor(16, thread_name_prefix="zarr-validate")
        return _pool


def _axis_chunks(sel: Any, chunk: int, n: int) -> range | None:
    """The chunk indices along one axis that ``sel`` (an int or a slice) touches; None for other selections."""
    if isinstance(sel, bool):
        return None
    if isinstance(sel, int) or (hasattr(sel, "__index__") and not isinstance(sel, slice)):
        i = int(sel)
        i = i + n if i < 0 else i
        return range(i // chunk, i // chunk + 1) if 0 <= i < n else range(0)
    if isinstance(sel, slice):
        start, stop, step = sel.indices(n)
        if step < 0:
            start, stop = stop + 1, start + 1
        if stop <= start:
            return range(0)
        return range(start // chunk, (stop - 1) // chunk + 1)
    return None


def touched_keys(array: Any, selection: tuple) -> list[str] | None:
    """Store keys (relative to the array) of the chunk or shard objects ``selection`` touches, or None when
    they cannot be told (an irregular grid, fancy indexing) or are more than :data:`MAX_CHUNKS`."""
    metadata: Any = getattr(array, "metadata", None)
    chunk_shape = getattr(getattr(metadata, "chunk_grid", None), "chunk_shape", None)
    shape = tuple(getattr(array, "shape", ()))
    if chunk_shape is None or len(chunk_shape) != len(shape) or not hasattr(metadata, "encode_chunk_key"):
        return None
    sel = tuple(selection) + (slice(None),) * (len(shape) - len(selection))
    if len(sel) != len(shape) or any(s is Ellipsis for s in sel):
        return None
    axes = [_axis_chunks(s, max(1, int(c)), int(n)) for s, c, n in zip(sel, chunk_shape, shape, strict=True)]
    if any(a is None for a in axes):
        return None
    if math.prod(len(a) for a in axes if a is not None) > MAX_CHUNKS:
        return None
    return [metadata.encode_chunk_key(coords) for coords in itertools.product(*axes)]  # type: ignore[arg-type]


def _metadata_key(array: Any) -> str:
    return "zarr.json" if getattr(array.metadata, "zarr_format", 3) == 3 else ".zarray"


def identities(container: Any, array_path: str, array: Any, keys: list[str]) -> tuple | None:
    """The identity of the array's metadata document and of each chunk object in ``keys`` (None for a
    missing one: a chunk never written reads as the fill value); None when an identity cannot be taken."""
    rel = array_path.strip("/")
    names = [_metadata_key(array), *keys]
    backend = container.backend
    local_root = backend.local_path(container.location.path)
    try:
        if local_root is not None:
            return tuple(_local_identity(os.path.join(local_root, rel, name)) for name in names)
        store_root = container.location.path.rstrip("/")
        paths = [posixpath.join(store_root, rel, name) if rel else posixpath.join(store_root, name) for name in names]
        if len(paths) == 1:
            return (_backend_identity(backend, paths[0]),)
        return tuple(_stat_pool().map(lambda p: _backend_identity(backend, p), paths))
    except Exception as e:  # noqa: BLE001 - no identity: the slice is simply not shared
        logger.debug("no chunk identities for %s: %s", container.node_uri(array_path), e)
        return None


def _local_identity(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _backend_identity(backend: Any, path: str) -> tuple | None:
    try:
        entry = backend.stat(path)
    except NotFound:
        return None
    if entry.etag is None and entry.mtime is None:
        raise ValueError(f"{backend.uri(path)}: no ETag or modification time to validate against")
    return (entry.size, entry.etag, entry.mtime)


def key_for(container: Any, array_path: str, selection: tuple) -> Hashable:
    """The shared cache's key of one slice (the store's URI, the array, the selection)."""
    return (container.uri, array_path, repr(selection))


__all__ = ["SHARED", "SHARED_BYTES", "MAX_CHUNKS", "touched_keys", "identities", "key_for"]
