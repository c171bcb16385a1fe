"""Arrays (npy, npz members, Zarr and HDF5 arrays): a metadata panel and the slice plot below.

Importing this module costs nothing at start-up: pyqtgraph and the slice plot
are imported on a worker (:meth:`ArrayViewer.preload`, from the pane's warm-up
or from ``prepare``), and the pane builds the viewer in short steps.
"""

from __future__ import annotations

import contextlib
import logging
import math
import posixpath
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QPushButton, QTabWidget

from ..formatting import human_size
from ..plot.source import ArraySource
from .base import Target, Viewer
from .budget import Budget
from .widgets import alive, attribute_rows, fill_kv, kv_table, stack_over_plot

log = logging.getLogger(__name__)

#: coordinate arrays (named by ``_ARRAY_DIMENSIONS``) are read when at most this big
COORD_MAX_BYTES = 8 * 1024 * 1024


@dataclass
class ArrayPayload:
    """An opened array source with its metadata rows and coordinates."""

    target: Target
    source: Any
    facts: list[tuple[str, str]]
    attrs: dict
    names: list[str] = field(default_factory=list)
    coords: dict[int, np.ndarray] = field(default_factory=dict)
    fill_value: Any = None
    members: list[str] = field(default_factory=list)
    member: str = ""
    budget: Budget = field(default_factory=Budget)
    levels: list = field(default_factory=list)
    #: axis titles per dimension (``lon (degrees_east)``) and the values' label (``Air temperature (K)``)
    labels: list[str] = field(default_factory=list)
    value_label: str = ""
    #: the URI of the NeXus file (root) this array belongs to, when it declares a default plot
    nexus_root: str = ""


class DecodedSource(ArraySource):
    """An array source whose values are CF-decoded (``scale_factor``/``add_offset``, fill values as NaN)."""

    def __init__(self, inner: Any, cf: Any) -> None:
        self.inner, self.cf = inner, cf
        for name in ("uri", "name", "shape", "chunks", "attrs", "compressor", "fill_value", "stored_nbytes",
                     "prefix_reads"):  # fmt: skip
            setattr(self, name, getattr(inner, name, None))
        self.filters = list(getattr(inner, "filters", []) or [])
        self.dtype = np.dtype("f8" if inner.dtype.itemsize > 4 or (cf.packed and inner.dtype.itemsize > 2) else "f4")

    def read(self, selection: Any) -> np.ndarray:
        """The inner source's values, decoded."""
        from storecore.containers.conventions import decode

        return np.asarray(decode(self.inner.read(selection), self.cf), dtype=self.dtype)

    def multiscales(self) -> list:
        """The inner source's coarser levels, decoded alike."""
        return [DecodedSource(level, self.cf) for level in self.inner.multiscales()]

    def close(self) -> None:
        """Close the inner source."""
        self.inner.close()


def _npz(target: Target, budget: Budget, member: str | None = None) -> tuple[Any, list[str], str]:
    """An ``.npz`` member as a source (members are compressed zip entries: read whole, within budget)."""
    import io
    import zipfile

    from storecore.errors import CorruptData, PickleNotAllowed

    from ..plot.source import NumpySource

    data = target.backend.read_bytes(target.location.path) if not target.location.is_local else None
    handle: Any = target.location.path if data is None else io.BytesIO(data)
    try:
        with zipfile.ZipFile(handle) as z:
            infos = {i.filename[:-4] if i.filename.endswith(".npy") else i.filename: i for i in z.infolist()}
            names = list(infos)
            if not names:
                raise CorruptData(f"{target.uri}: empty .npz archive", path=target.uri)
            member = member if member in infos else names[0]
            if not budget.fits(infos[member].file_size):
                raise CorruptData(f"{target.uri}: member {member} is {human_size(infos[member].file_size)} (over the preview budget)", path=target.uri)
            with z.open(infos[member]) as f:
                arr = np.lib.format.read_array(f, allow_pickle=False)
    except ValueError as e:
        raise PickleNotAllowed(f"{target.uri}: {e}", path=target.uri) from e
    except zipfile.BadZipFile as e:
        raise CorruptData(f"{target.uri}: not a readable .npz archive ({e})", path=target.uri) from e
    return NumpySource(arr, uri=f"{target.uri}#{member}", name=member), names, member


