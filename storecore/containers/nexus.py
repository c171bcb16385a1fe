"""NeXus default plots: follow ``@default`` from a file, NXentry or NXdata to the plot it declares.

As silx view and h5web do: ``@default`` chains (file → NXentry → NXdata),
``@signal``, ``@axes`` (``.`` for a dimension without an axis),
``@AXISNAME_indices``, ``@auxiliary_signals``, ``*_errors`` datasets,
old-style ``signal=1`` / ``axes="a:b"`` dataset attributes, ``@long_name`` and
``@units`` for labels, ``@interpretation`` and the entry's ``title``.  When a
file declares no ``@default``, the first NXentry/NXdata with a signal is used.

Everything goes through the public :class:`~storecore.containers.Node` API, so
HDF5 files and Zarr stores written with NeXus attributes work alike.  No Qt here.

>>> spec = default_plot(open_container("scan.nxs"))        # doctest: +SKIP
>>> spec.signal.path, [a.label if a else None for a in spec.axes]   # doctest: +SKIP
('/entry/data/counts', ['Energy (keV)'])
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..logs import describe, suppress_logged
from .node import Node, attr_text

logger = logging.getLogger(__name__)

#: axis datasets are read when at most this big
AXIS_MAX_BYTES = 16 * 1024 * 1024
#: ``@default`` hops followed before giving up (a loop or a very deep chain)
MAX_HOPS = 8
#: groups looked at when searching a file without ``@default`` for a plottable NXdata
MAX_SEARCH = 200
ENTRY_CLASSES = ("NXentry", "NXsubentry")


@dataclass
class AxisSpec:
    """One axis of a NeXus plot: the dataset giving the coordinates of signal dimension ``dim``."""

    name: str
    dim: int
    node: Node | None = None
    #: the coordinate values (1-D; ``len == n`` points or ``n + 1`` bin edges), None when unreadable
    values: np.ndarray | None = None
    units: str = ""
    long_name: str = ""
    errors: Node | None = None
    #: the signal dimensions this axis spans (``@AXISNAME_indices``); more than one for 2-D axes
    dims: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        """``@long_name`` when given, else ``name (units)``."""
        return axis_label(self.name, self.long_name, self.units)

    def centers(self, n: int) -> np.ndarray | None:
        """Coordinate of each of the ``n`` samples: the values, or bin centres when they are ``n + 1`` edges."""
        v = self.values
        if v is None or v.ndim != 1:
            return None
        if len(v) == n:
            return v
        if len(v) == n + 1:
            return (v[:-1] + v[1:]) / 2
        return None

    def linear(self, n: int) -> tuple[float, float] | None:
        """``(origin, spacing)`` of the samples' pixel edges when the axis is uniform, else None.

        For an image axis: sample ``i`` covers ``[origin + i * spacing, origin + (i + 1) * spacing)``.
        """
        v = self.values
        if v is None or v.ndim != 1 or n < 1:
            return None
        if len(v) == n + 1:  # bin edges
            edges = v
        elif len(v) == n:
            if n == 1:
                return float(v[0]) - 0.5, 1.0
            step = (v[-1] - v[0]) / (n - 1)
            edges = np.concatenate([v - step / 2, [v[-1] + step / 2]])
        else:
            return None
        d = np.diff(edges)
        if not np.all(np.isfinite(d)) or d[0] == 0:
            return None
        if not np.allclose(d, d[0], rtol=1e-3, atol=abs(d[0]) * 1e-6):
            return None
        return float(edges[0]), float(d[0])


@dataclass
class PlotSpec:
    """The plot a NeXus file declares: signal, one axis (or None) per signal dimension, errors, extra signals."""

    signal: Node
    #: the NXdata group (None for a plot found from a dataset's old-style ``signal=1``... group is then its parent)
    group: Node | None
    axes: list[AxisSpec | None] = field(default_factory=list)
    errors: Node | None = None
    auxiliary: list[Node] = field(default_factory=list)
    #: ``spectrum``, ``image``, ``rgba-image``, ``scalar`` or ``""``
    interpretation: str = ""
    title: str = ""
    signal_label: str = ""
    units: str = ""
    #: the ``@default`` path followed from the selected node (its group paths), for display
    chain: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the names the group gives the signal and the auxiliary signals: a member may be a link (bliss's
    #: ``plotselect/diode`` → ``/1.1/instrument/diode/data``) whose target has another name, often the same
    #: one (``data``) for every signal
    signal_name: str = ""
    auxiliary_names: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """Axis names per signal dimension (``""`` where there is none)."""
        return [a.name if a is not None else "" for a in self.axes]

    @property
    def labels(self) -> list[str]:
        """Axis labels per signal dimension (``""`` where there is none)."""
        return [a.label if a is not None else "" for a in self.axes]


# -- small helpers -------------------------------------------------------------------------------------
def axis_label(name: str, long_name: str = "", units: str = "") -> str:
    """``long_name`` when given (units appended unless they are in it already), else ``name (units)``."""
    base = long_name or name
    if units and units not in base and not units.startswith("NX_"):
        return f"{base} ({units})"
    return base


def _attrs(node: Node | None) -> dict[str, Any]:
    if node is None:
        return {}
    try:
        return node.attrs or {}
    except Exception as exc:  # noqa: BLE001 - unreadable attributes: no NeXus metadata
        logger.debug("_attrs: caught %s", describe(exc))
        return {}


def nx_class(node: Node | None) -> str:
    """The ``NX_class`` attribute of ``node`` (``""`` when it has none)."""
    return attr_text(_attrs(node).get("NX_class"))


def _get(node: Node, path: str) -> Node | None:
    """``node.get(path)`` with links followed, or None when absent or broken."""
    if not path:
        return None
    try:
        found = node.get(path)
        if found.kind == "link":
            found = found.target()
        return found
    except Exception as exc:  # noqa: BLE001 - a missing/broken member just is not there
        logger.debug("_get: caught %s", describe(exc))
        return None


def _child_names(group: Node) -> list[str]:
    """Names of a group's members (falls back to the underlying library when one member breaks listing)."""
    try:
        return [c.name for c in group.children()]
    except Exception as exc:  # noqa: BLE001
        logger.debug("_child_names: caught %s", describe(exc))
        pass
    lazy = None
    with suppress_logged(logger, "_child_names"):
        lazy = group.lazy()
    for attr in ("keys", "array_keys"):
        fn = getattr(lazy, attr, None)
        if fn is not None:
            with suppress_logged(logger, "_child_names"):
                names = [str(k) for k in fn()]
                if attr == "array_keys":
                    names += [str(k) for k in lazy.group_keys()]
                return sorted(names)
    return []


