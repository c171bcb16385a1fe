"""``from storecore.autostore import AutoStore, AutoPath, Options, DataHandler`` (autostore's module layout)."""

from __future__ import annotations

from .apis.autostore import AutoPath, AutoStore, DataHandler, FileMetadata, KeyNotFound, Options

__all__ = ["AutoStore", "AutoPath", "Options", "DataHandler", "FileMetadata", "KeyNotFound"]
