"""Opening a container: the format is decided by :mod:`storecore.detect`, the class found by a dotted path.

The container classes are named by dotted path (as fsspec and argos register
their plugins), so this module depends on no format module: the format
modules may use :func:`open_container` themselves (HDF5 external links do)
without an import cycle, and zarr/h5py load only when a container of their
kind is opened.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..detect import detect_format, format_by_name
from ..errors import CorruptData, FormatError
from .node import Container, Node

#: format name → ``module:Class`` of its :class:`Container`
CONTAINER_CLASSES: dict[str, str] = {
    "zarr": "storecore.containers.zarr_nodes:ZarrContainer",
    "hdf5": "storecore.containers.hdf5_nodes:HDF5Container",
}


def _container_class(fmt: str) -> type[Container]:
    module, _, name = CONTAINER_CLASSES[fmt].partition(":")
    cls: type[Container] = getattr(importlib.import_module(module), name)
    return cls


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
    if fmt in CONTAINER_CLASSES:
        container = _container_class(fmt)(loc, backend, mode)
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
