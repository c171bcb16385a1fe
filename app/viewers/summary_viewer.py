"""Folders, buckets and container groups: item counts, total size when cheap, group attributes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout

from storecore.cli import printable

from ..formatting import human_size
from .base import Target, Viewer, has_default_plot
from .budget import Budget
from .widgets import attribute_rows, fill_kv, kv_table

#: children listed for a group (more are counted but not shown)
MAX_CHILDREN = 2000


@dataclass
class Summary:
    """What a folder or group holds."""

    target: Target
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # name, kind, size/shape, dtype
    facts: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    #: the group leads to a NeXus default plot (offer the "Default plot" action)
    nexus_plot: bool = False


def _folder(target: Target) -> Summary:
    page = target.first_page
    files = [e for e in page if not e.is_dir]
    dirs = [e for e in page if e.is_dir]
    partial = len(page) >= 1000
    total = sum(e.size or 0 for e in files)
    more = " (first page)" if partial else ""
    kind = {"bucket": "Bucket", "dataset": "Table dataset"}.get(target.kind, "Folder")
    facts = [
        ("Kind", kind),
        ("Folders", f"{len(dirs)}{'+' if partial else ''}"),
        ("Files", f"{len(files)}{'+' if partial else ''}"),
        ("Total size of files", f"{'≥ ' if partial else ''}{human_size(total)}{more}"),
        ("URI", target.uri),
    ]
    if target.note:
        facts.append(("Note", target.note))
    ordered = sorted(page, key=lambda e: (not e.is_dir, e.name.lower()))
    rows = [(e.name + ("/" if e.is_dir else ""), _entry_kind(e), "" if e.is_dir else human_size(e.size), "") for e in ordered]
    return Summary(target, rows, facts)


def _entry_kind(entry: Any) -> str:
    """``folder``/``file``, or what storecore.detect names a container by its name (``Zarr store``, ``HDF5 file``)."""
    from storecore.detect import format_by_name, kind_label

    fmt = format_by_name(entry.name)
    if fmt == "zarr" and not entry.is_dir and not entry.name.lower().endswith(".zip"):
        fmt = None  # a file called x.zarr is no store
    label = kind_label(fmt, entry.name) if fmt is not None else ""
    return label or ("folder" if entry.is_dir else "file")


def _container_kind(target: Target) -> str:
    """What the root of a container is: ``Zarr store``, ``NeXus file``, ``HDF5 file``… (storecore.detect)."""
    from storecore.detect import detect_format, format_by_name, kind_label

    name = target.location.name or target.uri
    fmt = format_by_name(name)
    if fmt is None:
        try:
            fmt = detect_format(str(target.location.outer))
        except Exception:  # noqa: BLE001 - undetectable: a plain "Group"
            fmt = None
    return kind_label(fmt, name) or "Group"


def _broken_link(target: Target) -> Summary:
    """A link that leads to no group or dataset (its target missing, a loop of links) or a member whose metadata
    cannot be read: say why, as storecore found it, and to what."""
    node = target.node
    to = getattr(node, "link_target", None) or "an unknown target"
    why = str(getattr(node, "error", None) or "")
    own = f"{getattr(node, 'uri', '')}: "
    if why.startswith(own):
        why = why[len(own):]  # the path is the row above
    facts = [
        ("Kind", "Broken link"),
        ("Path", getattr(node, "path", "")),
        ("Points to", str(to)),
        ("Problem", why or f"nothing exists at {to}: the link is broken (not an empty group)"),
        ("URI", target.uri),
    ]
    if target.note:
        facts.insert(1, ("Link", target.note))
    return Summary(target, [], facts)


def _group(target: Target) -> Summary:
    node = target.node
    if getattr(node, "kind", "") == "link" and getattr(node, "broken", False):
        return _broken_link(target)
    rows = []
    count = groups = 0
    for child in node.children():
        count += 1
        groups += child.kind == "group"  # counted over every member: the rows stop at MAX_CHILDREN
        if len(rows) < MAX_CHILDREN:
            shape = "×".join(map(str, child.shape)) if child.shape is not None else ""
            dtype = str(child.dtype) if child.dtype is not None else ""
            kind = child.kind + (" (broken)" if getattr(child, "broken", False) else "")
            rows.append((printable(child.name), kind, shape, dtype))  # a newline in a name stays on its row
    root = not target.location.inner or target.location.inner.strip("/") == ""
    facts = [
        ("Kind", _container_kind(target) if root else "Group"),
        ("Path", node.path),
        ("Members", f"{count} ({groups} groups, {count - groups} others)"),
        ("URI", target.uri),
    ]
    if target.note:
        facts.insert(1, ("Link", target.note))
    attrs = dict(node.attrs or {})
    if attrs.get("NX_class"):
        facts[0] = ("Kind", f"{facts[0][1]} ({attrs['NX_class']})")
    return Summary(target, rows, facts, attrs, has_default_plot(target))


class SummaryViewer(Viewer):
    """A summary of a folder, bucket, table dataset or container group."""

    title = "Summary"

    def __init__(self) -> None:
        super().__init__()
        self.facts = kv_table([])
        self.default_button = QPushButton("Default plot")
        self.default_button.setToolTip("Show the plot this NeXus file declares (@default)")
        self.default_button.clicked.connect(self._show_default_plot)
        self.default_button.hide()
        self.children = QTreeWidget()
        self.children.setRootIsDecorated(False)
        self.children.setHeaderLabels(["Name", "Kind", "Size / shape", "Dtype"])
        self.attrs_label = QLabel("Attributes")
        self.attrs = kv_table([])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.facts)
        split.addWidget(self.children)
        split.addWidget(self.attrs)
        split.setSizes([140, 300, 120])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.default_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(split)

    @classmethod
    def priority(cls, target: Target) -> int:
        """Folders, buckets, groups; table datasets rank below the table viewer."""
        return {"folder": 10, "bucket": 10, "group": 10, "dataset": 5}.get(target.kind, 0)

    @classmethod
    def prepare(cls, target: Target, budget: Budget, token: Any) -> Summary:
        """Counts from the first listing page, or the group's members."""
        return _group(target) if target.kind == "group" else _folder(target)

    def display(self, payload: Summary) -> None:
        """Show facts, members and attributes."""
        fill_kv(self.facts, payload.facts)
        self.default_button.setVisible(payload.nexus_plot)
        rows_height = sum(self.facts.rowHeight(r) for r in range(self.facts.rowCount()))
        self.facts.setMaximumHeight(rows_height + self.facts.horizontalHeader().height() + 6)
        self.children.clear()
        items = []
        base = payload.target.uri.rstrip("/")
        if payload.target.kind == "group" and "::" not in base:
            base += "::"  # the root of a container: its members are "file.h5::/name"
        for r in payload.rows:
            item = QTreeWidgetItem(list(r))
            name = r[0].rstrip("/")
            # the full name and where it is: deep names are cut off in the column
            full = f"{base}/{name}"
            item.setToolTip(0, f"{r[0]}\n{full}")
            items.append(item)
        self.children.addTopLevelItems(items)
        for col in range(3):
            self.children.resizeColumnToContents(col)
        fill_kv(self.attrs, attribute_rows(payload.attrs))
        self.attrs.setVisible(bool(payload.attrs))
        self.ready.emit()

    def _show_default_plot(self) -> None:
        """Ask the pane to show this selection's NeXus plot (the nexus viewer, by name: no import)."""
        self.view_as_requested.emit("NexusViewer")


VIEWER = SummaryViewer