def _children(group: Node) -> list[Node]:
    out = []
    for name in _child_names(group):
        child = _get(group, name)
        if child is not None:
            out.append(child)
    return out


def _name_list(value: Any) -> list[str]:
    """``@axes``-style values as a list of names: lists as they are, strings split on ``:``/``,``/spaces."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        out: list[str] = []
        for v in value:
            out.extend(_name_list(v) if isinstance(v, list | tuple) else [attr_text(v).strip()])
        return out
    text = attr_text(value).strip()
    if text.startswith("[") and text.endswith("]"):  # a list written as its repr
        text = text[1:-1].replace("'", "").replace('"', "")
    return [t for t in re.split(r"[:,\s]+", text) if t]


def _indices(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        try:
            return tuple(int(v) for v in value)
        except (TypeError, ValueError):
            return None
    try:
        return (int(value),)
    except (TypeError, ValueError):
        with contextlib.suppress(TypeError, ValueError):
            return tuple(int(v) for v in _name_list(value))
    return None


def _truthy_signal(value: Any) -> bool:
    text = attr_text(value).strip()
    return text in ("1", "true", "True")


def read_small(node: Node | None, max_bytes: int = AXIS_MAX_BYTES) -> np.ndarray | None:
    """The whole (small, numeric) array of ``node`` as floats, else None."""
    if node is None or node.kind != "array" or node.shape is None:
        return None
    try:
        if node.nbytes > max_bytes:
            return None
        data = np.asarray(node.read_slice(()))
    except Exception as exc:  # noqa: BLE001 - an unreadable axis is just not shown
        logger.debug("read_small: caught %s", describe(exc))
        return None
    if data.dtype.kind not in "iufb":
        return None
    return data.astype(float)


def read_text(node: Node | None) -> str:
    """A (scalar or 1-element) string dataset's text, ``""`` when not a readable string."""
    if node is None or node.kind != "array":
        return ""
    try:
        if node.size > 16:
            return ""
        value = np.asarray(node.read_slice(())).ravel()
    except Exception as exc:  # noqa: BLE001
        logger.debug("read_text: caught %s", describe(exc))
        return ""
    if not value.size:
        return ""
    v = value[0]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v) if isinstance(v, str) else ""


# -- the default chain ---------------------------------------------------------------------------------
def is_nxdata_with_signal(node: Node | None) -> bool:
    """True for a group (NXdata or any group) declaring ``@signal``, or holding an old-style ``signal=1`` dataset."""
    if node is None or node.kind != "group":
        return False
    attrs = _attrs(node)
    if attrs.get("signal") is not None and _get(node, attr_text(attrs["signal"])) is not None:
        return True
    if nx_class(node) == "NXdata":
        return _old_style_signal(node) is not None
    return False