def _dims_and_coords(target: Target, source: Any, attrs: dict) -> tuple[list[str], dict[int, np.ndarray]]:
    """Axis names from ``_ARRAY_DIMENSIONS`` and 1-D coordinate arrays of the same name beside the array."""
    names = attrs.get("_ARRAY_DIMENSIONS")
    if not isinstance(names, list) or len(names) != len(source.shape):
        return [], {}
    coords: dict[int, np.ndarray] = {}
    if target.node is None:
        return [str(n) for n in names], coords
    parent = posixpath.dirname(target.location.inner.rstrip("/")) or "/"
    for ax, name in enumerate(names):
        if not isinstance(name, str) or name == posixpath.basename(target.location.inner):
            continue
        try:  # same container: no new file handle
            node = target.node.get(posixpath.join(parent, name))
            if node.kind != "array" or tuple(node.shape or ()) != (source.shape[ax],) or node.nbytes > COORD_MAX_BYTES:
                continue
            values = np.asarray(node.read_slice((slice(None),)))
        except Exception as e:  # noqa: BLE001 - no coordinate array is fine
            log.debug("no coordinates from axis %s: %s", ax, e)
            continue
        if values.dtype.kind in "iuf":
            coords[ax] = values.astype(float)
    return [str(n) for n in names], coords


Conventions = tuple[list[str], dict[int, np.ndarray], list[str], list]


def _conventions(target: Target, node: Any, shape: tuple[int, ...]) -> Conventions:
    """Names, coordinates, axis titles and extra facts from NeXus, NetCDF4/CF, Zarr and OME-Zarr conventions."""
    from storecore.containers import conventions, nexus

    names: list[str] = []
    coords: dict[int, np.ndarray] = {}
    labels: list[str] = []
    facts: list[tuple[str, str]] = []
    ome_group = conventions.ome_image_of(target.node) if target.node is not None else None
    info = conventions.ome_info(ome_group) if ome_group is not None else None
    if info is not None and len(info.axes) == len(shape):
        names = info.axis_names
        labels = [info.axis_label(ax) for ax in range(len(shape))]
        for ax, axis in enumerate(info.axes):
            if axis.get("type") in ("space", "time") and ax < len(info.scale):
                origin = info.translation[ax] if ax < len(info.translation) else 0.0
                coords[ax] = origin + np.arange(shape[ax]) * info.scale[ax]
        if info.channels:
            channels = [f"{c.label} (#{c.color})" if c.color else c.label for c in info.channels]
            facts.append(("Channels", ", ".join(channels)))
        sizes = [f"{axis['name']} {info.scale[ax]:g} {conventions.UNIT_SYMBOLS.get(axis.get('unit', ''), axis.get('unit', ''))}".strip()
                 for ax, axis in enumerate(info.axes) if axis.get("type") == "space" and ax < len(info.scale)]  # fmt: skip
        if sizes:
            facts.append(("Pixel size", ", ".join(sizes)))
        if info.labels:
            facts.append(("Labels", ", ".join(info.labels)))
        return names, coords, labels, facts
    if node is None or node.kind != "array":
        return names, coords, labels, facts
    # the group the array is selected in: a link's when it was reached through one (an NXdata's signal is most
    # often a link to a detector's data, in this file or another), whose own group holds the axes
    with contextlib.ExitStack() as stack:
        member = node
        if target.note.startswith("link"):
            from storecore.containers import open_container

            member = stack.enter_context(open_container(target.uri))
        parent = member.parent()
        if parent is not None and nexus.nx_class(parent) == "NXdata":  # a NeXus signal (or axis) selected directly
            spec = nexus.nxdata_plot(parent, signal=node, signal_name=member.name)
            if spec is not None and any(a is not None for a in spec.axes):
                for ax in spec.axes:
                    if ax is not None and (values := ax.centers(shape[ax.dim])) is not None:
                        coords[ax.dim] = values
                return spec.names, coords, spec.labels, facts
    dims = conventions.dimensions(node)
    if dims:
        names = [d.name for d in dims]
        labels = [d.label if d.units or d.long_name else "" for d in dims]
        coords = {ax: d.values for ax, d in enumerate(dims) if d.values is not None}
    return names, coords, labels, facts


def describe(source: Any, target: Target) -> list[tuple[str, str]]:
    """Metadata rows: shape, dtype, chunks, compressor, sizes on disk and in memory."""
    rows = [
        ("Shape", " × ".join(map(str, source.shape)) or "scalar"),
        ("Dtype", str(source.dtype)),
    ]
    if source.chunks:
        n = math.prod(math.ceil(s / c) for s, c in zip(source.shape, source.chunks, strict=False))
        chunk_bytes = math.prod(source.chunks) * source.dtype.itemsize
        rows.append(("Chunks", f"{' × '.join(map(str, source.chunks))}  ({n:,} chunks of {human_size(chunk_bytes)})"))
    else:
        rows.append(("Chunks", getattr(source, "layout", None) or "contiguous"))  # or compact, virtual, external
    if source.compressor:
        rows.append(("Compressor", source.compressor))
    filters = getattr(source, "filters", None)
    if filters:
        rows.append(("Filters", ", ".join(map(str, filters))))
    if source.fill_value is not None:
        rows.append(("Fill value", repr(source.fill_value)))
    rows.append(("Size in memory", f"{human_size(source.nbytes)} ({source.nbytes:,} bytes)"))
    stored = source.stored_nbytes if source.stored_nbytes is not None else target.size
    if stored:
        ratio = f"  (ratio {source.nbytes / stored:.2f})" if stored else ""
        rows.append(("Size on disk", f"{human_size(stored)}{ratio}"))
    rows.append(("URI", target.uri))
    return rows


