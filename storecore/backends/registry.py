"""Which backend serves a location: base-scheme factories and a cache of live backends."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from ..location import Location, on_scheme_change, scheme_info
from .base import Backend

#: base scheme -> factory(bucket, scheme=..., **options) -> Backend
BackendFactory = Callable[..., Backend]

_factories: dict[str, BackendFactory] = {}
_live: dict[tuple[str, str], Backend] = {}
_lock = threading.RLock()


def _local(bucket: str, *, scheme: str = "file", **options: Any) -> Backend:
    from .local import LocalBackend

    backend = LocalBackend("/", **options)
    backend.scheme = scheme
    return backend


def _memory(bucket: str, *, scheme: str = "memory", **options: Any) -> Backend:
    from .memory import InMemoryBackend

    if scheme == "memory" and not options:
        return InMemoryBackend.named(bucket)
    return InMemoryBackend.named(f"{scheme}:{bucket}")


def _s3(bucket: str, *, scheme: str = "s3", **options: Any) -> Backend:
    from .s3 import S3Backend

    return S3Backend(bucket, scheme=scheme, **options)


_factories.update({"file": _local, "memory": _memory, "s3": _s3})


def register_backend(base_scheme: str, factory: BackendFactory) -> None:
    """Serve ``base_scheme://bucket/key`` with backends built by ``factory(bucket, scheme=, **options)``.

    Register the scheme itself with ``register_scheme(name, name)`` first... or
    simply call this: the scheme becomes known with no options.
    """
    from ..location import _lock as scheme_lock
    from ..location import _schemes

    name = base_scheme.lower()
    with scheme_lock:
        _schemes.setdefault(name, (name, {}))
    with _lock:
        _factories[name] = factory
    forget_scheme(name)


def forget_scheme(scheme: str) -> None:
    """Drop cached backends of ``scheme`` (after its options changed)."""
    with _lock:
        for key in [k for k in _live if k[0] == scheme.lower()]:
            _live.pop(key).close()


on_scheme_change(forget_scheme)


def backend_for(uri: str | os.PathLike[str] | Location) -> tuple[Backend, Location]:
    """Return ``(backend, location)`` for ``uri``: the backend is scoped to the bucket/root.

    Pass ``location.path`` to the backend's methods.  Backends are cached per
    scheme and bucket, so calling this often is cheap.
    """
    loc = Location.parse(uri)
    return get_backend(loc.scheme, loc.bucket), loc


def get_backend(scheme: str, bucket: str = "") -> Backend:
    """The (cached) backend for ``scheme://bucket``."""
    key = (scheme.lower(), bucket)
    with _lock:
        backend = _live.get(key)
        if backend is not None:
            return backend
    base, options = scheme_info(scheme)
    with _lock:
        factory = _factories.get(base)
    if factory is None:
        from ..errors import InvalidLocation

        raise InvalidLocation(f"no backend is registered for scheme {scheme!r}")
    backend = factory(bucket, scheme=scheme.lower(), **options)
    with _lock:
        return _live.setdefault(key, backend)