def _old_style_signal(group: Node) -> Node | None:
    return _old_style_member(group)[1]


def _old_style_member(group: Node) -> tuple[str, Node | None]:
    """The name in ``group`` and the dataset of its old-style ``signal=1`` member (``("", None)`` when none)."""
    for name in _child_names(group):
        child = _get(group, name)
        if child is not None and child.kind == "array" and _truthy_signal(_attrs(child).get("signal")):
            return name, child
    return "", None


def default_entry(root: Node) -> Node | None:
    """The entry a file's ``@default`` names, else its first NXentry (alphabetically); None when none."""
    attrs = _attrs(root)
    name = attr_text(attrs.get("default")).strip()
    if name:
        first = name.strip("/").split("/")[0]
        entry = _get(root, first)
        if entry is not None and entry.kind == "group":
            return entry
    for child in _children(root):
        if child.kind == "group" and nx_class(child) in ENTRY_CLASSES:
            return child
    return None


def find_default(node: Node) -> tuple[Node | None, list[str]]:
    """The NXdata group (or old-style signal holder) the ``@default`` chain of ``node`` leads to, and the chain."""
    chain = [node.path]
    current = node
    for _ in range(MAX_HOPS):
        if current.kind != "group":
            break
        name = attr_text(_attrs(current).get("default")).strip()
        nxt = _get(current, name) if name else None
        if nxt is None or nxt.path in chain:
            break
        current = nxt
        chain.append(current.path)
    if is_nxdata_with_signal(current):
        return current, chain
    if current.kind == "group":
        found = _search(current)
        if found is not None:
            chain.append(found.path)
            return found, chain
    if current is not node and node.kind == "group":  # the chain led nowhere plottable: search from the start
        found = _search(node)
        if found is not None:
            return found, [node.path, found.path]
    return None, chain


def _search(group: Node) -> Node | None:
    """The first plottable NXdata below ``group``, breadth first, entries' ``@default`` first (as silx)."""
    queue = [group]
    seen = 0
    while queue and seen < MAX_SEARCH:
        g = queue.pop(0)
        seen += 1
        if g is not group:
            if is_nxdata_with_signal(g):
                return g
            name = attr_text(_attrs(g).get("default")).strip()
            if name and nx_class(g) in ENTRY_CLASSES:
                target = _get(g, name)
                if is_nxdata_with_signal(target):
                    return target
        # only NeXus groups (with an NX_class) are searched: a plain file costs one listing
        kids = [c for c in _children(g) if c.kind == "group" and nx_class(c)]
        # NXentry and NXdata first: the plot is almost always there
        rank = {"NXentry": 0, "NXsubentry": 0, "NXdata": 1}
        kids.sort(key=lambda c: rank.get(nx_class(c), 2))
        queue.extend(kids)
    return None


def has_default_plot(node: Node) -> bool:
    """Cheap check used to rank viewers: does ``node`` (file, NXentry, NXdata) lead to a NeXus plot?"""
    if node.kind != "group":
        return False
    attrs = _attrs(node)
    cls = nx_class(node)
    if attrs.get("default") is None and attrs.get("signal") is None and not cls:
        if node.path != "/":
            return False  # not a NeXus group: no search
        if getattr(node.container, "format", "") == "zarr" and not any(k.startswith("NeXus") for k in attrs):
            return False  # a Zarr store without NeXus marks: never list a (possibly huge, remote) root for this
    try:
        return find_default(node)[0] is not None
    except Exception as exc:  # noqa: BLE001
        logger.debug("has_default_plot: caught %s", describe(exc))
        return False


def default_plot(node: Node, *, read_axes: bool = True) -> PlotSpec | None:
    """The :class:`PlotSpec` ``node`` declares (following ``@default``), or None when there is none.

    ``node`` may be the file's root, an NXentry, an NXdata or a signal dataset
    itself (old-style files mark it ``signal=1``).  Axis values are read when
    ``read_axes`` (small 1-D datasets only).
    """
    # an array's plot comes from the group it is selected in: for a link, the link's group, not its target's
    # (an NXdata's signal is most often a link to a detector's data, with the axes only in the NXdata)
    name, group = node.name, node.parent() if node.kind in ("array", "link") else None
    if node.kind == "link":
        node = node.target()
    if node.kind == "array":
        if group is None:
            return None
        return nxdata_plot(group, read_axes=read_axes, signal=node, signal_name=name)
    group, chain = find_default(node)
    if group is None:
        return None
    spec = nxdata_plot(group, read_axes=read_axes)
    if spec is not None:
        spec.chain = chain
        if not spec.title:
            spec.title = _entry_title(group)
    return spec


