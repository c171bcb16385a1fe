"""polystore-style ``FileManager``: one API that routes save/load and directory calls to named backends.

``FileManager(registry)`` takes a :class:`BackendRegistry` (which holds
``"disk"`` and ``"memory"`` and creates ``"zarr"`` and ``"s3"`` on first use)
or a plain dict of backends; ``fm.registry`` is the object passed.  Backend
names are case-insensitive; an unknown one raises :class:`BackendNotFound`
(a ``StorecoreError`` and a ``KeyError``).  Paths may be ``str`` or
``os.PathLike``.

Errors: storecore errors (``NotFound`` is a ``FileNotFoundError``, and so on)
pass through unchanged; anything else a backend raises is wrapped in a
``StorecoreError`` that keeps the original as ``__cause__``.  ``is_file``,
``is_dir`` and ``is_symlink`` answer ``False`` instead of raising for missing
paths or the wrong kind, as polystore's ``FileManager`` does.

``list_files`` keeps the backend's breadth-first order (shallow files first,
natural order within a folder); ``list_image_files`` and ``list_dir`` sort
naturally (``img2`` before ``img10``).  Batch operations check their
arguments before touching anything and run concurrently on remote and disk
backends.  A ``FileManager`` is meant for one thread; share the registry,
not the manager.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from ..errors import AlreadyExists, InvalidArgument, StorecoreError
from .polystore_backends import (
    DiskBackend,
    MemoryBackend,
    S3StorageBackend,
    StorageBackend,
    ZarrBackend,
    natural_key,
    natural_sort,
)

#: extensions ``list_image_files`` looks for by default
DEFAULT_IMAGE_EXTENSIONS = frozenset({".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".jp2"})

PathLike = str | os.PathLike[str]


class BackendNotFound(StorecoreError, KeyError):
    """No backend of that name is registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class BackendRegistry(dict):
    """Named backends: ``"disk"`` and ``"memory"`` up front, ``"zarr"`` and ``"s3"`` built on first use.

    A plain ``dict`` subclass: add your own with ``registry["name"] = backend``.
    """

    #: lazily created backends
    factories: dict[str, Callable[[], StorageBackend]] = {"zarr": ZarrBackend, "s3": S3StorageBackend}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setdefault("disk", DiskBackend())
        self.setdefault("memory", MemoryBackend())

    def __missing__(self, name: str) -> StorageBackend:
        factory = self.factories.get(name)
        if factory is None:
            raise KeyError(name)
        backend = factory()
        self[name] = backend
        return backend

    def available(self) -> list[str]:
        """Names that resolve to a backend (registered or creatable)."""
        return sorted(set(self) | set(self.factories))


def _check_path(path: Any) -> PathLike:
    if not isinstance(path, str | os.PathLike):
        raise InvalidArgument(f"expected a str or os.PathLike path, got {type(path).__name__}")
    return path


