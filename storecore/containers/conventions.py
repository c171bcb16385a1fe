"""NetCDF4/CF, Zarr and OME-Zarr conventions for an array node: dimension names, coordinates, decoding.

* Dimension names and coordinate values: HDF5 dimension scales (``DIMENSION_LIST``,
  what NetCDF4 writes), Zarr v2 ``_ARRAY_DIMENSIONS`` and Zarr v3
  ``dimension_names``, with 1-D coordinate arrays of the same name beside the array.
* CF attributes: ``units``, ``long_name``, ``scale_factor``/``add_offset``,
  ``_FillValue``/``missing_value``/``valid_range`` — :func:`decode` turns packed
  values into floats with masked samples as NaN.
* OME-Zarr: channel names and colours from ``omero``, physical pixel sizes and
  units from the multiscales' ``axes`` and ``coordinateTransformations``, and the
  ``labels`` images.

Everything goes through the public :class:`~storecore.containers.Node` API (``lazy()``
for HDF5 dimension scales and Zarr v3 metadata).  No Qt here.
"""

from __future__ import annotations

import contextlib
import logging
import math
import posixpath
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..logs import describe, suppress_logged
from .node import Node, attr_text

logger = logging.getLogger(__name__)

#: coordinate arrays are read when at most this big
COORD_MAX_BYTES = 8 * 1024 * 1024
#: what NetCDF4 writes as the NAME of a dimension scale that has no coordinate variable
NETCDF_DIM_ONLY = "This is a netCDF dimension but not a netCDF variable"


@dataclass
class Dim:
    """One dimension of an array: its name, and its coordinate values when a coordinate array gives them."""

    name: str
    values: np.ndarray | None = None
    units: str = ""
    long_name: str = ""
    #: the coordinate array's path, when there is one
    path: str = ""

    @property
    def label(self) -> str:
        """``long_name`` (or the name) with ``(units)``."""
        base = self.long_name or self.name
        return f"{base} ({self.units})" if self.units and self.units not in base else base


def _read_coord(node: Node | None, n: int) -> np.ndarray | None:
    if node is None or node.kind != "array" or tuple(node.shape or ()) != (n,):
        return None
    try:
        if node.nbytes > COORD_MAX_BYTES:
            return None
        values = np.asarray(node.read_slice((slice(None),)))
    except Exception as exc:  # noqa: BLE001 - no coordinate values is fine
        logger.debug("_read_coord: caught %s", describe(exc))
        return None
    if values.dtype.kind not in "iuf":
        return None
    attrs = variable_attrs(node, node.attrs or {})
    return decode(values, cf_info(attrs, node.dtype)).astype(float)


def dimension_names(node: Node) -> list[str]:
    """The dimension names of an array (``""`` where unnamed); ``[]`` when it declares none."""
    nd = len(node.shape or ())
    attrs = node.attrs or {}
    names = attrs.get("_ARRAY_DIMENSIONS")
    if isinstance(names, list) and len(names) == nd:
        return [attr_text(n) for n in names]
    lazy = None
    with suppress_logged(logger, "dimension_names"):
        lazy = node.lazy()
    meta_names = getattr(getattr(lazy, "metadata", None), "dimension_names", None)
    if meta_names is not None and len(meta_names) == nd:
        return [attr_text(n) if n is not None else "" for n in meta_names]
    if "DIMENSION_LIST" in attrs and lazy is not None and hasattr(lazy, "dims"):
        out = []
        try:
            for dim in lazy.dims:
                scales = list(dim.values()) if len(dim) else []
                name = posixpath.basename(scales[0].name) if scales else (dim.label or "")
                out.append(name)
        except Exception as exc:  # noqa: BLE001 - unreadable scales: no names
            logger.debug("dimension_names: caught %s", describe(exc))
            return []
        if any(out):
            return out
    return []


