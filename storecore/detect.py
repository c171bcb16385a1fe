"""What is this object: the one place that decides whether a file or folder is a Zarr store or an HDF5 file.

The tree, the CLI, find, compare, transfer and the preview pane all ask here.
Two questions, two costs:

* :func:`format_by_name` guesses from the name alone (no I/O), for listings of
  many objects: ``.zarr`` folders, and the many extensions HDF5 files carry
  (``.h5 .hdf5 .nxs .nx5 .cxi .nc .mat`` …).
* :func:`detect_format` looks at the object: a folder by its Zarr metadata keys,
  a file by its signature — the HDF5 superblock may sit at offset 0, 512, 1024,
  2048 … (files with a *user block* are common: MATLAB v7.3, some detectors).
  It reads at most a few KiB (one ranged GET over S3) and remembers the answer
  for an unchanged object.  HDF4 and netCDF-3 classic files are recognised and
  refused with a one-line :class:`~storecore.errors.FormatError` naming them.
"""

from __future__ import annotations

import functools
import os
import posixpath
from typing import Any

from .errors import FormatError, NotFound

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF4_SIGNATURE = b"\x0e\x03\x13\x01"
NETCDF3_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"CDF\x05")

ZARR_EXTENSIONS: tuple[str, ...] = (".zarr",)
#: names HDF5 files (and formats built on HDF5: NeXus, CXI, netCDF-4, MATLAB v7.3, AnnData…) carry
HDF5_EXTENSIONS: tuple[str, ...] = (
    ".h5", ".hdf5", ".hdf", ".he5", ".h5e", ".nxs", ".nx5", ".nx", ".cxi", ".nc", ".nc4", ".cdf", ".mat",
    ".h5ad", ".emd", ".h5m", ".hdf5e",
)  # fmt: skip
CONTAINER_EXTENSIONS: tuple[str, ...] = ZARR_EXTENSIONS + HDF5_EXTENSIONS
#: metadata keys that make a folder a Zarr store (v3, then v2; consolidated v2 metadata too)
ZARR_MARKERS: tuple[str, ...] = ("zarr.json", ".zgroup", ".zarray", ".zmetadata")
#: bytes read from the start of a file to sniff it: the signature at 0, 512, 1024, 2048 and 4096
SNIFF_BYTES = 4096 + 8


def _name_of(uri_or_name: Any) -> str:
    text = os.fspath(uri_or_name) if isinstance(uri_or_name, os.PathLike) else str(uri_or_name)
    text = text.split("::", 1)[0].rstrip("/")
    return posixpath.basename(text).lower()


def format_by_name(uri_or_name: Any) -> str | None:
    """``"zarr"`` or ``"hdf5"`` guessed from the name's extension, else ``None`` (no I/O)."""
    name = _name_of(uri_or_name)
    if name.endswith(ZARR_EXTENSIONS):
        return "zarr"
    if name.endswith(HDF5_EXTENSIONS):
        return "hdf5"
    return None


def sniff_bytes(head: bytes) -> str | None:
    """What the first bytes of a file say it is: ``hdf5``, ``hdf4``, ``netcdf3`` or ``None``.

    The HDF5 signature is looked for at 0 and at every power of two from 512
    that ``head`` covers (where HDF5 itself looks past a user block).
    """
    offset = 0
    while offset + 8 <= len(head):
        if head[offset : offset + 8] == HDF5_SIGNATURE:
            return "hdf5"
        offset = 512 if offset == 0 else offset * 2
    if head.startswith(HDF4_SIGNATURE):
        return "hdf4"
    if head.startswith(NETCDF3_SIGNATURES):
        return "netcdf3"
    return None


def _refuse(kind: str, uri: str) -> None:
    if kind == "hdf4":
        raise FormatError(f"{uri}: HDF4 is not supported (convert it with h4toh5)", path=uri)
    if kind == "netcdf3":
        raise FormatError(f"{uri}: netCDF-3 classic is not supported (convert it to netCDF-4 with nccopy -k 4)", path=uri)


