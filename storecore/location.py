"""Where a thing is: the :class:`Location` type, URI parsing and scheme registration.

A location has a *scheme* (``file``, ``s3``, ``memory`` or a registered alias
such as ``minio``), a *bucket* (S3 bucket, memory store name; empty for local
paths), a *path* (the key inside the bucket, or the absolute local path) and an
optional *inner* path inside a container (``/data/run.h5::/entry/data``).
"""

from __future__ import annotations

import os
import posixpath
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidLocation

INNER_SEP = "::"
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.S)

#: Base schemes storecore knows how to serve.  Aliases point at one of these.
BASE_SCHEMES = ("file", "memory", "s3")

_lock = threading.RLock()
# scheme name -> (base scheme, options)
_schemes: dict[str, tuple[str, dict[str, Any]]] = {name: (name, {}) for name in BASE_SCHEMES}


def register_scheme(name: str, base_scheme: str, **options: Any) -> None:
    """Make ``name://bucket/key`` served by ``base_scheme``'s backend with ``options``.

    ``register_scheme("minio", "s3", endpoint_url="http://127.0.0.1:9000")``
    lets ``minio://bucket/key`` reach that endpoint.  The S3 options are named
    as boto3 names them (``endpoint_url``, ``region_name``, ``profile_name``,
    ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``)
    plus transfer tuning (``multipart_threshold``, ``multipart_chunksize``,
    ``max_concurrency``).  Registering a name again replaces its options.
    """
    name = name.lower()
    if not re.fullmatch(r"[a-z][a-z0-9+.\-]*", name):
        raise InvalidLocation(f"invalid scheme name {name!r}")
    base = base_scheme.lower()
    with _lock:
        if base not in _schemes:
            raise InvalidLocation(f"cannot register {name!r}: unknown base scheme {base_scheme!r}")
        root_base, base_options = _schemes[base]
        if name in BASE_SCHEMES and name != root_base:
            raise InvalidLocation(f"cannot redefine the built-in scheme {name!r}")
        _schemes[name] = (root_base, {**base_options, **options})
    # Backends built for the old options must not be reused.
    _scheme_changed(name)


def unregister_scheme(name: str) -> None:
    """Forget a scheme registered with :func:`register_scheme` (built-ins stay)."""
    name = name.lower()
    if name in BASE_SCHEMES:
        return
    with _lock:
        _schemes.pop(name, None)
    _scheme_changed(name)


#: called with a scheme name when its options change or it is forgotten (the backend registry
#: subscribes to drop the backends it built); location itself imports nothing above it
_listeners: list[Callable[[str], None]] = []


def on_scheme_change(callback: Callable[[str], None]) -> None:
    """Call ``callback(scheme)`` whenever ``scheme`` is registered again or unregistered."""
    with _lock:
        if callback not in _listeners:
            _listeners.append(callback)


def _scheme_changed(name: str) -> None:
    with _lock:
        listeners = list(_listeners)
    for callback in listeners:
        callback(name)


def scheme_info(scheme: str) -> tuple[str, dict[str, Any]]:
    """Return ``(base_scheme, options)`` for a known scheme; raise ``InvalidLocation`` otherwise."""
    with _lock:
        try:
            base, options = _schemes[scheme.lower()]
        except KeyError:
            raise InvalidLocation(
                f"unknown scheme {scheme!r} (known: {', '.join(sorted(_schemes))}; "
                "add one with storecore.register_scheme)"
            ) from None
        return base, dict(options)


def known_schemes() -> list[str]:
    """All scheme names that :meth:`Location.parse` accepts."""
    with _lock:
        return sorted(_schemes)


def normalize_key(key: str, *, text: str | None = None) -> str:
    """Normalise a ``/``-separated key; refuse ``..`` segments that escape the root.

    Leading and duplicate slashes and ``.`` segments are dropped; ``a/../b``
    becomes ``b``; ``../x`` raises :class:`InvalidLocation` naming ``text``.
    """
    if "\x00" in key:
        raise InvalidLocation(f"NUL byte in key {text or key!r}")
    parts: list[str] = []
    for part in key.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise InvalidLocation(f"key {text or key!r} escapes its root ('..')")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def normalize_inner(inner: str, *, text: str | None = None) -> str:
    """Normalise an inner container path to ``/a/b`` form (``/`` is the root group).

    Empty and ``.`` segments are dropped (HDF5 reads ``.`` as "this group");
    ``..`` is a name like any other inside a container (HDF5 files hold members
    called ``..``), so it is kept, never resolved.
    """
    if "\x00" in inner:
        raise InvalidLocation(f"NUL byte in inner path {text or inner!r}")
    return "/" + "/".join(part for part in inner.split("/") if part not in ("", "."))


