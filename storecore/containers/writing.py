"""Writing into containers: arrays, polars tables, groups and attributes, in Zarr or HDF5.

``write_array("s3://bkt/scan.zarr::/raw/frame", array)`` creates the store and
the parent groups as needed.  Everything is validated before the container is
touched, so bad input (shape mismatch, unserialisable attributes, an existing
node without ``overwrite=True``) changes nothing.

HDF5 files on remote backends are edited in a local temporary copy and
uploaded in one atomic write; new local HDF5 files are written to a temporary
name and renamed.  Existing local HDF5 files are edited in place: copying a
multi-GiB file to change one attribute would be worse than the risk it avoids.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..detect import detect_format, format_by_name
from ..errors import AlreadyExists, FormatError, InvalidArgument, NotFound, ShapeMismatch, StorecoreError
from ..location import Location
from .slicing import normalize_selection


def _target(uri: Any, *, need_inner: bool = True) -> tuple[Any, Location, str, str]:
    from ..backends.registry import backend_for

    backend, loc = backend_for(uri)
    inner = loc.inner or "/"
    if need_inner and inner == "/":
        raise InvalidArgument(f"{uri}: give the inner path to write, e.g. 'store.zarr::/group/name'")
    fmt = format_by_name(loc.outer)
    if fmt is None:
        try:
            fmt = detect_format(loc.outer)
        except NotFound:
            fmt = None
    if fmt is None:
        raise FormatError(f"{loc.outer}: cannot tell the container format (use a .zarr, .h5 or .hdf5 name)")
    return backend, loc, inner, fmt


def _as_array(data: Any) -> np.ndarray:
    try:
        arr = np.asarray(data)
    except Exception as e:
        raise InvalidArgument(f"cannot convert {type(data).__name__} to an array: {e}") from e
    if arr.dtype.kind == "O":
        flat = arr.ravel()
        if all(isinstance(v, str) for v in flat):
            return arr
        raise InvalidArgument("object arrays can only be written when they hold strings")
    # records (structured dtypes: zarr v2/v3 and HDF5 compounds) and timedeltas (zarr) are written as they are
    if arr.dtype.kind not in "biufcUSMm" and arr.dtype.names is None:
        raise InvalidArgument(f"cannot write arrays of dtype {arr.dtype}")
    return arr


def _check_attrs(mapping: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(mapping, Mapping):
        raise InvalidArgument(f"attributes must be a mapping, not {type(mapping).__name__}")
    from .node import json_safe

    try:
        clean = {str(k): json_safe(v, strict=True) for k, v in mapping.items()}
        json.dumps(clean, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"attributes must be JSON-serialisable: {e}") from e
    return clean


def _check_region(region: Any, shape: tuple[int, ...], data: np.ndarray, uri: str) -> tuple:
    sel, flips, out_shape = normalize_selection(region, shape)
    if flips:
        raise InvalidArgument(f"{uri}: write regions take positive steps only")
    if data.shape != out_shape:
        try:
            data = np.broadcast_to(data, out_shape)
        except ValueError:
            raise ShapeMismatch(f"{uri}: data of shape {data.shape} does not fit the region of shape {out_shape}", path=uri) from None
    return sel


# -- zarr ----------------------------------------------------------------------------------
_ZARR_CODECS = {"zstd": "ZstdCodec", "gzip": "GzipCodec", "blosc": "BloscCodec"}


def _zarr_compressors(compressor: Any) -> Any:
    if compressor == "default":
        return "auto"
    if compressor is None:
        return None
    if isinstance(compressor, str):
        import zarr.codecs

        name = compressor.split("(")[0].lower()
        if name not in _ZARR_CODECS:
            raise InvalidArgument(f"unknown Zarr compressor {compressor!r} (use {', '.join(_ZARR_CODECS)} or None)")
        return getattr(zarr.codecs, _ZARR_CODECS[name])()
    return compressor


@contextlib.contextmanager
def _zarr_root(backend: Any, loc: Location) -> Iterator[Any]:
    from .zarr_nodes import ZarrContainer, zarr_errors

    container = ZarrContainer(loc, backend, "a")
    try:
        if not hasattr(container.root, "members"):
            raise InvalidArgument(f"{loc.outer}: the store root is an array, not a group")
        with zarr_errors(container.uri):
            yield container.root
    finally:
        container.close()


def _zarr_existing(root: Any, key: str) -> Any:
    try:
        return root[key]
    except KeyError:
        return None


# -- hdf5 ------------------------------------------------------------------------------------
@contextlib.contextmanager
def _h5_opened(path: str, mode: str, uri: str) -> Iterator[Any]:
    """``h5py.File(path, mode)``, closed on exit; a failure to open names ``uri``."""
    import h5py

    try:
        f = h5py.File(path, mode)
    except Exception as e:
        raise _h5_error(uri, e) from e
    try:
        yield f
    finally:
        f.close()


@contextlib.contextmanager
def _h5_file(backend: Any, loc: Location) -> Iterator[Any]:
    """An h5py file open for writing; remote files are edited in a temp copy and uploaded on success."""

    uri = str(loc.outer)
    exists = backend.exists(loc.path)
    if exists and backend.is_dir(loc.path):
        raise FormatError(f"{uri}: is a folder, not an HDF5 file", path=uri)
    if loc.is_local and exists:
        with _h5_opened(loc.path, "a", uri) as f:
            yield f
        return
    directory = os.path.dirname(loc.path) if loc.is_local else None
    if directory:
        os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".h5", prefix=".storescope-", dir=directory)
    os.close(fd)
    try:
        if exists:
            with open(tmp, "wb") as out:
                backend.read_to(loc.path, out)
        with _h5_opened(tmp, "a" if exists else "w", uri) as f:
            yield f
        if loc.is_local:
            os.replace(tmp, loc.path)
        else:
            with open(tmp, "rb") as src:
                backend.write_from(loc.path, src, size=os.path.getsize(tmp))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _h5_error(uri: str, e: Exception) -> StorecoreError:
    from ..errors import CorruptData, ModeError

    if isinstance(e, StorecoreError):
        return e
    if "already open" in str(e):
        return ModeError(f"{uri}: the file is open for reading in this process; close it before writing", path=uri)
    return CorruptData(f"{uri}: cannot write HDF5 data ({type(e).__name__}: {e})", path=uri)


def _h5_data(arr: np.ndarray) -> np.ndarray:
    import h5py

    if arr.dtype.kind in "UO":
        return np.asarray(arr, dtype=object).astype(h5py.string_dtype())
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ns]").astype(np.int64)
    return arr


def _h5_attr(value: Any) -> Any:
    import h5py

    if value is None:
        return h5py.Empty("f4")
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            return np.array(value, dtype=h5py.string_dtype())
        if all(isinstance(v, bool | int | float) for v in value):
            return np.asarray(value)
        return json.dumps(value)
    return value


def _h5_compression(compressor: Any, arr: np.ndarray) -> dict[str, Any]:
    if compressor is None or arr.ndim == 0 or arr.size == 0 or arr.dtype == object:
        return {}
    if compressor == "default":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if isinstance(compressor, str) and compressor.split("(")[0].lower() in ("gzip", "lzf"):
        return {"compression": compressor.split("(")[0].lower()}
    raise InvalidArgument(f"unknown HDF5 compressor {compressor!r} (use 'gzip', 'lzf' or None)")


def _h5_parent_group(f: Any, inner: str, uri: str) -> None:
    import h5py

    parent = posixpath.dirname(inner)
    if parent != "/":
        existing = f.get(parent)
        if existing is not None and not isinstance(existing, h5py.Group):
            raise AlreadyExists(f"{uri}: {parent} is a dataset, not a group", path=uri)
        f.require_group(parent)


# -- public ----------------------------------------------------------------------------------
def write_array(
    uri: Any,
    data: Any,
    chunks: tuple[int, ...] | None = None,
    *,
    compressor: Any = "default",
    overwrite: bool = False,
    attrs: Mapping[str, Any] | None = None,
    region: Any = None,
) -> str:
    """Write ``data`` (numpy array, or a polars DataFrame) at ``uri`` = ``container::/inner/path``.

    The container and parent groups are created when missing.  An existing
    node raises ``AlreadyExists`` unless ``overwrite=True``.  With ``region``
    (ints and slices) the data goes into that part of an existing array
    (``ShapeMismatch`` when it does not fit).  ``compressor`` is ``"default"``
    (zstd for Zarr, gzip+shuffle for HDF5), ``None``, or a codec name.
    Returns the URI of the node written.
    """
    if _is_table(data):
        if region is not None:
            raise InvalidArgument("tables are written whole (no region)")
        return write_table(uri, data, overwrite=overwrite, compressor=compressor, attrs=attrs)
    backend, loc, inner, fmt = _target(uri)
    arr = _as_array(data)
    clean_attrs = _check_attrs(attrs or {})
    written = str(loc.with_inner(inner))
    if chunks is not None and (len(chunks) != arr.ndim or any(int(c) < 1 for c in chunks)):
        raise InvalidArgument(f"chunks {tuple(chunks)} do not fit an array of {arr.ndim} dimension(s)")
    if fmt == "zarr":
        kw = {"compressors": _zarr_compressors(compressor)}
        with _zarr_root(backend, loc) as root:
            key = inner.strip("/")
            existing = _zarr_existing(root, key)
            if region is not None:
                if existing is None or not hasattr(existing, "shape"):
                    raise NotFound(f"{written}: no array to write a region into", path=written)
                sel = _check_region(region, tuple(existing.shape), arr, written)
                existing[sel] = arr
                return written
            if existing is not None and not overwrite:
                raise AlreadyExists(f"{written}: already exists (pass overwrite=True)", path=written)
            if arr.dtype.names and root.metadata.zarr_format == 3:
                # zarr v3 stores records through one "bytes" codec in one byte order and wrote a big-endian field's
                # bytes under a little-endian dtype (2.5 read back as 5.4e-321): written in native order, same values
                arr = arr.astype(arr.dtype.newbyteorder("="))
            dtype = str if arr.dtype.kind in "UO" else arr.dtype
            if arr.dtype.kind == "O":
                arr = arr.astype(str)
            z = root.create_array(
                key, shape=arr.shape, dtype=dtype, chunks=tuple(chunks) if chunks else "auto",
                overwrite=overwrite, attributes=clean_attrs, **kw,
            )
            if arr.size:
                z[...] = arr
        return written
    with _h5_file(backend, loc) as f:
        try:
            existing = f.get(inner)
            if region is not None:
                if existing is None or not hasattr(existing, "shape"):
                    raise NotFound(f"{written}: no dataset to write a region into", path=written)
                sel = _check_region(region, tuple(existing.shape), arr, written)
                existing[sel] = _h5_data(arr)
                return written
            if existing is not None or f.get(inner, getlink=True) is not None:
                if not overwrite:
                    raise AlreadyExists(f"{written}: already exists (pass overwrite=True)", path=written)
                del f[inner]
            _h5_parent_group(f, inner, written)
            h5data = _h5_data(arr)
            kw = _h5_compression(compressor, h5data)
            if chunks is not None and arr.ndim:
                kw["chunks"] = tuple(int(c) for c in chunks)
            ds = f.create_dataset(inner, data=h5data, **kw)
            for k, v in clean_attrs.items():
                ds.attrs[k] = _h5_attr(v)
        except StorecoreError:
            raise
        except Exception as e:
            raise _h5_error(written, e) from e
    return written


def _is_table(data: Any) -> bool:
    return type(data).__module__.startswith("polars") and hasattr(data, "columns") and hasattr(data, "get_column")


def write_table(
    uri: Any,
    table: Any,
    *,
    overwrite: bool = False,
    compressor: Any = "default",
    attrs: Mapping[str, Any] | None = None,
) -> str:
    """Write a polars DataFrame as a group holding one 1-D array per column.

    The group's ``columns`` attribute keeps the column order; string columns
    become string arrays (nulls as ``""``), numeric nulls become NaN.
    """
    if not _is_table(table):
        raise InvalidArgument(f"write_table expects a polars DataFrame, not {type(table).__name__}")
    columns: dict[str, np.ndarray] = {}
    for name in table.columns:
        if "/" in name or not name:
            raise InvalidArgument(f"column name {name!r} cannot be an array name")
        series = table.get_column(name)
        values = series.to_numpy()
        if values.dtype.kind == "O":
            values = np.array(["" if v is None else str(v) for v in values], dtype=object)
        columns[name] = _as_array(values)
    group_attrs = {**_check_attrs(attrs or {}), "columns": list(table.columns), "table": "polars"}
    backend, loc, inner, fmt = _target(uri)
    written = str(loc.with_inner(inner))
    if fmt == "zarr":
        with _zarr_root(backend, loc) as root:
            key = inner.strip("/")
            if _zarr_existing(root, key) is not None and not overwrite:
                raise AlreadyExists(f"{written}: already exists (pass overwrite=True)", path=written)
            group = root.create_group(key, overwrite=overwrite, attributes=group_attrs)
            for name, values in columns.items():
                z = group.create_array(
                    name, shape=values.shape, dtype=str if values.dtype.kind in "UO" else values.dtype,
                    compressors=_zarr_compressors(compressor),
                )
                if values.size:
                    z[...] = values.astype(str) if values.dtype.kind == "O" else values
        return written
    with _h5_file(backend, loc) as f:
        try:
            if f.get(inner, getlink=True) is not None:
                if not overwrite:
                    raise AlreadyExists(f"{written}: already exists (pass overwrite=True)", path=written)
                del f[inner]
            _h5_parent_group(f, inner, written)
            group = f.create_group(inner)
            for k, v in group_attrs.items():
                group.attrs[k] = _h5_attr(v)
            for name, values in columns.items():
                h5data = _h5_data(values)
                group.create_dataset(name, data=h5data, **_h5_compression(compressor, h5data))
        except StorecoreError:
            raise
        except Exception as e:
            raise _h5_error(written, e) from e
    return written


def create_group(uri: Any, *, attrs: Mapping[str, Any] | None = None) -> str:
    """Create the group at ``container::/inner`` (and its parents; the container too).

    An existing group is kept (its attributes updated with ``attrs``); an
    array at that path raises ``AlreadyExists``.  Returns the group's URI.
    """
    backend, loc, inner, fmt = _target(uri, need_inner=False)
    clean = _check_attrs(attrs or {})
    written = str(loc.with_inner(inner))
    if fmt == "zarr":
        with _zarr_root(backend, loc) as root:
            key = inner.strip("/")
            group = root
            if key:
                existing = _zarr_existing(root, key)
                if existing is not None and not hasattr(existing, "members"):
                    raise AlreadyExists(f"{written}: an array exists there", path=written)
                group = existing if existing is not None else root.create_group(key)
            if clean:
                group.attrs.update(clean)
        return written
    import h5py

    with _h5_file(backend, loc) as f:
        existing = f.get(inner)
        if existing is not None and not isinstance(existing, h5py.Group):
            raise AlreadyExists(f"{written}: a dataset exists there", path=written)
        try:
            group = f.require_group(inner) if inner != "/" else f
            for k, v in clean.items():
                group.attrs[k] = _h5_attr(v)
        except Exception as e:
            raise _h5_error(written, e) from e
    return written


def set_attrs(uri: Any, mapping: Mapping[str, Any], *, replace: bool = False) -> str:
    """Update the attributes of the node at ``container::/inner`` (``replace=True`` drops the others).

    Values must be JSON-serialisable.  In HDF5, ``None`` is stored as an empty
    attribute and dicts or mixed lists as JSON text.
    """
    backend, loc, inner, fmt = _target(uri, need_inner=False)
    clean = _check_attrs(mapping)
    written = str(loc.with_inner(inner))
    if fmt == "zarr":
        with _zarr_root(backend, loc) as root:
            key = inner.strip("/")
            obj = root if not key else _zarr_existing(root, key)
            if obj is None:
                raise NotFound(f"{written}: no such group or array", path=written)
            if replace:
                obj.attrs.put(clean)
            else:
                obj.attrs.update(clean)
        return written
    if not backend.exists(loc.path):
        raise NotFound(f"{loc.outer}: no such file", path=str(loc.outer))
    with _h5_file(backend, loc) as f:
        obj = f.get(inner)
        if obj is None:
            raise NotFound(f"{written}: no such group or dataset", path=written)
        try:
            if replace:
                for k in list(obj.attrs.keys()):
                    del obj.attrs[k]
            for k, v in clean.items():
                obj.attrs[k] = _h5_attr(v)
        except Exception as e:
            raise _h5_error(written, e) from e
    return written
