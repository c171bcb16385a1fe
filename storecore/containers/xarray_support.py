"""Container groups as ``xarray.Dataset``: :func:`open_dataset` (Zarr, NetCDF4/HDF5, NeXus), dask-backed.

Dimension names and coordinates come from the conventions the files declare:
HDF5 dimension scales (what NetCDF4 writes), Zarr ``_ARRAY_DIMENSIONS`` and v3
``dimension_names`` (:mod:`~storecore.containers.conventions`), and NeXus NXdata
groups: signal + ``@axes``, following ``@default`` (:mod:`~storecore.containers.nexus`).
Every variable is ``node.to_dask()``; 1-D coordinates are read at once.

xarray is the optional ``storescope[cluster]`` extra, imported only here.
"""

from __future__ import annotations

import logging
from typing import Any

from ..logs import describe
from .dask_support import require, to_dask
from .node import Node

logger = logging.getLogger(__name__)

#: attributes that describe HDF5/NetCDF4/Zarr internals, not the data
_INTERNAL_ATTRS = frozenset(
    {
        "_ARRAY_DIMENSIONS",
        "DIMENSION_LIST",
        "REFERENCE_LIST",
        "CLASS",
        "NAME",
        "_Netcdf4Dimid",
        "_Netcdf4Coordinates",
        "_nc3_strict",
        "_NCProperties",
    }
)


def _attrs(node: Node) -> dict[str, Any]:
    """A variable's attributes as xarray reads them: a Zarr v2 variable written by xarray gets its ``_FillValue``
    from the array's ``fill_value`` (:func:`.conventions.variable_attrs`), so CF decoding masks it as xarray's own
    ``open_zarr`` does (its fill values read as numbers: -1 counts, -327.68 degrees); internal marks left out."""
    from .conventions import variable_attrs

    attrs = variable_attrs(node, dict(node.attrs or {})) if node.kind == "array" else dict(node.attrs or {})
    return {k: v for k, v in attrs.items() if k not in _INTERNAL_ATTRS}


def _is_dim_only(node: Node) -> bool:
    from .conventions import NETCDF_DIM_ONLY

    name = (node.attrs or {}).get("NAME")
    return isinstance(name, str) and name.startswith(NETCDF_DIM_ONLY)


def _dim_names(node: Node, used: dict[str, int]) -> list[str]:
    """Declared dimension names of ``node`` (``dim_N`` where none), renamed where lengths disagree."""
    from .conventions import dimension_names

    shape = tuple(node.shape or ())
    declared = dimension_names(node)
    out: list[str] = []
    for ax, n in enumerate(shape):
        name = declared[ax] if ax < len(declared) and declared[ax] else f"dim_{ax}"
        if used.get(name, n) != n or name in out:
            name = f"{node.name}_{name}"
        used.setdefault(name, n)
        out.append(name)
    return out


def _variable(xr: Any, node: Node, dims: list[str], chunks: Any) -> Any:
    return xr.Variable(dims, to_dask(node, chunks), attrs=_attrs(node))


def _group_dataset(xr: Any, group: Node, chunks: Any) -> Any:
    """Every array of ``group`` (one level) as a variable; 1-D arrays named as their dimension as coordinates."""
    arrays = []
    for child in group.children():
        try:
            node = child.target()
        except Exception as exc:  # noqa: BLE001 - a broken link is no variable
            logger.debug("_group_dataset: caught %s", describe(exc))
            continue
        if node.kind == "array" and node.shape is not None and not _is_dim_only(node):
            arrays.append((child.name, node))
    used: dict[str, int] = {}
    data_vars: dict[str, Any] = {}
    coords: dict[str, Any] = {}
    for name, node in arrays:
        dims = _dim_names(node, used)
        if len(dims) == 1 and dims[0] == name:
            coords[name] = xr.Variable(dims, node.read_slice(()), attrs=_attrs(node))  # an index: read now
        else:
            data_vars[name] = _variable(xr, node, dims, chunks)
    return xr.Dataset(data_vars, coords=coords, attrs=_attrs(group))