def dimensions(node: Node, *, read_values: bool = True) -> list[Dim]:
    """Name, coordinate values, units and long name of each dimension of an array; ``[]`` when none declared."""
    shape = tuple(node.shape or ())
    nd = len(shape)
    attrs = node.attrs or {}
    lazy = None
    with suppress_logged(logger, "dimensions"):
        lazy = node.lazy()
    if "DIMENSION_LIST" in attrs and lazy is not None and hasattr(lazy, "dims"):
        try:
            dims = []
            for ax, dim in enumerate(lazy.dims):
                scales = list(dim.values()) if len(dim) else []
                if not scales:
                    dims.append(Dim(dim.label or ""))
                    continue
                path = scales[0].name
                d = Dim(posixpath.basename(path), path=path)
                coord = _get(node, path)
                cattrs = (coord.attrs or {}) if coord is not None else {}
                d.units, d.long_name = attr_text(cattrs.get("units")), attr_text(cattrs.get("long_name"))
                if read_values and not attr_text(cattrs.get("NAME")).startswith(NETCDF_DIM_ONLY):
                    d.values = _read_coord(coord, shape[ax])
                dims.append(d)
            if any(d.name for d in dims):
                return dims
        except Exception as exc:  # noqa: BLE001 - fall through to names from attributes
            logger.debug("dimensions: caught %s", describe(exc))
            pass
    names = dimension_names(node)
    if not names:
        return []
    parent = posixpath.dirname(node.path.rstrip("/")) or "/"
    dims = []
    for ax, name in enumerate(names):
        d = Dim(name)
        if name and name != node.name:
            coord = _get(node, posixpath.join(parent, name))
            if coord is not None and coord.kind == "array" and tuple(coord.shape or ()) == (shape[ax],):
                cattrs = coord.attrs or {}
                d.path = coord.path
                d.units, d.long_name = attr_text(cattrs.get("units")), attr_text(cattrs.get("long_name"))
                if read_values:
                    d.values = _read_coord(coord, shape[ax])
        dims.append(d)
    return dims if len(dims) == nd else []


def _get(node: Node, path: str) -> Node | None:
    try:
        found = node.get(path)
        return found.target() if found.kind == "link" else found
    except Exception as exc:  # noqa: BLE001
        logger.debug("_get: caught %s", describe(exc))
        return None


# -- CF decoding -----------------------------------------------------------------------------------------
@dataclass
class CFInfo:
    """CF packing and masking attributes of one variable."""

    scale_factor: float | None = None
    add_offset: float | None = None
    #: packed values that mean "no data" (``_FillValue``, ``missing_value``)
    fill_values: list[Any] = field(default_factory=list)
    valid_min: float | None = None
    valid_max: float | None = None
    units: str = ""
    long_name: str = ""
    #: ``_Unsigned = "true"``: unsigned values kept in a signed type (netCDF-3 has no unsigned types; netCDF
    #: writers and xarray use it for unsigned bytes), read as unsigned as netCDF tools and xarray do
    unsigned: bool = False

    @property
    def packed(self) -> bool:
        """True when values need ``scale_factor``/``add_offset`` applied."""
        return self.scale_factor is not None or self.add_offset is not None

    @property
    def active(self) -> bool:
        """True when :func:`decode` changes anything."""
        bounded = self.valid_min is not None or self.valid_max is not None
        return self.unsigned or self.packed or bool(self.fill_values) or bounded

    @property
    def label(self) -> str:
        """``long_name (units)`` for a colour bar or y axis; ``""`` when neither is given."""
        base = self.long_name
        if self.units:
            return f"{base} ({self.units})" if base else self.units
        return base


def _number(value: Any) -> float | None:
    if isinstance(value, list | tuple):
        value = value[0] if len(value) == 1 else None
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out


