"""pyqtgraph's colour-map menu without matplotlib at build time.

Every histogram pyqtgraph builds (``HistogramLUTItem`` → ``GradientEditorItem``)
builds a ``ColorMapMenu``, which asks matplotlib for its list of colour maps
to decide whether an "Others" submenu is needed: that imports
``matplotlib.pyplot`` (0.3-1 s, holding the GIL) whenever matplotlib is
installed, although the submenu's entries are only listed when it opens.
:func:`defer_matplotlib_maps` makes the menu ask when the submenu opens.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any

_applied = False


def defer_matplotlib_maps() -> None:
    """Let pyqtgraph's colour-map menus list matplotlib's extra maps when their submenu opens (once; idempotent)."""
    global _applied
    if _applied:
        return
    from pyqtgraph.widgets import ColorMapMenu as menu_module

    listed = getattr(menu_module, "find_mpl_leftovers", None)
    menu_class = getattr(menu_module, "ColorMapMenu", None)
    if listed is None or menu_class is None:
        _applied = True  # another pyqtgraph: nothing of this shape to defer
        return
    building = threading.local()

    def leftovers() -> list[Any]:
        # While a menu is built only whether the submenu exists matters (matplotlib has more maps than
        # pyqtgraph lists by category); when the submenu opens, the real list.
        if getattr(building, "depth", 0) and "matplotlib.pyplot" not in sys.modules:
            return ["…"] if importlib.util.find_spec("matplotlib") is not None else []
        return listed()

    build = menu_class.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        building.depth = getattr(building, "depth", 0) + 1
        try:
            build(self, *args, **kwargs)
        finally:
            building.depth -= 1

    menu_module.find_mpl_leftovers = leftovers
    menu_class.__init__ = init
    _applied = True
