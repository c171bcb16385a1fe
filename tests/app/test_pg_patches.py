"""app.plot.pg_patches: pyqtgraph's colour-map menu asks matplotlib for its maps only when that submenu opens."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


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


def _mean_of_groups(data, n, axis):
    """pyqtgraph's downsample (a mean over a reshaped axis), written out as the oracle."""
    count = data.shape[axis] // n
    kept = np.take(data, np.arange(count * n), axis=axis)
    shape = list(kept.shape)
    shape[axis : axis + 1] = [count, n]
    return kept.reshape(shape).mean(axis + 1)




@settings(max_examples=150, deadline=None)
@given(
    data=hnp.arrays(
        st.sampled_from(["f4", "f8", "i2", "u1", "i8", "?"]),
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=40),
    ),
    n=st.integers(2, 9),
    axis=st.integers(0, 2),
)
def test_the_strided_downsample_equals_pyqtgraphs_mean(data, n, axis):
    from app.plot.pg_patches import strided_downsample

    if axis >= data.ndim or data.shape[axis] < n:
        return
    if data.dtype.kind == "f":
        data = np.nan_to_num(data, nan=np.nan, posinf=1e6, neginf=-1e6).clip(-1e6, 1e6)  # NaNs kept: they propagate
    got = strided_downsample(data, n, axis)
    want = _mean_of_groups(data, n, axis)
    assert got.shape == want.shape and got.dtype == want.dtype
    # The two sum in different orders: each rounds by up to n ulps of the largest value it adds (float32 near 1e6: 0.06)
    finite = np.abs(data[np.isfinite(data)]) if data.dtype.kind == "f" else np.zeros(1)
    rounding = 2 * n * np.finfo(data.dtype).eps * float(finite.max(initial=0.0)) if data.dtype.kind == "f" else 0.0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3 + rounding, equal_nan=True)


def test_images_render_through_the_strided_downsample(qtbot):
    import pyqtgraph as pg
    import pyqtgraph.functions as fn

    from app.plot.pg_patches import faster_downsample

    faster_downsample()
    faster_downsample()
    a = np.arange(64 * 90, dtype="f4").reshape(64, 90)
    np.testing.assert_allclose(fn.downsample(a, 3, axis=1), _mean_of_groups(a, 3, 1))
    np.testing.assert_allclose(fn.downsample(a, [2, 4], axis=[0, 1]), _mean_of_groups(_mean_of_groups(a, 2, 0), 4, 1))
    with_nan = a.copy()
    with_nan[0, 0] = np.nan
    omitted = fn.downsample(with_nan, 2, axis=1, nanPolicy="omit")  # left to pyqtgraph
    assert omitted[0, 0] == 1.0
    assert pg.ImageItem(a, autoDownsample=True) is not None