def variable_attrs(node: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` of the variable ``node`` as CF decoding reads them.

    xarray writes a Zarr v2 variable's ``_FillValue`` as the array's ``fill_value`` (in ``.zarray``), not among
    its attributes, and reads it back from there: for a v2 array with ``_ARRAY_DIMENSIONS`` (xarray's mark) and
    no ``_FillValue`` attribute, the array's fill value is its ``_FillValue``.
    """
    if node is None or "_FillValue" in attrs or "_ARRAY_DIMENSIONS" not in attrs:
        return attrs
    if getattr(node, "zarr_format", None) != 2 or getattr(node, "kind", "") != "array":
        return attrs
    fill = node.fill_value
    if fill is None or isinstance(fill, bool | str) or (isinstance(fill, float) and math.isnan(fill)):
        return attrs  # none, or NaN: missing as it is
    packed = "scale_factor" in attrs or "add_offset" in attrs
    if fill == 0 and not packed:
        return attrs  # zarr's own default: arrays written by zarr with _ARRAY_DIMENSIONS keep their zeros
    return {**attrs, "_FillValue": fill}


def cf_info(attrs: dict[str, Any], dtype: Any = None) -> CFInfo:
    """The CF attributes of a variable (from its JSON-safe ``attrs``)."""
    info = CFInfo(
        scale_factor=_number(attrs.get("scale_factor")),
        add_offset=_number(attrs.get("add_offset")),
        units=attr_text(attrs.get("units")),
        long_name=attr_text(attrs.get("long_name")),
        unsigned=attr_text(attrs.get("_Unsigned")).strip().lower() == "true",
    )
    for key in ("_FillValue", "missing_value"):
        value = attrs.get(key)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, bool) or v is None:
                continue
            with contextlib.suppress(TypeError, ValueError):
                f = float(v)  # "NaN" strings too
                if f not in info.fill_values and not (np.isnan(f) and any(np.isnan(x) for x in info.fill_values)):
                    info.fill_values.append(f)
    vr = attrs.get("valid_range")
    if isinstance(vr, list) and len(vr) == 2:
        info.valid_min, info.valid_max = _number(vr[0]), _number(vr[1])
    if attrs.get("valid_min") is not None:
        info.valid_min = _number(attrs.get("valid_min"))
    if attrs.get("valid_max") is not None:
        info.valid_max = _number(attrs.get("valid_max"))
    return info


def mask(raw: np.ndarray, info: CFInfo) -> np.ndarray:
    """Boolean mask of the samples that are missing (fill/missing values, outside the valid range)."""
    a = np.asarray(raw)
    out = np.zeros(a.shape, bool)
    if a.dtype.kind not in "iuf":
        return out
    for fv in info.fill_values:
        out |= np.isnan(a) if np.isnan(fv) else (a == np.asarray(fv).astype(a.dtype, casting="unsafe"))
    if info.valid_min is not None:
        out |= a < info.valid_min
    if info.valid_max is not None:
        out |= a > info.valid_max
    return out


def decode(raw: np.ndarray, info: CFInfo) -> np.ndarray:
    """Unpacked values (``raw * scale_factor + add_offset``) with missing samples as NaN.

    Masking is done on the packed values, before scaling (as CF and xarray do).
    Arrays that need nothing are returned unchanged.
    """
    a = np.asarray(raw)
    if info.unsigned and a.dtype.kind == "i":
        a = a.view(a.dtype.str.replace("i", "u"))  # the same bits; -1 is 255
        wrap = float(2 ** (8 * a.dtype.itemsize))  # fill values were written in the signed type too
        info = replace(info, unsigned=False, fill_values=[v + wrap if v < 0 else v for v in info.fill_values])
    if not info.active or a.dtype.kind not in "iuf":
        return a
    missing = mask(a, info)
    dtype = np.float64 if a.dtype.itemsize > 4 or (info.packed and a.dtype.itemsize > 2) else np.float32
    out = a.astype(dtype, copy=True)
    if info.scale_factor is not None:
        out *= info.scale_factor
    if info.add_offset is not None:
        out += info.add_offset
    if missing.any():
        out[missing] = np.nan
    return out


# -- OME-Zarr ----------------------------------------------------------------------------------------------
@dataclass
class Channel:
    """One ``omero`` channel: its label, colour (``"RRGGBB"``) and display window."""

    label: str
    color: str = ""
    window: tuple[float, float] | None = None
    active: bool = True

    @property
    def rgb(self) -> tuple[int, int, int] | None:
        """The colour as an ``(r, g, b)`` tuple, None when not given."""
        c = self.color.lstrip("#")
        if len(c) != 6:
            return None
        try:
            return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
        except ValueError:
            return None


@dataclass
class OmeInfo:
    """OME-Zarr image metadata: axes (name, type, unit), physical scale per axis of level 0, channels, labels."""

    axes: list[dict[str, str]] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    translation: list[float] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    name: str = ""
    version: str = ""

    @property
    def axis_names(self) -> list[str]:
        """Axis names (``t``, ``c``, ``z``, ``y``, ``x``…)."""
        return [a.get("name", "") for a in self.axes]

    def axis_label(self, ax: int) -> str:
        """``y (µm)``-style label of axis ``ax``."""
        if ax >= len(self.axes):
            return ""
        a = self.axes[ax]
        unit = UNIT_SYMBOLS.get(a.get("unit", ""), a.get("unit", ""))
        return f"{a.get('name', '')} ({unit})" if unit else a.get("name", "")

    def pixel_size(self, ax: int) -> tuple[float, str] | None:
        """``(size, unit)`` of one pixel along axis ``ax`` at full resolution, None when not given."""
        if ax >= len(self.scale) or ax >= len(self.axes):
            return None
        return self.scale[ax], self.axes[ax].get("unit", "")


UNIT_SYMBOLS = {"micrometer": "µm", "nanometer": "nm", "millimeter": "mm", "centimeter": "cm", "meter": "m",
                "angstrom": "Å", "second": "s", "millisecond": "ms", "microsecond": "µs", "minute": "min",
                "hour": "h"}  # fmt: skip


def _transform(transforms: Any, kind: str) -> list[float]:
    if not isinstance(transforms, list):
        return []
    for t in transforms:
        if isinstance(t, dict) and t.get("type") == kind and isinstance(t.get(kind), list):
            with contextlib.suppress(TypeError, ValueError):
                return [float(v) for v in t[kind]]
    return []


def _ome_attrs(attrs: dict[str, Any]) -> tuple[dict[str, Any], str]:
    ome = attrs.get("ome")
    if isinstance(ome, dict):  # OME-Zarr 0.5 (Zarr v3): everything under "ome"
        return ome, attr_text(ome.get("version"))
    return attrs, ""


def ome_info(group: Node) -> OmeInfo | None:
    """The OME-Zarr metadata of an image group (``multiscales``), or None when it is not one."""
    if group.kind != "group":
        return None
    attrs, version = _ome_attrs(group.attrs or {})
    ms = attrs.get("multiscales")
    if not isinstance(ms, list) or not ms or not isinstance(ms[0], dict):
        return None
    m = ms[0]
    info = OmeInfo(name=attr_text(m.get("name")), version=version or attr_text(m.get("version")))
    for a in m.get("axes") or []:
        if isinstance(a, dict):
            info.axes.append({k: attr_text(a.get(k)) for k in ("name", "type", "unit") if a.get(k) is not None})
        elif isinstance(a, str):  # OME-Zarr 0.3: axes are names
            info.axes.append({"name": a})
    datasets = m.get("datasets") or []
    if datasets and isinstance(datasets[0], dict):
        ct = datasets[0].get("coordinateTransformations")
        info.scale = _transform(ct, "scale")
        info.translation = _transform(ct, "translation")
        outer_scale = _transform(m.get("coordinateTransformations"), "scale")
        if outer_scale and len(outer_scale) == len(info.scale):
            info.scale = [a * b for a, b in zip(info.scale, outer_scale, strict=True)]
    omero = attrs.get("omero")
    if isinstance(omero, dict):
        for i, ch in enumerate(omero.get("channels") or []):
            if not isinstance(ch, dict):
                continue
            window = ch.get("window") if isinstance(ch.get("window"), dict) else {}
            lo, hi = _number(window.get("start")), _number(window.get("end"))
            info.channels.append(Channel(attr_text(ch.get("label")) or f"channel {i}", attr_text(ch.get("color")),
                                         (lo, hi) if lo is not None and hi is not None else None,
                                         bool(ch.get("active", True))))  # fmt: skip
    info.labels = ome_labels(group)
    return info


def ome_labels(group: Node) -> list[str]:
    """Names of the label images of an OME-Zarr image (``labels/.zattrs`` ``"labels"``)."""
    labels = _get(group, "labels")
    if labels is None or labels.kind != "group":
        return []
    attrs, _ = _ome_attrs(labels.attrs or {})
    names = attrs.get("labels")
    if isinstance(names, list):
        return [attr_text(n) for n in names]
    with suppress_logged(logger, "ome_labels"):
        return sorted(c.name for c in labels.children() if c.kind == "group")
    return []


def ome_image_of(node: Node) -> Node | None:
    """The OME-Zarr image group an array (a pyramid level) belongs to, or the group itself; else None."""
    if node.kind == "group":
        return node if ome_info(node) is not None else None
    parent = None
    with suppress_logged(logger, "ome_image_of"):
        parent = node.parent()
    if parent is not None and ome_info(parent) is not None:
        return parent
    return None


__all__ = [
    "CFInfo",
    "Channel",
    "Dim",
    "OmeInfo",
    "cf_info",
    "decode",
    "dimension_names",
    "dimensions",
    "mask",
    "ome_image_of",
    "ome_info",
    "ome_labels",
]
