"""Choosing a viewer for what is selected, by priority (as silx's ``DataViewer`` does).

Viewers are registered by dotted path (``"package.module:Class"``, as argos and
fsspec register plugins) and imported on first use: this module imports no
viewer at start-up, and no viewer imports this module (they share
:mod:`.base`), so there is no import cycle.  Each viewer class answers
:meth:`~.base.Viewer.priority` (0 = cannot show it) and the highest wins; the
pane also offers the others ("view as").
"""

from __future__ import annotations

import importlib
import threading

from .. import qt_classes
from .base import Target, Viewer, classify

__all__ = ["BUILTIN_VIEWERS", "Target", "Viewer", "candidates", "choose", "classify", "register_viewer", "viewers"]

#: the built-in viewers, in tie-break order (the first registered wins a tie)
BUILTIN_VIEWERS = (
    "app.viewers.nexus_viewer:NexusViewer",
    "app.viewers.value_viewer:ValueViewer",
    "app.viewers.array_viewer:ArrayViewer",
    "app.viewers.table_viewer:TableViewer",
    "app.viewers.image_viewer:ImageViewer",
    "app.viewers.text_viewer:TextViewer",
    "app.viewers.summary_viewer:SummaryViewer",
    "app.viewers.hex_viewer:HexViewer",
)
#: the viewer that accepts anything
FALLBACK_VIEWER = "app.viewers.hex_viewer:HexViewer"

_entries: list[str | type[Viewer]] = list(BUILTIN_VIEWERS)
_loaded: dict[str, type[Viewer]] = {}
_lock = threading.Lock()


def _load(entry: str | type[Viewer]) -> type[Viewer]:
    """The class an entry names (imported once; ``classify`` and ``prepare`` run on workers, hence the lock)."""
    if not isinstance(entry, str):
        return entry
    if entry not in _loaded:
        # A viewer's module imports Qt names: PySide6 makes those classes on the GUI thread first (before the
        # lock: the GUI thread may ask for a viewer meanwhile)
        qt_classes.ensure()
    with _lock:
        cls = _loaded.get(entry)
        if cls is None:
            module, _, name = entry.partition(":")
            cls = _loaded[entry] = getattr(importlib.import_module(module), name)
    return cls


def register_viewer(entry: str | type[Viewer]) -> str | type[Viewer]:
    """Add a viewer: a class, or its dotted path ``"package.module:Class"`` (imported on first use).

    Returns ``entry``, so a class can use it as a decorator.
    """
    with _lock:
        if entry not in _entries:
            _entries.append(entry)
    return entry


def viewers() -> list[type[Viewer]]:
    """All registered viewer classes (imported now if they were not yet)."""
    with _lock:
        entries = list(_entries)
    found: list[type[Viewer]] = []
    for entry in entries:
        cls = _load(entry)
        if cls not in found:
            found.append(cls)
    return found


def candidates(target: Target) -> list[type[Viewer]]:
    """Viewer classes able to show ``target``, best first."""
    ranked = [(cls.priority(target), i, cls) for i, cls in enumerate(viewers())]
    return [cls for p, i, cls in sorted(ranked, key=lambda t: (-t[0], t[1])) if p > 0]


def choose(target: Target) -> type[Viewer]:
    """The best viewer for ``target`` (the hex viewer accepts anything)."""
    found = candidates(target)
    return found[0] if found else _load(FALLBACK_VIEWER)
