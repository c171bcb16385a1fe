"""``load``, ``save`` and ``scan``: format handlers applied to any storecore location."""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
from typing import TYPE_CHECKING, Any

from ..backends.registry import backend_for
from ..errors import CorruptData, FormatError, IsADirectory, NotFound, StorecoreError
from ..location import Location
from .registry import REGISTRY, Handler, Registry

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..cache import RemoteCache

Uri = str | os.PathLike[str] | Location

#: Objects up to this size are fetched in one request rather than through a ranged reader.
WHOLE_READ_LIMIT = 32 * 1024 * 1024


def _is_local(backend: Backend) -> bool:
    return backend.is_local


def siblings(backend: Backend, path: str, registry: Registry | None = None) -> list[tuple[int, str, str]]:
    """Files named ``path`` + a known extension, as ``(-priority, name, entry_path)``, best first.

    Cheap on every backend: a few ``stat`` calls on local disk, one prefix
    listing (``key.``) on S3, a filtered listing elsewhere.
    """
    reg = registry or REGISTRY
    key = backend.key(path)
    base = posixpath.basename(key)
    found = backend.find_prefixed(key, reg.extensions())
    out = []
    for name, entry_path in found:
        ext = reg.extension_of(name)
        if ext and name[: -len(ext)] == base:
            handler = reg.for_extension(ext)
            out.append((-(handler.priority if handler else 0), name, entry_path))
    return sorted(out)


def resolve_key(backend: Backend, path: str, registry: Registry | None = None, *, folder: bool = False) -> str:
    """The existing file or folder ``path`` names: itself, or ``path`` + a known extension.

    ``store["config"]`` finds ``config.json``.  A file named exactly ``path``
    comes first, then ``path.<ext>`` (the highest handler priority, then the
    alphabetically first), then a folder ``path``.  On S3 the extension lookup
    (one listing) is tried before the exact key, so there an extensionless
    object only wins when no ``path.<ext>`` exists.  ``folder=True`` (a key
    written with a trailing ``/``) names the folder only.  Raises ``NotFound``.
    """
    reg = registry or REGISTRY
    if folder or reg.extension_of(path) or not backend.key(path):
        return backend.stat(path).path
    exact = None
    if not backend.supports_prefix_listing:
        with contextlib.suppress(NotFound):
            exact = backend.stat(path)
        if exact is not None and not exact.is_dir:
            return exact.path
    found = siblings(backend, path, reg)
    if found:
        return found[0][2]
    if exact is None and backend.supports_prefix_listing:
        with contextlib.suppress(NotFound):
            exact = backend.stat(path)
    if exact is not None:
        return exact.path
    raise NotFound(f"{backend.uri(path)}: no such file (with or without a known extension)", path=backend.uri(path))


def add_extension(handler: Handler, key: str, kw: dict[str, Any]) -> None:
    """Tell a handler that wants it the extension of ``key`` (``kw["extension"]``, unless given)."""
    if handler.wants_extension:
        kw.setdefault("extension", REGISTRY.extension_of(key) or posixpath.splitext(key)[1])


def read_with(handler: Handler, fileobj: Any, key: str, *, allow_pickle: bool = False, **kw: Any) -> Any:
    """Run ``handler.read`` and turn decoding failures into :class:`CorruptData` naming ``key``."""
    add_extension(handler, key, kw)
    try:
        return handler.read(fileobj, allow_pickle=allow_pickle, **kw)
    except StorecoreError as e:
        e.locate(key)
        raise
    except (TypeError, ImportError) as e:
        raise FormatError(f"{key}: cannot read as {handler.name}: {type(e).__name__}: {first_line(e)}", path=key) from e
    except Exception as e:
        raise CorruptData(f"{key}: cannot decode as {handler.name}: {type(e).__name__}: {first_line(e)}", path=key) from e