def _is_multiscale(node: Any) -> bool:
    attrs = node.attrs or {}
    return bool(attrs.get("multiscales") or (attrs.get("ome") or {}).get("multiscales"))


def open_array(target: Target, budget: Budget, member: str | None = None) -> ArrayPayload:
    """Open ``target`` as an array source and collect its metadata (worker)."""
    from ..plot.source import NodeSource, open_npy

    members: list[str] = []
    if target.kind == "group":  # an OME-Zarr image: show its finest level, with the others as a pyramid
        levels = list(target.node.multiscales())
        source = NodeSource(levels[0], levels=levels)
    elif target.node is not None:
        source = NodeSource(target.node)
    elif target.ext == ".npz":
        source, members, member = _npz(target, budget, member)
    else:
        source = open_npy(target.backend, target.location, target.size)
    attrs = dict(getattr(source, "attrs", {}) or {})
    names, coords = _dims_and_coords(target, source, attrs)
    from storecore.containers.conventions import variable_attrs

    cf_attrs = variable_attrs(getattr(source, "node", None), attrs)  # with a Zarr v2 variable's _FillValue
    fill = cf_attrs.get("_FillValue", cf_attrs.get("missing_value"))
    if isinstance(fill, list):
        fill = fill[0] if fill else None
    facts = describe(source, target)
    labels: list[str] = []
    value_label = ""
    if target.node is not None:
        from storecore.containers.conventions import cf_info

        node = getattr(source, "node", None)
        try:
            c_names, c_coords, labels, extra = _conventions(target, node, tuple(source.shape))
        except Exception as e:  # noqa: BLE001 - conventions only add labels: never fail the preview
            log.debug("conventions of %s not applied: %s", target.uri, e)
            c_names, c_coords, labels, extra = [], {}, [], []
        if c_names:
            names, coords = c_names, {**coords, **c_coords}
        facts[-1:-1] = extra
        try:
            facts[1:1] = [("Warning", w) for w in node.warnings()] if node is not None else []
        except Exception as e:  # noqa: BLE001 - a note only: never fail the preview
            log.debug("no warnings for %s: %s", target.uri, e)
        cf = cf_info(cf_attrs, source.dtype)
        value_label = cf.label
        if cf.active and source.dtype.kind in "iuf" and source.dtype.names is None:
            packing = f"× {cf.scale_factor:g}" if cf.scale_factor is not None else ""
            packing += f" + {cf.add_offset:g}" if cf.add_offset is not None else ""
            masked = ", ".join(f"{v:g}" for v in cf.fill_values)
            facts.insert(2, ("CF decoding", "; ".join(t for t in (cf.unsigned and "read as unsigned (_Unsigned)",
                                                                     packing.strip() and f"values {packing.strip()}",
                                                                     masked and f"missing: {masked}") if t)))  # fmt: skip
            source = DecodedSource(source, cf)
            fill = None  # decoded: missing samples are NaN already
    levels = source.multiscales()  # metadata I/O: here on the worker, not in the plot
    return ArrayPayload(target, source, facts, attrs, names, coords, fill, members, member or "", budget,
                        levels, labels, value_label, _nexus_root(target))  # fmt: skip


def _nexus_root(target: Target) -> str:
    """The container root's URI when this array sits in a NeXus file with a default plot, else ``""``."""
    node = target.node
    if node is None or node.kind != "array":
        return ""
    try:
        from storecore.containers import nexus

        root = node.get("/")
        parent = node.parent()
        if not (nexus.nx_class(parent) or (root.attrs or {}).get("default")):
            return ""  # not a NeXus file: no search
        return root.uri if nexus.has_default_plot(root) else ""
    except Exception as e:  # noqa: BLE001 - no action then
        log.debug("no NeXus default plot above %s: %s", target.uri, e)
        return ""