@dataclass(frozen=True)
class Location:
    """An immutable address: ``scheme``, ``bucket``, ``path`` and optional ``inner`` path.

    * local: ``Location("file", "", "/data/run.h5")`` — ``path`` is absolute.
    * S3: ``Location("s3", "bkt", "a/b.npy")`` — ``path`` is the key, no leading slash.
    * memory: ``Location("memory", "name", "a/b")``.
    * containers: ``inner="/group/array"`` addresses a node inside a Zarr/HDF5 container.

    ``str(loc)`` gives back a URI that :meth:`parse` accepts.
    """

    scheme: str
    bucket: str
    path: str
    inner: str | None = field(default=None)

    # -- construction -------------------------------------------------------
    @classmethod
    def parse(cls, text: str | os.PathLike[str] | Location) -> Location:
        """Parse a local path, ``file://``, ``s3://``, ``memory://`` or registered-scheme URI."""
        if isinstance(text, Location):
            return text
        if isinstance(text, os.PathLike):
            text = os.fspath(text)
        if not isinstance(text, str):
            raise InvalidLocation(f"a location must be a string or path, not {type(text).__name__}")
        if not text.strip():
            raise InvalidLocation("empty location")
        raw = text
        inner: str | None = None
        m = _SCHEME_RE.match(text)
        body = m.group(2) if m else text
        if INNER_SEP in body:
            body, _, inner_text = body.partition(INNER_SEP)
            inner = normalize_inner(inner_text, text=raw)
        if m is None:
            return cls._local(body, inner, raw)
        scheme = m.group(1).lower()
        base, _ = scheme_info(scheme)
        if base == "file":
            if body.startswith("localhost/"):
                body = body[len("localhost") :]
            if not body.startswith("/"):
                raise InvalidLocation(f"file URI must be absolute: {raw!r}")
            return cls._local(body, inner, raw, scheme=scheme)
        bucket, _, key = body.partition("/")
        if not bucket:
            raise InvalidLocation(f"missing bucket/store name in {raw!r}")
        if base == "s3" and not re.fullmatch(r"[a-z0-9][a-z0-9.\-_]{1,254}", bucket):
            raise InvalidLocation(f"invalid bucket name {bucket!r} in {raw!r}")
        if base == "memory" and not re.fullmatch(r"[^/\\\s]+", bucket):
            raise InvalidLocation(f"invalid memory store name {bucket!r} in {raw!r}")
        return cls(scheme, bucket, normalize_key(key, text=raw), inner)

    @classmethod
    def _local(cls, body: str, inner: str | None, raw: str, scheme: str = "file") -> Location:
        if "\x00" in body:
            raise InvalidLocation(f"NUL byte in path {raw!r}")
        path = os.path.abspath(os.path.expanduser(body))
        return cls(scheme, "", path, inner)

    # -- derived views ------------------------------------------------------
    @property
    def base_scheme(self) -> str:
        """The built-in scheme that serves this location (``s3`` for a ``minio`` alias)."""
        return scheme_info(self.scheme)[0]

    @property
    def is_local(self) -> bool:
        """True when the location is a path on the local file system."""
        return self.base_scheme == "file"

    @property
    def name(self) -> str:
        """Last component of the inner path if any, else of the path (``""`` at a root)."""
        if self.inner and self.inner != "/":
            return self.inner.rsplit("/", 1)[-1]
        return posixpath.basename(self.path.rstrip("/"))

    @property
    def outer(self) -> Location:
        """The same location without its inner path (the container itself)."""
        return Location(self.scheme, self.bucket, self.path) if self.inner is not None else self

    def with_inner(self, inner: str | None) -> Location:
        """This container location pointing at ``inner`` (``None`` drops it)."""
        return Location(self.scheme, self.bucket, self.path, None if inner is None else normalize_inner(inner))

    def join(self, *parts: str) -> Location:
        """A child location: joins onto the inner path when present, else onto the path."""
        rel = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
        if not rel:
            return self
        if self.inner is not None:
            return self.with_inner(self.inner.rstrip("/") + "/" + rel)
        if self.is_local:
            joined = posixpath.join(self.path, normalize_key(rel))
            return Location(self.scheme, "", os.path.abspath(joined))
        key = normalize_key(self.path + "/" + rel)
        if self.path and not key.startswith(self.path.rstrip("/")):
            raise InvalidLocation(f"{rel!r} escapes {self}")
        return Location(self.scheme, self.bucket, key)

    @property
    def parent(self) -> Location:
        """The enclosing folder, prefix or group (a root is its own parent)."""
        if self.inner is not None and self.inner != "/":
            return self.with_inner(posixpath.dirname(self.inner))
        if self.inner is not None:
            return self.outer.parent
        if self.is_local:
            return Location(self.scheme, "", os.path.dirname(self.path) or "/")
        return Location(self.scheme, self.bucket, posixpath.dirname(self.path))

    def __str__(self) -> str:
        if self.is_local and self.scheme == "file":
            out = self.path
        elif self.is_local:
            out = f"{self.scheme}://{self.path}"
        else:
            out = f"{self.scheme}://{self.bucket}/{self.path}" if self.path else f"{self.scheme}://{self.bucket}"
        if self.inner is not None:
            out += INNER_SEP + self.inner
        return out


def parse(text: str | os.PathLike[str] | Location) -> Location:
    """Shorthand for :meth:`Location.parse`."""
    return Location.parse(text)