def _far_signature(backend: Any, path: str, size: int) -> bool:
    """Look for the HDF5 signature at offsets beyond the first read (large user blocks; 8 bytes each)."""
    offset = 2 * (SNIFF_BYTES - 8)
    while offset + 8 <= size:
        if backend.read_bytes(path, offset, offset + 8) == HDF5_SIGNATURE:
            return True
        offset *= 2
    return False


@functools.lru_cache(maxsize=4096)
def _sniff_file(outer_uri: str, size: int, stamp: Any) -> str | None:
    """Sniff one file; cached per (uri, size, mtime or ETag) so an unchanged object is read once."""
    from .backends.registry import backend_for

    backend, loc = backend_for(outer_uri)
    head = backend.read_bytes(loc.path, 0, min(size, SNIFF_BYTES)) if size else b""
    kind = sniff_bytes(head)
    if kind is None and size > SNIFF_BYTES and format_by_name(outer_uri) == "hdf5":
        # Only files named as HDF5 cost the extra reads of a user block larger than 4 KiB.
        kind = "hdf5" if _far_signature(backend, loc.path, size) else None
    return kind


def detect_format(uri: Any) -> str | None:
    """``"zarr"`` or ``"hdf5"`` by looking at the object, else ``None``.

    Folders are Zarr stores when they hold Zarr metadata (``zarr.json``,
    ``.zgroup``, ``.zarray``, ``.zmetadata``); files are HDF5 when the
    signature is found (whatever their name).  A missing object is judged by
    its name.  HDF4 and netCDF-3 files raise :class:`FormatError`.
    """
    from .backends.registry import backend_for
    from .location import Location

    loc = Location.parse(uri).outer
    backend, loc = backend_for(loc)
    text = str(loc)
    try:
        entry = backend.stat(loc.path)
    except NotFound:
        return format_by_name(text)
    if entry.is_dir:
        base = loc.path.rstrip("/")
        for marker in ZARR_MARKERS:
            if backend.exists(f"{base}/{marker}" if base else marker):
                return "zarr"
        return None
    stamp = getattr(entry, "etag", None) or getattr(entry, "mtime", None)
    kind = _sniff_file(text, int(entry.size or 0), stamp)
    if kind in ("hdf4", "netcdf3"):
        _refuse(kind, text)
    return "hdf5" if kind == "hdf5" else None


def is_container(uri_or_name: Any, *, probe: bool = False) -> bool:
    """True when the name says Zarr store or HDF5 file; with ``probe=True`` other objects are looked at too."""
    if format_by_name(uri_or_name) is not None:
        return True
    if not probe:
        return False
    try:
        return detect_format(uri_or_name) is not None
    except (FormatError, OSError, ValueError):
        return False


def kind_label(fmt: str | None, name: str = "") -> str:
    """A person's name for a container format: ``Zarr store``, ``NeXus file``, ``netCDF-4 file``, ``HDF5 file``."""
    if fmt == "zarr":
        return "Zarr store"
    if fmt != "hdf5":
        return ""
    lower = name.lower()
    if lower.endswith((".nxs", ".nx5", ".nx")):
        return "NeXus file"
    if lower.endswith((".nc", ".nc4", ".cdf")):
        return "netCDF-4 file"
    if lower.endswith(".cxi"):
        return "CXI file"
    if lower.endswith(".mat"):
        return "MATLAB v7.3 file"
    return "HDF5 file"


__all__ = [
    "CONTAINER_EXTENSIONS",
    "HDF5_EXTENSIONS",
    "HDF5_SIGNATURE",
    "ZARR_EXTENSIONS",
    "ZARR_MARKERS",
    "detect_format",
    "format_by_name",
    "is_container",
    "kind_label",
    "sniff_bytes",
]