class ArrayViewer(Viewer):
    """Metadata panel (with attributes) over the slice plot."""

    title = "Array"
    STEPWISE = True

    def __init__(self, *, build_now: bool = True) -> None:
        """``build_now=False``: the slice plot is built by :meth:`build_step` calls (the pane's idle-time steps)."""
        super().__init__()
        from ..plot.slice_plot import SlicePlot  # pyqtgraph: imported by preload() on a worker beforehand
        from ..workers import LatestOnly

        self.payload: ArrayPayload | None = None
        self._slot = LatestOnly(owner=self)  # .npz member switches
        self.facts = kv_table([])
        self.attrs = kv_table([])
        self.meta = QTabWidget()
        self.meta.addTab(self.facts, "Metadata")
        self.meta.addTab(self.attrs, "Attributes")
        self.member = QComboBox()
        self.member.setToolTip("Member of the .npz archive")
        self.member.activated.connect(self._on_member)
        self.member.hide()
        self.default_button = QPushButton("Default plot")
        self.default_button.setToolTip("Select this NeXus file and show the plot it declares (@default)")
        self.default_button.clicked.connect(self._show_default_plot)
        self.default_button.hide()
        self.plot = SlicePlot(build_now=build_now)
        self.plot.painted.connect(self.ready)
        self.plot.status.connect(self.status)
        top = [self.member, (self.default_button, Qt.AlignmentFlag.AlignLeft), self.meta]
        stack_over_plot(self, top, self.plot, 120)

    @classmethod
    def priority(cls, target: Target) -> int:
        """npy/npz files and container arrays."""
        if target.kind == "array":
            return 40 if target.is_plottable or target.value_kind == "" else 3  # text/table views fit better
        if target.kind == "group" and target.node is not None and _is_multiscale(target.node):
            return 45
        if target.kind == "file" and target.ext in (".npy", ".npz"):
            return 40
        return 0

    @classmethod
    def preload(cls) -> None:
        """Import pyqtgraph, the slice plot and what its first build and paint use (worker thread)."""
        from ..plot.slice_plot import preload

        preload()

    @classmethod
    def prepare(cls, target: Target, budget: Budget, token: Any) -> ArrayPayload:
        """Open the array and read its metadata; the slice is read by the plot.

        The plot's modules are imported here too (at once when the pane's warm-up did it), on
        the worker, so that the first array shown does not freeze the window for the import.
        The first slice's tiles are read into the chunk cache meanwhile, for a short while (and
        for as long as the warm-up still imports): the plot finds them there, and a slice read
        in that time is shown whole in the plot's first paint.
        """
        payload = open_array(target, budget)
        from ..plot.slice_plot import prefetch_first_view

        prefetch_first_view(payload.source, payload.levels, budget, token)
        cls.preload()
        return payload

    def build_step(self) -> bool:
        """One more step of the slice plot's construction (``build_now=False``); True once complete."""
        return self.plot.build_step()

    def display(self, payload: ArrayPayload) -> None:
        """Fill the metadata panel and start the slice plot (``ready`` follows its first paint)."""
        old = self.payload
        self.payload = payload
        fill_kv(self.facts, payload.facts)
        fill_kv(self.attrs, attribute_rows(payload.attrs))
        self.meta.setTabText(1, f"Attributes ({len(payload.attrs)})")
        self.member.blockSignals(True)
        self.member.clear()
        self.member.addItems(payload.members)
        if payload.member:
            self.member.setCurrentText(payload.member)
        self.member.blockSignals(False)
        self.member.setVisible(bool(payload.members))
        self.default_button.setVisible(bool(payload.nexus_root))
        self.plot.budget = payload.budget
        self.plot.set_source(payload.source, payload.coords, payload.names, payload.fill_value, payload.levels)
        if payload.labels or payload.value_label:
            self.plot.set_labels(payload.labels, payload.value_label)
        if old is not None and old.source is not payload.source and old.target.node is None:
            old.source.close()  # container nodes are closed by the pane with their target

    def _on_member(self, index: int) -> None:
        if self.payload is None:
            return
        target, name = self.payload.target, self.member.itemText(index)
        self._slot.submit(open_array, target, self.payload.budget, name,
                                      on_done=lambda p: alive(self) and self.display(p),
                                      on_error=lambda m, e: alive(self) and self.status.emit(m))  # fmt: skip

    def _show_default_plot(self) -> None:
        """Select the NeXus file in the window (its preview is the default plot), or show it here."""
        if self.payload is None or not self.payload.nexus_root:
            return
        reveal = getattr(self.window(), "reveal", None)
        if reveal is not None:
            reveal(self.payload.nexus_root)
            return
        self.show_requested.emit(self.payload.nexus_root)

    def stop(self) -> None:
        """Drop the plot's running read."""
        self.plot.stop()


VIEWER = ArrayViewer
