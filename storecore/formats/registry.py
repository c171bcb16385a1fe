"""The handler registry: which handler reads a key, and which one writes an object.

A :class:`Handler` declares its ``extensions`` (``".npy"``, ``".sparse.npz"``),
the Python ``types`` it writes, and a ``priority`` that breaks ties.  Reading
picks the handler of the *longest* matching extension (``.sparse.npz`` beats
``.npz``), then the highest priority, then the most recently registered (so a
user's handler overrides a built-in one).  Writing an object whose key has no
extension picks the highest-priority handler that accepts the object.

Types may be given as strings ``"module:Name"`` (``"polars:DataFrame"``): they
are only resolved when that module is already imported, so the registry never
imports numpy, polars or torch by itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from ..errors import FormatError, InvalidArgument
from ..logs import describe

logger = logging.getLogger(__name__)

TypeSpec = type | str


def _resolve(spec: TypeSpec) -> type | tuple[type, ...] | None:
    if isinstance(spec, type):
        return spec
    module, _, name = spec.partition(":")
    mod = sys.modules.get(module)
    if mod is None:
        return None  # the library is not imported, so no object can be of that type
    obj: Any = mod
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, type) else None


def normalize_extension(ext: str) -> str:
    """``"NPY"`` / ``".npy"`` -> ``".npy"``."""
    ext = ext.strip().lower()
    if not ext:
        raise InvalidArgument("empty file extension")
    return ext if ext.startswith(".") else "." + ext


class Handler:
    """Reads and writes one family of formats through storecore file objects.

    Pass functions (``read(fileobj, **kw)``, ``write(obj, fileobj, **kw)``,
    ``accepts(obj) -> bool``) or subclass and override the methods.  ``read``
    gets a binary, seekable reader; ``write`` gets a binary writer whose content
    is stored atomically when the write returns without error.  Handlers whose
    ``wants_extension`` is true also receive ``extension=".ext"``.
    """

    name: str = ""
    extensions: tuple[str, ...] = ()
    types: tuple[TypeSpec, ...] = ()
    priority: int = 0
    wants_extension: bool = False

    def __init__(
        self,
        name: str | None = None,
        extensions: Iterable[str] | None = None,
        types: Iterable[TypeSpec] | None = None,
        priority: int | None = None,
        *,
        read: Callable[..., Any] | None = None,
        write: Callable[..., None] | None = None,
        accepts: Callable[[Any], bool] | None = None,
    ) -> None:
        if name is not None:
            self.name = name
        if extensions is not None:
            self.extensions = tuple(normalize_extension(e) for e in extensions)
        else:
            self.extensions = tuple(normalize_extension(e) for e in self.extensions)
        if types is not None:
            self.types = tuple(types)
        if priority is not None:
            self.priority = int(priority)
        self._read = read
        self._write = write
        self._accepts = accepts
        if not self.name:
            self.name = self.extensions[0].lstrip(".") if self.extensions else type(self).__name__

    # the protocol ----------------------------------------------------------------
    def read(self, fileobj: IO[bytes], **kw: Any) -> Any:
        """Decode the content of ``fileobj``."""
        if self._read is None:
            raise FormatError(f"the {self.name!r} handler cannot read")
        return self._read(fileobj, **kw)

    def write(self, obj: Any, fileobj: IO[bytes], **kw: Any) -> None:
        """Encode ``obj`` into ``fileobj``."""
        if self._write is None:
            raise FormatError(f"the {self.name!r} handler cannot write")
        self._write(obj, fileobj, **kw)

    def accepts(self, obj: Any) -> bool:
        """True when this handler can write ``obj`` (by default: an instance of one of ``types``)."""
        if self._accepts is not None:
            return bool(self._accepts(obj))
        return self.is_instance(obj)

    def is_instance(self, obj: Any) -> bool:
        """True when ``obj`` is an instance of one of :attr:`types`."""
        for spec in self.types:
            t = _resolve(spec)
            if t is not None and isinstance(obj, t):
                return True
        return False

    @property
    def default_extension(self) -> str:
        """The extension added to keys written by this handler."""
        return self.extensions[0] if self.extensions else ""

    def __repr__(self) -> str:
        return f"<Handler {self.name} {' '.join(self.extensions)} priority={self.priority}>"


#: Bumped on every (un)registration anywhere, so derived views can be cached safely.
_generation = [0]


class Registry:
    """An ordered set of handlers; a child registry sees its parent's handlers too."""

    def __init__(self, parent: Registry | None = None) -> None:
        self.parent = parent
        self._handlers: list[Handler] = []
        self._lock = threading.RLock()
        self._cache: tuple[int, list[Handler], list[str]] | None = None

    def register(self, handler: Handler) -> Handler:
        """Add ``handler``; later registrations win ties against earlier ones."""
        if not isinstance(handler, Handler):
            raise InvalidArgument(f"expected a storecore Handler, got {type(handler).__name__}")
        with self._lock:
            self._handlers.append(handler)
            _generation[0] += 1
        return handler

    def unregister(self, handler: Handler) -> None:
        """Remove ``handler`` (no error when it is not registered here)."""
        with self._lock:
            if handler in self._handlers:
                self._handlers.remove(handler)
                _generation[0] += 1

    def _views(self) -> tuple[list[Handler], list[str]]:
        cache = self._cache
        if cache is not None and cache[0] == _generation[0]:
            return cache[1], cache[2]
        with self._lock:
            generation = _generation[0]
            handlers = (self.parent.handlers() if self.parent else []) + list(self._handlers)
            exts = sorted({e for h in handlers for e in h.extensions}, key=lambda e: (-len(e), e))
            self._cache = (generation, handlers, exts)
            return handlers, exts

    def handlers(self) -> list[Handler]:
        """All handlers, oldest first (the parent's before this registry's own)."""
        return list(self._views()[0])

    def extensions(self) -> list[str]:
        """Every extension some handler reads, longest first."""
        return list(self._views()[1])

    # choosing ----------------------------------------------------------------------
    def extension_of(self, key: str) -> str:
        """The longest known extension ``key`` ends with (``""`` when none)."""
        name = key.rstrip("/").rsplit("/", 1)[-1].lower()
        if "." not in name:
            return ""
        for ext in self._views()[1]:
            if name.endswith(ext) and len(name) > len(ext):
                return ext
        return ""

    def for_extension(self, ext: str) -> Handler | None:
        """The best handler for extension ``ext`` (highest priority, newest on ties)."""
        ext = normalize_extension(ext)
        best: tuple[int, int] | None = None
        chosen = None
        for i, h in enumerate(self._views()[0]):
            if ext in h.extensions and (best is None or (h.priority, i) >= best):
                best, chosen = (h.priority, i), h
        return chosen

    def for_key(self, key: str) -> Handler | None:
        """The handler that reads ``key``, chosen by its longest known extension."""
        ext = self.extension_of(key)
        return self.for_extension(ext) if ext else None

    def for_object(self, obj: Any) -> Handler | None:
        """The highest-priority handler that writes ``obj`` (newest on ties)."""
        best: tuple[int, int] | None = None
        chosen = None
        for i, h in enumerate(self._views()[0]):
            try:
                ok = h.accepts(obj)
            except Exception as exc:
                logger.debug("for_object: caught %s", describe(exc))
                ok = False  # a user's predicate must not break type inference
            if ok and (best is None or (h.priority, i) >= best):
                best, chosen = (h.priority, i), h
        return chosen

    def for_format(self, fmt: str) -> Handler:
        """The handler named ``fmt`` or reading extension ``fmt`` (``"parquet"``, ``".csv"``)."""
        wanted = fmt.strip().lower()
        named = [h for h in self.handlers() if h.name.lower() == wanted.lstrip(".")]
        if named:
            return max(enumerate(named), key=lambda p: (p[1].priority, p[0]))[1]
        handler = self.for_extension(wanted)
        if handler is None:
            known = ", ".join(sorted({h.name for h in self.handlers()}))
            raise FormatError(f"unknown format {fmt!r} (known: {known})")
        return handler

    def get(self, key: str | None = None, obj: Any = None, format: str | None = None) -> Handler:
        """Choose a handler: ``format`` first, else the key's extension, else ``obj``'s type."""
        if format:
            return self.for_format(format)
        if key:
            handler = self.for_key(key)
            if handler is not None:
                return handler
        if obj is not None:
            handler = self.for_object(obj)
            if handler is not None:
                return handler
            raise FormatError(f"no handler writes objects of type {type(obj).__module__}.{type(obj).__qualname__}")
        raise FormatError(
            f"no handler for {key!r}: unknown extension (known: {', '.join(sorted(self.extensions()))})"
        )