def first_line(exc: BaseException) -> str:
    """The first non-blank line of ``exc``'s message: polars appends hints and a blank line or two ("Consider
    setting 'truncate_ragged_lines=True'."), and an error a person reads in a status bar or a log is one line."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), "")


def load(
    uri: Uri,
    format: str | None = None,
    allow_pickle: bool = False,
    *,
    cache: RemoteCache | None = None,
    registry: Registry | None = None,
    **kw: Any,
) -> Any:
    """Load the object at ``uri`` with the handler its extension (or ``format=``) selects.

    A key without extension finds ``key.<known extension>``; a directory of
    parquet/CSV files loads as one lazy ``polars.LazyFrame``.  Remote objects
    are read through ``cache`` when given (one small request when unchanged).
    Pickle data is only read with ``allow_pickle=True``.
    """
    reg = registry or REGISTRY
    backend, loc = backend_for(uri)
    path = resolve_key(backend, loc.path, reg, folder=isinstance(uri, str) and uri.endswith("/"))
    entry = backend.stat(path)
    if entry.is_dir:
        from .tables import is_dataset, scan_location

        if format in (None, "parquet", "csv", "dataset") and is_dataset(backend, path):
            return scan_location(backend, path, cache=cache if not _is_local(backend) else None)
        raise IsADirectory(f"{backend.uri(path)}: is a directory (not a parquet/CSV dataset)", path=backend.uri(path))
    handler = reg.get(key=path, format=format)
    where = backend.uri(path)
    if cache is not None and not _is_local(backend):
        local = cache.local_path(where)
        with open(local, "rb") as f:
            return read_with(handler, f, where, allow_pickle=allow_pickle, **kw)
    if not _is_local(backend) and (entry.size or 0) <= WHOLE_READ_LIMIT:
        f = io.BytesIO(backend.read_bytes(path))
    else:
        f = backend.open(path, "rb")
    with f:
        return read_with(handler, f, where, allow_pickle=allow_pickle, **kw)


def target_for(obj: Any, key: str, format: str | None = None, registry: Registry | None = None) -> tuple[str, Handler]:
    """``(key, handler)`` a save writes: the key gains the handler's extension when it has none."""
    reg = registry or REGISTRY
    ext = reg.extension_of(key)
    if format:
        handler = reg.for_format(format)
        return (key if ext else key + handler.default_extension), handler
    if ext:
        handler = reg.for_extension(ext)
        assert handler is not None
        return key, handler
    if isinstance(obj, bytes | bytearray | memoryview) and posixpath.splitext(key)[1]:
        # Raw bytes under an extension nobody reads (``report.xlsx``): store them as they are.
        return key, reg.for_format("bytes")
    handler = reg.get(obj=obj)
    return key + handler.default_extension, handler


def write_with(handler: Handler, obj: Any, backend: Backend, path: str, **kw: Any) -> None:
    """Encode ``obj`` with ``handler`` into ``path``; nothing is stored if encoding fails."""
    add_extension(handler, path, kw)
    where = backend.uri(path)
    try:
        with backend.open(path, "wb") as f:
            handler.write(obj, f, **kw)
    except StorecoreError as e:
        e.locate(where)
        raise
    except Exception as e:
        raise FormatError(
            f"{where}: cannot write a {type(obj).__name__} as {handler.name}: {type(e).__name__}: {e}", path=where
        ) from e


def save(obj: Any, uri: Uri, format: str | None = None, *, registry: Registry | None = None, **kw: Any) -> str:
    """Save ``obj`` at ``uri`` atomically; return the URI written.

    The key's extension picks the handler; a key without one gets the
    extension of the handler chosen by ``obj``'s type (``dict`` -> ``.json``,
    polars DataFrame -> ``.parquet``, list of dicts -> ``.jsonl``, numpy array ->
    ``.npy``, ``str`` -> ``.txt``, ``bytes`` -> ``.bin``); ``format=`` forces one.
    """
    backend, loc = backend_for(uri)
    if loc.inner is not None:
        raise FormatError(f"{loc}: cannot save a whole object inside a container; use storecore.containers")
    path, handler = target_for(obj, loc.path, format, registry)
    write_with(handler, obj, backend, path, **kw)
    return str(Location(loc.scheme, loc.bucket, path))


def scan(uri: Uri, *, cache: RemoteCache | None = None, **kw: Any) -> Any:
    """A lazy ``polars.LazyFrame`` over a parquet/CSV file or a directory (dataset) of them."""
    from .tables import scan_location

    backend, loc = backend_for(uri)
    return scan_location(backend, loc.path, cache=cache if not _is_local(backend) else None, **kw)


__all__ = ["load", "save", "scan", "resolve_key", "siblings", "target_for", "read_with", "write_with"]
