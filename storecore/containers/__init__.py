"""Zarr stores and HDF5 files as browsable trees of groups, arrays and links, with lazy slicing.

``open_container("s3://bkt/scan.zarr::/raw/volume")`` gives the :class:`Node`
at the inner path (the root group when there is none); ``node.children()``
lists one level on demand and ``node[0, ::4, ::4]`` reads only the chunks it
touches.  Works on local paths, ``memory://`` (Zarr) and S3.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

from ..errors import FormatError
from ..location import Location
from .node import BrokenNode, Container, Node, json_safe
from .slicing import display_selection, normalize_selection, read_slice, slice_stats

ZARR_EXTENSIONS = (".zarr",)
HDF5_EXTENSIONS = (".h5", ".hdf5", ".nc", ".he5")
CONTAINER_EXTENSIONS = ZARR_EXTENSIONS + HDF5_EXTENSIONS
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _name_of(uri_or_name: Any) -> str:
    text = os.fspath(uri_or_name) if isinstance(uri_or_name, os.PathLike) else str(uri_or_name)
    text = text.split("::", 1)[0].rstrip("/")
    return posixpath.basename(text).lower()


def format_by_name(uri_or_name: Any) -> str | None:
    """``"zarr"`` or ``"hdf5"`` from the file extension, else ``None`` (no I/O)."""
    name = _name_of(uri_or_name)
    if name.endswith(ZARR_EXTENSIONS):
        return "zarr"
    if name.endswith(HDF5_EXTENSIONS):
        return "hdf5"
    return None


def is_container(uri_or_name: Any, *, probe: bool = False) -> bool:
    """True when the name ends in ``.zarr``, ``.h5``, ``.hdf5``, ``.nc`` or ``.he5``.

    With ``probe=True`` other names are checked in storage too: a folder holding
    ``zarr.json``/``.zgroup``/``.zarray``, or a file starting with the HDF5 signature.
    """
    if format_by_name(uri_or_name) is not None:
        return True
    if not probe:
        return False
    try:
        return detect_format(uri_or_name) is not None
    except Exception:
        return False


def detect_format(uri: Any) -> str | None:
    """``"zarr"``/``"hdf5"`` by extension, else by looking at the object (markers or signature)."""
    from ..backends.registry import backend_for

    fmt = format_by_name(uri)
    if fmt is not None:
        return fmt
    backend, loc = backend_for(Location.parse(uri).outer)
    entry = backend.stat(loc.path)
    if entry.is_dir:
        for marker in ("zarr.json", ".zgroup", ".zarray"):
            if backend.exists(f"{loc.path.rstrip('/')}/{marker}"):
                return "zarr"
        return None
    # HDF5 allows a user block of 512, 1024, 2048... bytes before the signature.
    for offset in (0, 512, 1024, 2048):
        if backend.read_bytes(loc.path, offset, offset + 8) == HDF5_SIGNATURE:
            return "hdf5"
    return None


def open_container(uri: Any, mode: str = "r", *, format: str | None = None) -> Node:
    """Open the Zarr store or HDF5 file of ``uri`` and return the node at its inner path.

    ``mode`` is ``"r"`` (default) or ``"a"`` (read/write, created when missing).
    Missing inner paths raise ``NotFound``; unreadable files raise ``CorruptData``
    (or ``FormatError`` when the object is not a container at all).  Call
    ``node.close()`` (or use ``with``) to release the file.
    """
    from ..backends.registry import backend_for
    from ..errors import InvalidArgument

    if mode not in ("r", "a"):
        raise InvalidArgument(f"unsupported container mode {mode!r} (use 'r' or 'a')")
    backend, loc = backend_for(uri)
    fmt = format or detect_format(loc)
    container: Container
    if fmt == "zarr":
        from .zarr_nodes import ZarrContainer

        container = ZarrContainer(loc, backend, mode)
    elif fmt == "hdf5":
        from .hdf5_nodes import HDF5Container

        container = HDF5Container(loc, backend, mode)
    else:
        raise FormatError(f"{loc.outer}: not a Zarr store or HDF5 file", path=str(loc.outer))
    try:
        return container.node(loc.inner or "/")
    except BaseException:
        container.close()
        raise


def __getattr__(name: str) -> Any:
    # The writing helpers import zarr/h5py only when used.
    if name in ("write_array", "create_group", "set_attrs", "write_table"):
        from . import writing

        return getattr(writing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BrokenNode",
    "Container",
    "Node",
    "create_group",
    "detect_format",
    "display_selection",
    "format_by_name",
    "is_container",
    "json_safe",
    "normalize_selection",
    "open_container",
    "read_slice",
    "set_attrs",
    "slice_stats",
    "write_array",
    "write_table",
]
