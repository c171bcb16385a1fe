"""The storecore exception hierarchy.

Every error storecore raises derives from :class:`StorecoreError`.  Where a
built-in exception already describes the situation, the storecore class also
derives from it, so that code written against plain Python (or against the
libraries storecore replaces) keeps catching what it caught:
``NotFound`` is a ``FileNotFoundError``, ``InvalidLocation`` a ``ValueError``...
The original low-level exception is always kept as ``__cause__``.
"""

from __future__ import annotations


class StorecoreError(Exception):
    """Base class of every storecore error; ``path`` names the location concerned."""

    def __init__(self, message: str = "", *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return self.message

    def locate(self, path: str) -> None:
        """Name ``path`` (in the message too) unless the error names a path already."""
        if not self.path:
            self.path = path
            self.message = f"{path}: {self.message}"
            self.args = (self.message,)


class NotFound(StorecoreError, FileNotFoundError):
    """A path, key, bucket or inner container path does not exist."""


class AlreadyExists(StorecoreError, FileExistsError):
    """The destination exists and the operation may not replace it."""


class IsADirectory(StorecoreError, IsADirectoryError):
    """A file operation was asked of a directory (or group)."""


class NotADirectory(StorecoreError, NotADirectoryError):
    """A directory operation was asked of a file."""


class PermissionDenied(StorecoreError, PermissionError):
    """Access refused: bad credentials, missing rights, or a read-only mode."""


class BackendUnavailable(StorecoreError, ConnectionError):
    """The storage service cannot be reached (endpoint down, DNS, timeout)."""


class InvalidLocation(StorecoreError, ValueError):
    """A URI or key cannot be parsed, or it would escape its mount root."""


class InvalidArgument(StorecoreError, ValueError):
    """An argument has the wrong value, type, shape or schema."""


class ModeError(InvalidArgument):
    """An operation is not allowed in the mode a store was opened with."""


class ShapeMismatch(InvalidArgument):
    """Array shapes or table schemas that must agree do not."""


class FormatError(StorecoreError, ValueError):
    """No handler fits, or the data cannot be encoded in the requested format."""


class CorruptData(StorecoreError):
    """A file or object exists but cannot be decoded (truncated, corrupt)."""


class PickleNotAllowed(FormatError):
    """Loading pickle data needs an explicit ``allow_pickle=True``."""


class MissingDependency(StorecoreError, ImportError):
    """An optional library is needed; the message names the package to install."""


class MissingFilter(StorecoreError):
    """HDF5 chunks are compressed with a filter this installation cannot decode; the message names it."""

    def __init__(self, message: str = "", *, path: str | None = None, filter_id: int | None = None,
                 filter_name: str = "") -> None:  # fmt: skip
        super().__init__(message, path=path)
        self.filter_id = filter_id
        self.filter_name = filter_name


class ChecksumMismatch(StorecoreError):
    """A transferred file does not match its source (size or checksum)."""


class Cancelled(StorecoreError):
    """The operation was cancelled by the caller."""


__all__ = [
    "StorecoreError",
    "NotFound",
    "AlreadyExists",
    "IsADirectory",
    "NotADirectory",
    "PermissionDenied",
    "BackendUnavailable",
    "InvalidLocation",
    "InvalidArgument",
    "ModeError",
    "ShapeMismatch",
    "FormatError",
    "CorruptData",
    "PickleNotAllowed",
    "MissingDependency",
    "MissingFilter",
    "ChecksumMismatch",
    "Cancelled",
]
