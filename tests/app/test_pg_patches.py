"""app.plot.pg_patches: pyqtgraph's colour-map menu asks matplotlib for its maps only when that submenu opens."""

from __future__ import annotations

import importlib.util
import sys


def test_matplotlib_maps_are_listed_when_their_submenu_opens_not_when_a_histogram_is_built(qtbot, monkeypatch):
    import pyqtgraph as pg

    from app.plot.pg_patches import defer_matplotlib_maps

    defer_matplotlib_maps()
    defer_matplotlib_maps()  # once is enough; again changes nothing
    listed = []
    original_list, original_spec = pg.colormap.listMaps, importlib.util.find_spec

    def list_maps(source=None):
        if source == "matplotlib":  # what importing matplotlib.pyplot would cost
            listed.append(source)
            return []
        return original_list(source)

    monkeypatch.setattr(pg.colormap, "listMaps", list_maps)
    # as if matplotlib were installed (without importing it)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "matplotlib" else original_spec(name, *a))
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot", raising=False)

    histogram = pg.HistogramLUTItem()
    assert listed == []  # built without asking matplotlib
    menu = histogram.gradient.menu
    mpl = next(a.menu() for a in menu.actions() if a.text() == "matplotlib")
    others = next(a.menu() for a in mpl.actions() if a.text() == "Others")
    others.aboutToShow.emit()
    assert listed == ["matplotlib"]  # asked when the submenu opens
