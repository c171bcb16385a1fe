"""Two measured patches to pyqtgraph: its colour-map menu without matplotlib at build time, a faster downsample.

Every histogram pyqtgraph builds (``HistogramLUTItem`` → ``GradientEditorItem``)
builds a ``ColorMapMenu``, which asks matplotlib for its list of colour maps
to decide whether an "Others" submenu is needed: that imports
``matplotlib.pyplot`` (0.3-1 s, holding the GIL) whenever matplotlib is
installed, although the submenu's entries are only listed when it opens.
:func:`defer_matplotlib_maps` makes the menu ask when the submenu opens.

An image larger than the view (``ImageItem(autoDownsample=True)``) is
averaged down to screen resolution on every render by
``pyqtgraph.functions.downsample``, a mean over a reshaped axis of length n:
6.4 ms for a 1024² float32 plane along its rows' axis, where summing the n
strided slices takes 0.4 ms (``benchmarks/plot_render.py``).  It ran on the
GUI thread in every paint of a new frame.  :func:`faster_downsample` swaps in
the strided sum for the mean of finite and NaN-propagating data (the same
values, to float rounding); anything else goes to pyqtgraph's own.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any

import numpy as np

_applied = False
_downsample_applied = False
#: the strided sum is used up to this factor (beyond, pyqtgraph's mean: n passes would cost more than one)
MAX_STRIDED_FACTOR = 64


def strided_downsample(data: np.ndarray, n: int, axis: int) -> np.ndarray:
    """The mean of every ``n`` consecutive items along ``axis`` (a trailing remainder dropped), as n strided slices summed.

    The result's dtype is pyqtgraph's: the input's for floats, float64 otherwise.
    """
    count = data.shape[axis] // n
    where: list[Any] = [slice(None)] * data.ndim

    def part(k: int) -> np.ndarray:
        where[axis] = slice(k, count * n, n)
        return data[tuple(where)]

    out = part(0).astype(data.dtype if data.dtype.kind == "f" else np.float64, copy=True)
    for k in range(1, n):
        out += part(k)
    out /= n
    return out


def faster_downsample() -> None:
    """Make ``pyqtgraph.functions.downsample`` use :func:`strided_downsample` where it gives the same values (once)."""
    global _downsample_applied
    if _downsample_applied:
        return
    import pyqtgraph.functions as fn

    original = fn.downsample

    def downsample(data: Any, n: Any, axis: Any = 0, nanPolicy: str = "propagate") -> Any:  # noqa: N803 - pyqtgraph's name
        if (isinstance(data, np.ndarray) and isinstance(n, int | np.integer) and isinstance(axis, int | np.integer)
                and 1 < n <= MAX_STRIDED_FACTOR and nanPolicy == "propagate" and data.dtype.kind in "fiub"
                and -data.ndim <= axis < data.ndim and data.shape[axis] >= n):  # fmt: skip
            return strided_downsample(data, int(n), int(axis) % data.ndim)
        return original(data, n, axis=axis, nanPolicy=nanPolicy)

    fn.downsample = downsample
    _downsample_applied = True


def apply() -> None:
    """Both patches (once each; any thread, before a plot is built)."""
    defer_matplotlib_maps()
    faster_downsample()


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
