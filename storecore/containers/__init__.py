"""Zarr stores and HDF5 files as browsable trees of groups, arrays and links, with lazy slicing.

``open_container("s3://bkt/scan.zarr::/raw/volume")`` gives the :class:`Node`
at the inner path (the root group when there is none); ``node.children()``
lists one level on demand and ``node[0, ::4, ::4]`` reads only the chunks it
touches.  Works on local paths, ``memory://`` (Zarr) and S3.
"""

from __future__ import annotations

from typing import Any

# "What is this object" is decided in one place (storecore.detect); re-exported here.
from ..detect import (
    CONTAINER_EXTENSIONS,
    HDF5_EXTENSIONS,
    HDF5_SIGNATURE,
    ZARR_EXTENSIONS,
    detect_format,
    format_by_name,
    is_container,
)
from ..errors import CorruptData, FormatError
from .node import BrokenNode, Container, Node, json_safe
from .slicing import display_selection, normalize_selection, read_slice, slice_stats


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
    # By content first (a .h5 may be HDF4, a .dat may be HDF5); a name that says Zarr or HDF5 decides
    # only for objects that do not exist yet (mode "a" creates them).
    fmt = format or detect_format(loc) or (format_by_name(loc) if mode == "a" else None)
    container: Container
    if fmt == "zarr":
        from .zarr_nodes import ZarrContainer

        container = ZarrContainer(loc, backend, mode)
    elif fmt == "hdf5":
        from .hdf5_nodes import HDF5Container

        container = HDF5Container(loc, backend, mode)
    elif format_by_name(loc) == "hdf5" and backend.exists(loc.path) and not backend.is_dir(loc.path):
        raise CorruptData(f"{loc.outer}: not a readable HDF5 file (no HDF5 signature found)", path=str(loc.outer))
    else:
        what = " (a folder without Zarr metadata)" if backend.is_dir(loc.path) else ""
        raise FormatError(f"{loc.outer}: not a Zarr store or HDF5 file{what}", path=str(loc.outer))
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
    "CONTAINER_EXTENSIONS",
    "HDF5_EXTENSIONS",
    "HDF5_SIGNATURE",
    "ZARR_EXTENSIONS",
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