class FileManager:
    """Routes every operation to the backend named in the call (``backend=`` is required)."""

    def __init__(self, registry: Mapping[str, StorageBackend] | None) -> None:
        if registry is None:
            raise InvalidArgument("Registry must be provided to FileManager (a BackendRegistry or a dict of backends)")
        self.registry = registry

    # -- backends ----------------------------------------------------------------------
    def _get_backend(self, backend_name: str | Enum) -> StorageBackend:
        """The backend registered as ``backend_name`` (case-insensitive)."""
        if backend_name is None:
            raise BackendNotFound("a backend name must be given")
        name = backend_name.value if isinstance(backend_name, Enum) else backend_name
        name = str(name).strip().lower()
        try:
            return self.registry[name]
        except KeyError:
            known = ", ".join(sorted(self.registry.available() if isinstance(self.registry, BackendRegistry) else self.registry))
            raise BackendNotFound(f"Backend {name!r} not found in registry (known: {known})") from None

    def register_backend(self, name: str, backend: StorageBackend) -> None:
        """Add ``backend`` under ``name`` to this manager's registry."""
        key = str(name).strip().lower()
        if not key:
            raise InvalidArgument("backend name cannot be empty")
        self.registry[key] = backend  # type: ignore[index]

    @staticmethod
    def _call(what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except StorecoreError:
            raise
        except Exception as e:
            raise StorecoreError(f"{what} failed: {type(e).__name__}: {e}") from e

    # -- objects ---------------------------------------------------------------------------
    def save(self, data: Any, output_path: PathLike, backend: str, **kwargs: Any) -> None:
        """Save ``data`` at ``output_path`` with ``backend`` (kwargs go to the backend, e.g. ``metadata=``)."""
        b = self._get_backend(backend)
        _check_path(output_path)
        self._call(f"save to {os.fspath(output_path)} ({backend})", lambda: b.save(data, output_path, **kwargs))

    def load(self, file_path: PathLike, backend: str, **kwargs: Any) -> Any:
        """Load the object at ``file_path`` with ``backend``."""
        b = self._get_backend(backend)
        _check_path(file_path)
        return self._call(f"load of {os.fspath(file_path)} ({backend})", lambda: b.load(file_path, **kwargs))

    def save_batch(self, data_list: list[Any], output_paths: list[PathLike], backend: str, **kwargs: Any) -> None:
        """Save several objects; lengths must match (checked before anything is written)."""
        b = self._get_backend(backend)
        data_list, output_paths = list(data_list), list(output_paths)
        if len(data_list) != len(output_paths):
            raise InvalidArgument(
                f"data_list length ({len(data_list)}) must match output_paths length ({len(output_paths)})"
            )
        for p in output_paths:
            _check_path(p)
        self._call(f"batch save of {len(data_list)} objects ({backend})", lambda: b.save_batch(data_list, output_paths, **kwargs))

    def load_batch(self, file_paths: list[PathLike], backend: str, **kwargs: Any) -> list[Any]:
        """Load several objects; results in the order of ``file_paths``."""
        b = self._get_backend(backend)
        file_paths = list(file_paths)
        for p in file_paths:
            _check_path(p)
        return self._call(f"batch load of {len(file_paths)} files ({backend})", lambda: b.load_batch(file_paths, **kwargs))

    def get_metadata(self, path: PathLike, backend: str) -> dict[str, Any] | None:
        """The ``metadata=`` saved with ``path`` (disk backend), or ``None``."""
        b = self._get_backend(backend)
        loader = getattr(b, "load_metadata", None)
        return None if loader is None else loader(_check_path(path))

    # -- listings ---------------------------------------------------------------------------------
    def list_files(
        self,
        directory: PathLike,
        backend: str,
        pattern: str | None = None,
        extensions: set[str] | None = None,
        recursive: bool = False,
        **kwargs: Any,
    ) -> list[str]:
        """Files in ``directory`` as strings (breadth-first when recursive), filtered by glob and extensions."""
        b = self._get_backend(backend)
        _check_path(directory)
        files = b.list_files(directory, pattern, extensions, recursive, **kwargs)
        return [str(f) for f in files]

    def list_image_files(
        self,
        directory: PathLike,
        backend: str,
        pattern: str | None = None,
        extensions: set[str] | frozenset[str] = DEFAULT_IMAGE_EXTENSIONS,
        recursive: bool = False,
    ) -> list[str]:
        """Image files in ``directory``, naturally sorted (``img2`` before ``img10``)."""
        return natural_sort(self.list_files(directory, backend, pattern, set(extensions), recursive))

    def find_file_recursive(self, directory: PathLike, filename: str, backend: str) -> str | None:
        """The first file called ``filename`` below ``directory`` (shallowest first), or ``None``."""
        for path in self.list_files(directory, backend, recursive=True):
            if os.path.basename(path.rstrip("/")) == filename:
                return path
        return None

    def list_dir(self, path: PathLike, backend: str) -> list[str]:
        """Names in ``path``, naturally sorted."""
        b = self._get_backend(backend)
        return sorted(b.list_dir(_check_path(path)), key=natural_key)

    # -- directories and paths ------------------------------------------------------------------------
    def ensure_directory(self, directory: PathLike, backend: str) -> str:
        """Create ``directory`` (and parents) if needed; return its path as a string."""
        b = self._get_backend(backend)
        return str(b.ensure_directory(_check_path(directory)))

    def exists(self, path: PathLike, backend: str) -> bool:
        """True when ``path`` exists."""
        b = self._get_backend(backend)
        return bool(b.exists(_check_path(path)))

    def is_file(self, path: PathLike, backend: str) -> bool:
        """True for a file; ``False`` for folders and missing paths."""
        b = self._get_backend(backend)
        try:
            return bool(b.is_file(_check_path(path)))
        except (OSError, StorecoreError):
            return False

    def is_dir(self, path: PathLike, backend: str) -> bool:
        """True for a folder; ``False`` for files and missing paths."""
        b = self._get_backend(backend)
        try:
            return bool(b.is_dir(_check_path(path)))
        except (FileNotFoundError, NotADirectoryError):
            return False

    def is_symlink(self, path: PathLike, backend: str) -> bool:
        """True for a symbolic link; ``False`` otherwise (also when missing)."""
        b = self._get_backend(backend)
        try:
            return bool(b.is_symlink(_check_path(path)))
        except (OSError, StorecoreError):
            return False

    def create_symlink(
        self,
        source_path: PathLike,
        symlink_path: PathLike,
        backend: str,
        overwrite: bool = False,
        overwrite_symlinks_only: bool = False,
    ) -> bool:
        """Create ``symlink_path`` pointing at ``source_path``.

        An existing ``symlink_path`` raises ``FileExistsError`` unless
        ``overwrite=True``; with ``overwrite_symlinks_only=True`` (polystore's
        flag) only an existing *link* is replaced.
        """
        b = self._get_backend(backend)
        _check_path(source_path)
        _check_path(symlink_path)
        if overwrite_symlinks_only and b.exists(symlink_path) and not overwrite:
            if not b.is_symlink(symlink_path):
                raise AlreadyExists(f"{os.fspath(symlink_path)}: exists and is not a symlink", path=os.fspath(symlink_path))
            overwrite = True
        b.create_symlink(source_path, symlink_path, overwrite=overwrite)
        return True

    def delete(self, path: PathLike, backend: str, recursive: bool = False) -> bool:
        """Delete a file or an empty folder (a non-empty folder raises ``IsADirectoryError`` unless ``recursive``)."""
        b = self._get_backend(backend)
        if recursive:
            b.delete_all(_check_path(path))
        else:
            b.delete(_check_path(path))
        return True

    def delete_all(self, path: PathLike, backend: str) -> bool:
        """Delete a file or a whole tree."""
        b = self._get_backend(backend)
        b.delete_all(_check_path(path))
        return True

    def copy(self, source_path: PathLike, dest_path: PathLike, backend: str) -> bool:
        """Copy within one backend (the destination must not exist)."""
        b = self._get_backend(backend)
        b.copy(_check_path(source_path), _check_path(dest_path))  # type: ignore[attr-defined]
        return True

    def move(self, source_path: PathLike, dest_path: PathLike, backend: str) -> bool:
        """Move within one backend (the destination must not exist)."""
        b = self._get_backend(backend)
        b.move(_check_path(source_path), _check_path(dest_path))  # type: ignore[attr-defined]
        return True

    def stat(self, path: PathLike, backend: str) -> dict[str, Any]:
        """``{"type": file|directory|symlink|missing, "path", "exists", ...}``."""
        b = self._get_backend(backend)
        return b.stat(_check_path(path))  # type: ignore[attr-defined]


__all__ = ["FileManager", "BackendRegistry", "BackendNotFound", "DEFAULT_IMAGE_EXTENSIONS"]