def _nexus_dataset(xr: Any, spec: Any, chunks: Any) -> Any:
    """An NXdata plot as a Dataset: the signal (and its errors and auxiliary signals) with the axes as coordinates."""
    signal = spec.signal
    shape = tuple(signal.shape)
    dims = [f"dim_{i}" for i in range(len(shape))]
    coords: dict[str, Any] = {}
    for i, axis in enumerate(spec.axes):
        if axis is None or not axis.name:
            continue
        dims[i] = axis.name
        values = axis.centers(shape[i])
        if values is not None:
            a = {"units": axis.units} if axis.units else {}
            if axis.long_name:
                a["long_name"] = axis.long_name
            coords[axis.name] = xr.Variable((axis.name,), values, attrs=a)
    # variables by the names the NXdata group gives them: a linked member's target is often just "data"
    name = spec.signal_name or signal.name
    data_vars = {name: _variable(xr, signal, dims, chunks)}
    if spec.errors is not None:
        data_vars[f"{name}_errors"] = _variable(xr, spec.errors, dims, chunks)
    for aux_name, aux in zip(spec.auxiliary_names, spec.auxiliary, strict=True):
        data_vars.setdefault(aux_name, _variable(xr, aux, dims, chunks))
    attrs = _attrs(spec.group) if spec.group is not None else {}
    if spec.title:
        attrs.setdefault("title", spec.title)
    attrs["signal"] = name
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def open_dataset(uri: Any, *, chunks: Any = None, decode_cf: bool = True, nexus: bool = True) -> Any:
    """An ``xarray.Dataset`` over a Zarr/NetCDF4/HDF5/NeXus group (or one array), dask-backed.

    * A group: its arrays become variables with the dimension names they
      declare (HDF5 dimension scales, Zarr ``_ARRAY_DIMENSIONS`` or v3
      ``dimension_names``; ``dim_N`` otherwise); 1-D arrays named like their
      dimension become (eagerly read) coordinates.
    * With ``nexus`` (default), a file, NXentry or NXdata whose ``@default``
      chain leads to an NXdata: its signal (plus ``*_errors`` and auxiliary
      signals) with the ``@axes`` as dimension names and coordinates.
    * An array: a Dataset of that one variable, with its coordinates.

    ``chunks`` overrides the store's chunking; ``decode_cf`` applies CF
    scale/offset/fill decoding and time units (lazily).  The container stays
    open for as long as the dataset's arrays are used.
    """
    from .opening import open_container

    xr = require("xarray")
    node = open_container(uri)
    try:
        target = node.target()
        if target.kind == "array":
            parent = target.parent()
            if nexus and parent is not None:
                from .nexus import nxdata_plot

                spec = nxdata_plot(parent, signal=target) if _nx_class(parent) == "NXdata" else None
                if spec is not None:
                    return _decode(xr, _nexus_dataset(xr, spec, chunks), decode_cf)
            used: dict[str, int] = {}
            dims = _dim_names(target, used)
            ds = xr.Dataset({target.name: _variable(xr, target, dims, chunks)})
            coords = _coords_beside(xr, target, dims)
            return _decode(xr, ds.assign_coords(coords), decode_cf)
        if nexus:
            from .nexus import default_plot, has_default_plot

            if has_default_plot(target):
                spec = default_plot(target)
                if spec is not None:
                    return _decode(xr, _nexus_dataset(xr, spec, chunks), decode_cf)
        return _decode(xr, _group_dataset(xr, target, chunks), decode_cf)
    except BaseException:
        node.close()
        raise


def _nx_class(node: Node) -> str:
    from .nexus import nx_class

    return nx_class(node)


def _coords_beside(xr: Any, node: Node, dims: list[str]) -> dict[str, Any]:
    """Coordinates of one array: 1-D arrays named like its dimensions, beside it (or dimension scales)."""
    from .conventions import dimensions

    out: dict[str, Any] = {}
    try:
        found = dimensions(node, read_values=False)
    except Exception as exc:  # noqa: BLE001 - no coordinates is fine
        logger.debug("_coords_beside: caught %s", describe(exc))
        return out
    for d, dim in zip(found, dims, strict=False):
        if not d.path or d.name != dim:
            continue
        try:
            coord = node.get(d.path)
            if _is_dim_only(coord):
                continue
            out[dim] = xr.Variable((dim,), coord.read_slice(()), attrs=_attrs(coord))
        except Exception as exc:  # noqa: BLE001
            logger.debug("_coords_beside: caught %s", describe(exc))
            continue
    return out


def _decode(xr: Any, ds: Any, decode_cf: bool) -> Any:
    if not decode_cf:
        return ds
    try:
        return xr.decode_cf(ds)
    except Exception as exc:  # noqa: BLE001 - attributes xarray cannot decode: the raw values
        logger.debug("_decode: caught %s", describe(exc))
        return ds
