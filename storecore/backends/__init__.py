"""Storage backends: the protocol (:class:`Backend`) and its local, memory and S3 implementations.

``DiskBackend``, ``MemoryBackend`` and ``ZarrBackend`` are the polystore-style
save/load backends used by :class:`storecore.FileManager`; they sit on top of
the byte-level backends defined here.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import Backend, Entry, ProgressCallback, RangeFile
from .registry import backend_for, get_backend, register_backend

_LAZY = {
    "LocalBackend": ".local",
    "InMemoryBackend": ".memory",
    "S3Backend": ".s3",
    "DiskBackend": "storecore.apis.polystore_backends",
    "MemoryBackend": "storecore.apis.polystore_backends",
    "ZarrBackend": "storecore.apis.polystore_backends",
    "S3StorageBackend": "storecore.apis.polystore_backends",
    "StorageBackend": "storecore.apis.polystore_backends",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name], __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Backend", "Entry", "ProgressCallback", "RangeFile", "backend_for", "get_backend", "register_backend", *_LAZY]