def _entry_title(group: Node) -> str:
    node: Node | None = group
    while node is not None:
        if nx_class(node) in ENTRY_CLASSES:
            text = read_text(_get(node, "title"))
            if text:
                return text
        if node.path == "/":
            break
        try:
            node = node.parent()
        except Exception as exc:  # noqa: BLE001
            logger.debug("_entry_title: caught %s", describe(exc))
            break
    return ""


def nxdata_plot(
    group: Node, *, read_axes: bool = True, signal: Node | None = None, signal_name: str = ""
) -> PlotSpec | None:
    """The plot of one NXdata group (new-style ``@signal``/``@axes`` or old-style ``signal=1``).

    ``signal`` plots that array of the group instead of its ``@signal``; ``signal_name`` is its name in the group
    when it is reached through a link (whose target has another name).
    """
    attrs = _attrs(group)
    notes: list[str] = []
    signal_name = signal_name or (signal.name if signal is not None else "")
    if signal is None:
        signal_name = attr_text(attrs.get("signal")).strip()
        signal = _get(group, signal_name) if signal_name else None
        if signal is None:
            signal_name, signal = _old_style_member(group)
    if signal is None or signal.kind != "array" or signal.shape is None:
        return None
    sattrs = _attrs(signal)
    shape = tuple(signal.shape)
    nd = len(shape)

    # which dataset gives the axis of each dimension
    axes: list[AxisSpec | None] = [None] * nd
    names = _name_list(attrs.get("axes")) if attrs.get("axes") is not None else _name_list(sattrs.get("axes"))
    assigned: dict[str, tuple[int, ...]] = {}
    for pos, name in enumerate(names):
        if name in (".", "") or name in assigned:
            continue
        idx = _indices(attrs.get(f"{name}_indices"))
        if idx is None:
            idx = (pos,) if len(names) == nd or pos < nd else ()
        assigned[name] = idx
    # @AXISNAME_indices of axes not in @axes (other axes, e.g. 2-D coordinates) are not plotted
    if not names:  # very old style: datasets with axis=N (1-based), primary=1 preferred
        for child in _children(group):
            a = _attrs(child)
            if child.kind == "array" and a.get("axis") is not None:
                idx = _indices(a.get("axis"))
                if idx and 1 <= idx[0] <= nd and attr_text(a.get("primary", "1")) in ("1", "True", "true"):
                    assigned.setdefault(child.name, (idx[0] - 1,))
    for name, idx in assigned.items() if nd else ():
        if not idx or any(not 0 <= i < nd for i in idx):
            notes.append(f"axis {name}: indices {list(idx)} do not fit the signal's {nd} dimensions")
            continue
        node = _get(group, name)
        if node is None or node.kind != "array":
            notes.append(f"axis {name}: no such dataset")
            continue
        a = _attrs(node)
        spec = AxisSpec(name, idx[-1] if len(idx) > 1 else idx[0], node, None, attr_text(a.get("units")),
                        attr_text(a.get("long_name")), _get(group, f"{name}_errors"), tuple(idx))  # fmt: skip
        if len(idx) == 1:
            if read_axes:
                spec.values = read_small(node)
                if spec.values is not None:
                    spec.values = spec.values.ravel()
                    if spec.values.size not in (shape[idx[0]], shape[idx[0]] + 1):
                        notes.append(f"axis {name}: {spec.values.size} values for a dimension of {shape[idx[0]]}")
                        spec.values = None
        else:
            notes.append(f"axis {name} spans dimensions {list(idx)}: shown as indices")
        if axes[spec.dim] is None:
            axes[spec.dim] = spec

    errors = _get(group, f"{signal_name}_errors") or _get(group, "errors")  # "errors": the old-style name
    if errors is not None and (errors.kind != "array" or tuple(errors.shape or ()) != shape):
        errors = None
    auxiliary, auxiliary_names = [], []
    for name in _name_list(attrs.get("auxiliary_signals")):
        node = _get(group, name)
        if node is not None and node.kind == "array" and tuple(node.shape or ()) == shape:
            auxiliary.append(node)
            auxiliary_names.append(name)
    interpretation = attr_text(sattrs.get("interpretation") or attrs.get("interpretation")).strip().lower()
    title = attr_text(attrs.get("title")).strip() or read_text(_get(group, "title"))
    units = attr_text(sattrs.get("units"))
    label = axis_label(signal_name, attr_text(sattrs.get("long_name")), units)
    return PlotSpec(signal, group, axes, errors, auxiliary, interpretation, title, label, units, [group.path], notes,
                    signal_name, auxiliary_names)  # fmt: skip


__all__ = [
    "AxisSpec",
    "PlotSpec",
    "axis_label",
    "default_entry",
    "default_plot",
    "find_default",
    "has_default_plot",
    "is_nxdata_with_signal",
    "nx_class",
    "nxdata_plot",
    "read_small",
    "read_text",
]
