"""storecore: one API over local folders, memory and S3-compatible object stores,
with format handlers, Zarr/HDF5 containers, a remote cache and a transfer engine.

Heavy libraries (boto3, zarr, h5py, polars) are imported only when first used,
so ``import storecore`` is cheap.  Every public name is importable from here.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import errors
from .backends.registry import backend_for, get_backend, register_backend
from .errors import (
    AlreadyExists,
    BackendUnavailable,
    InvalidArgument,
    InvalidLocation,
    NotFound,
    PermissionDenied,
    StorecoreError,
)
from .location import Location, parse, register_scheme, unregister_scheme

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    # formats
    "register_handler": ".formats",
    "get_handler": ".formats",
    "load": ".formats",
    "save": ".formats",
    # cache
    "RemoteCache": ".cache",
    "cleanup_cache": ".cache",
    # public APIs
    "FileManager": ".apis.filemanager",
    "BackendRegistry": ".apis.filemanager",
    "DiskBackend": ".apis.polystore_backends",
    "MemoryBackend": ".apis.polystore_backends",
    "ZarrBackend": ".apis.polystore_backends",
    "StorageBackend": ".apis.polystore_backends",
    "Store": ".apis.store",
    "DiskFormat": ".apis.store",
    "NumpyArrayStore": ".apis.store",
    "ZarrArrayStore": ".apis.store",
    "HDF5ArrayStore": ".apis.store",
    "PolarsTableStore": ".apis.store",
    "AutoStore": ".apis.autostore",
    "AutoPath": ".apis.autostore",
    "Options": ".apis.autostore",
    "DataHandler": ".apis.autostore",
    "S3Options": ".s3",
    "Saver": ".apis.savers",
    "NumpySaver": ".apis.savers",
    "HDF5Saver": ".apis.savers",
    "ZarrSaver": ".apis.savers",
    # containers
    "open_container": ".containers",
    "read_slice": ".containers",
    "display_selection": ".containers",
    "slice_stats": ".containers",
    "Node": ".containers",
    "open_dataset": ".containers.xarray_support",  # xarray: the storescope[cluster] extra
    # find / compare
    "find": ".search",
    "compare": ".search",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    if name in ("transfer", "backends", "formats", "containers", "cache", "apis", "search", "s3", "autostore"):
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "errors",
    "AlreadyExists",
    "BackendUnavailable",
    "InvalidArgument",
    "InvalidLocation",
    "NotFound",
    "PermissionDenied",
    "StorecoreError",
    "Location",
    "parse",
    "register_scheme",
    "unregister_scheme",
    "backend_for",
    "get_backend",
    "register_backend",
    *_LAZY,
]
