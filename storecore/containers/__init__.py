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
from .node import BrokenNode, Container, Node, json_safe
from .opening import CONTAINER_CLASSES, open_container
from .slicing import display_selection, normalize_selection, read_slice, slice_stats


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
    "CONTAINER_CLASSES",
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