class DataHandlerAdapter(Handler):
    """Runs a :class:`DataHandler` on storecore file objects via local temporary files."""

    wants_extension = True

    def __init__(self, user: Any, tempdir: str) -> None:
        self.user = user
        self.tempdir = tempdir
        super().__init__(type(user).__name__, list(user.extensions), [], int(user.priority))

    def accepts(self, obj: Any) -> bool:
        return bool(self.user.can_handle_data(obj))

    def read(self, fileobj: IO[bytes], *, extension: str = "", **_kw: Any) -> Any:
        name = getattr(fileobj, "name", None)
        if isinstance(name, str) and os.path.isfile(name):
            return self.user.read_from_file(Path(name), extension)  # a real local file: use it in place
        os.makedirs(self.tempdir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=extension, dir=self.tempdir)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(fileobj, out)
            return self.user.read_from_file(Path(tmp), extension)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def write(self, obj: Any, fileobj: IO[bytes], *, extension: str = "", **_kw: Any) -> None:
        os.makedirs(self.tempdir, exist_ok=True)
        folder = tempfile.mkdtemp(dir=self.tempdir)
        try:
            path = Path(folder) / ("data" + extension)
            self.user.write_to_file(obj, path, extension)
            with open(path, "rb") as src:
                shutil.copyfileobj(src, fileobj)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


#: The process-wide registry holding the built-in handlers and the ones users register.
REGISTRY = Registry()


def register_handler(handler: Any) -> Handler:
    """Register ``handler`` process-wide (it wins ties against the built-ins); return it.

    An AutoStore-style ``DataHandler`` (``read_from_file``/``write_to_file``
    on local paths) is accepted too and staged through temporary files.
    """
    if not isinstance(handler, Handler) and hasattr(handler, "read_from_file") and hasattr(handler, "write_to_file"):
        handler = DataHandlerAdapter(handler, tempfile.gettempdir())
    return REGISTRY.register(handler)


def get_handler(key: str | None = None, obj: Any = None, format: str | None = None) -> Handler:
    """The handler for ``format``, else for ``key``'s extension, else for ``obj``'s type."""
    return REGISTRY.get(key, obj, format)


__all__ = ["DataHandlerAdapter", "Handler", "Registry", "REGISTRY", "register_handler", "get_handler", "normalize_extension"]
