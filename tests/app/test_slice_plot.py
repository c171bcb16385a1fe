"""The slice plot: N-d slices match numpy, only touched chunks are read, cache, axes, levels, export."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from window_helpers import shown

from app.plot.painter import CACHE, PlaneRequest, choose_level, plan_tiles, read_plane
from app.plot.slice_plot import SlicePlot, auto_levels, to_display
from app.plot.source import NodeSource, NumpySource
from app.viewers.budget import Budget

SHAPE, CHUNKS = (3, 4, 24, 30), (1, 2, 8, 10)


@pytest.fixture
def cube(tmp_path):
    from storecore.containers import write_array

    data = np.random.default_rng(3).random(SHAPE).astype("f4")
    uri = f"{tmp_path}/four.zarr::/vol"
    write_array(uri, data, chunks=CHUNKS)
    CACHE.clear()
    return uri, data, tmp_path / "four.zarr" / "vol"


@pytest.fixture
def plot(qtbot):
    return shown(qtbot, SlicePlot(), 800, 600)


def chunk_file_bytes(root, keys):
    return sum(os.path.getsize(root / "c" / "/".join(map(str, k))) for k in keys)


def touched(index, shown=(2, 3)):
    """Chunk grid keys a plane at ``index`` touches (brute force)."""
    ranges = []
    for ax, (n, c) in enumerate(zip(SHAPE, CHUNKS, strict=True)):
        ranges.append(range(-(-n // c)) if ax in shown else [index[ax] // c])
    return set(itertools.product(*ranges))


def test_slider_moves_on_a_4d_zarr_give_numpy_slices_and_read_only_touched_chunks(qtbot, plot, cube):
    from storecore import open_container

    uri, data, root = cube
    node = open_container(uri)
    counter = node.container
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as first:
        plot.set_source(NodeSource(node))
    assert sorted(plot.sliders.sliders()) == [0, 1]
    np.testing.assert_array_equal(plot.raw, data[0, 0])
    assert set(first.args[0].chunks_read) == touched((0, 0, 0, 0))
    seen = set(first.args[0].chunks_read)
    for axis, value in [(0, 2), (1, 3), (0, 1), (1, 2)]:
        before = counter.bytes_read
        with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as blocker:
            plot.sliders.set_value(axis, value)
        result = blocker.args[0]
        i, j = plot.sliders.index[:2]
        np.testing.assert_array_equal(plot.raw, data[i, j])
        assert set(result.chunks_read) == touched((i, j, 0, 0)) - seen  # decoded chunks come from the cache
        seen |= set(result.chunks_read)
        # exactly the touched chunk objects went through the store, nothing else
        assert counter.bytes_read - before == chunk_file_bytes(root, result.chunks_read)
    node.close()


def test_a_step_within_decoded_chunks_is_served_from_the_cache(qtbot, plot, cube):
    from storecore import open_container

    uri, data, _ = cube
    node = open_container(uri)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NodeSource(node))
    before = node.container.bytes_read
    # axis 1 has chunks of 2: frame 1 lives in the chunks frame 0 decoded
    with qtbot.waitSignal(plot.slice_loaded, timeout=1000) as blocker:
        plot.sliders.set_value(1, 1)
    assert blocker.args[0].read_bytes == 0 and node.container.bytes_read == before
    np.testing.assert_array_equal(plot.raw, data[0, 1])
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.sliders.set_value(1, 2)
    with qtbot.waitSignal(plot.slice_loaded, timeout=1000) as blocker:  # moving back is instant
        plot.sliders.set_value(1, 0)
    assert blocker.args[0].read_bytes == 0
    np.testing.assert_array_equal(plot.raw, data[0, 0])
    node.close()


def test_superseded_slider_requests_are_dropped(qtbot, plot, cube):
    from storecore import open_container

    uri, data, _ = cube
    node = open_container(uri)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NodeSource(node))
    results = []
    plot.slice_loaded.connect(results.append)
    for i in (1, 2, 0, 2):
        plot.sliders.set_value(0, i)
    plot.sliders.set_value(1, 3)
    qtbot.waitUntil(lambda: results and results[-1].request.index[:2] == (2, 3), timeout=10000)
    qtbot.wait(100)
    assert results[-1].request.index[:2] == (2, 3)
    assert all(r.request.index[:2] in {(1, 0), (2, 0), (0, 0), (2, 3)} for r in results)
    np.testing.assert_array_equal(plot.raw, data[2, 3])
    node.close()


def test_axis_choice_curve_and_transpose(qtbot, plot, cube):
    from storecore import open_container

    uri, data, _ = cube
    node = open_container(uri)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NodeSource(node))
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.sliders.set_value(0, 1)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_axes((3, 1))  # y = axis 3, x = axis 1: sliders now on axes 0 and 2
    assert sorted(plot.sliders.sliders()) == [0, 2]
    np.testing.assert_array_equal(plot.raw, data[1, :, 0, :].T)
    plot.transpose.setChecked(True)
    np.testing.assert_array_equal(plot.shown_values(), data[1, :, 0, :])
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_axes((2,))
    assert plot.mode == "curve" and plot.pages.currentIndex() == 1
    np.testing.assert_array_equal(plot.raw, data[1, 0, :, 0])
    x, y = plot.curve.getData()
    np.testing.assert_array_equal(y, data[1, 0, :, 0])
    plot.markers.setChecked(True)
    assert plot.curve.opts["symbol"] == "o"
    plot.log.setChecked(True)
    assert plot.curve_plot.plotItem.ctrl.logYCheck.isChecked()
    node.close()


def test_crosshair_value_in_array_coordinates(qtbot, plot):
    data = np.arange(5 * 6 * 7, dtype="i4").reshape(5, 6, 7)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(data))
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.sliders.set_value(0, 3)
    index = plot.array_index_at(4.5, 2.5)  # x = column 4, y = row 2
    assert index == (3, 2, 4)
    assert plot.value_at(index) == data[3, 2, 4]
    assert plot.array_index_at(40, 2) is None
    plot.transpose.setChecked(True)
    assert plot.array_index_at(4.5, 2.5) == (3, 4, 2)
    scene_pos = plot.plot.vb.mapViewToScene(__import__("PySide6.QtCore", fromlist=["QPointF"]).QPointF(1.5, 3.5))
    plot._on_mouse(scene_pos)
    # the value as a person reads it: "0.4375", never "np.float32(0.4375)"
    assert plot.readout.text() == f"[3, 1, 3] = {float(data[3, 1, 3]):.7g}"
    assert "np." not in plot.readout.text()


def test_display_conversions():
    c = np.array([[1 + 1j, -1 + 0j]], dtype="c8")
    np.testing.assert_allclose(to_display(c, "magnitude"), [[np.sqrt(2), 1]], rtol=1e-6)
    np.testing.assert_allclose(to_display(c, "phase"), [[np.pi / 4, np.pi]], rtol=1e-6)
    np.testing.assert_array_equal(to_display(c, "real"), [[1, -1]])
    np.testing.assert_array_equal(to_display(c, "imag"), [[1, 0]])
    np.testing.assert_array_equal(to_display(np.array([True, False])), [1, 0])
    shown = to_display(np.array([1, -9999, 3], dtype="i2"), fill_value=-9999)
    assert shown.dtype == np.float32 and np.isnan(shown[1]) and shown[2] == 3
    with pytest.raises(TypeError):
        to_display(np.array(["a"]))
    lo, hi = auto_levels(np.r_[np.nan, np.arange(1000.0), np.inf])
    assert lo == pytest.approx(9.99) and hi == pytest.approx(989.01)
    assert auto_levels(np.full(4, np.nan)) == (0.0, 1.0)
    assert auto_levels(np.zeros(3)) == (0.0, 1.0)


def test_complex_nan_and_int_slices_show(qtbot, plot, tmp_path):
    z = (np.arange(16.0).reshape(4, 4) * np.exp(1j * np.linspace(0, 3, 16)).reshape(4, 4)).astype("c16")
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(z))
    assert plot.complex_box.isVisibleTo(plot)
    plot.complex_box.setCurrentText("phase")
    np.testing.assert_allclose(plot.shown_values(), np.angle(z).astype("f4"), rtol=1e-6)
    f = np.arange(12.0).reshape(3, 4)
    f[1, 1] = np.nan
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(f))
    assert not plot.complex_box.isVisibleTo(plot)
    assert np.isnan(plot.shown_values()[1, 1])
    lo, hi = plot.hist.getLevels()
    assert np.isfinite(lo) and np.isfinite(hi) and lo < hi
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(np.array([[True, False], [False, True]])))
    np.testing.assert_array_equal(plot.shown_values(), [[1, 0], [0, 1]])


def test_missing_values_are_drawn_as_nothing_not_as_the_lowest_colour(qtbot, plot):
    """NaN samples (missing values, CF fill values decoded) are transparent in the tiles and in the image under
    them: a missing value must not look like the minimum."""
    a = np.array([[1.0, np.nan, 3.0], [2.0, np.nan, 5.0]], dtype="f4")
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(a))
    qtbot.waitUntil(lambda: plot.result is not None and plot.result.complete, timeout=10000)
    lo = plot.hist.getLevels()[0]
    whole = [item.image for item in [plot.image, *plot._tiles] if item.image is not None and item.image.shape == a.shape]
    assert whole
    for image in whole:
        assert np.isnan(image[:, 1]).all() and not (image[:, 1] == lo).any()


def test_export_png_npy_csv(qtbot, plot, tmp_path):
    data = np.random.default_rng(0).random((2, 20, 30))
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(data))
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.sliders.set_value(0, 1)
    plot.export_png(str(tmp_path / "view.png"))
    from PySide6.QtGui import QImage

    img = QImage(str(tmp_path / "view.png"))
    assert img.width() > 100 and len({img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}) > 10
    plot.export_slice(str(tmp_path / "s.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), data[1])
    plot.export_slice(str(tmp_path / "s.csv"))
    np.testing.assert_allclose(np.loadtxt(tmp_path / "s.csv", delimiter=","), data[1], rtol=1e-9)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(np.arange(5.0)), coords={0: np.arange(5.0) * 10}, names=["time"])
    plot.export_slice(str(tmp_path / "c.csv"))
    lines = (tmp_path / "c.csv").read_text().splitlines()
    assert lines[0] == "time,value" and lines[2] == "10.0,1.0"


def test_budget_bounds_a_plane_and_load_full_reads_it(qtbot, cube):
    from storecore import open_container

    uri, data, _ = cube
    chunk_bytes = 8 * 10 * 2 * 4  # one (1, 2, 8, 10) float32 chunk
    plot = SlicePlot(budget=Budget(5 * chunk_bytes))
    qtbot.addWidget(plot)
    node = open_container(uri)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as blocker:
        plot.set_source(NodeSource(node))
    result = blocker.args[0]
    assert not result.complete and len(result.chunks_read) == 5 and result.needed_bytes == 9 * chunk_bytes
    assert plot.guard.isVisibleTo(plot) and "Load full plane" in plot.guard.button.text()
    assert np.isnan(plot.shown_values()).any()  # unread tiles stay blank
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as blocker:
        plot.guard.button.click()
    assert blocker.args[0].complete
    np.testing.assert_array_equal(plot.raw, data[0, 0])
    assert not plot.guard.isVisibleTo(plot)
    node.close()


@pytest.mark.parametrize("seed", range(6))
def test_tile_plans_reassemble_any_request(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 30, size=3))
    chunks = tuple(int(rng.integers(1, n + 2)) for n in shape)
    data = rng.random(shape)
    axes = tuple(int(a) for a in rng.permutation(3)[:2])
    index = tuple(int(rng.integers(0, n)) for n in shape)
    step = tuple(int(s) for s in rng.integers(1, 4, size=2))
    region = tuple((int(rng.integers(0, shape[a])), shape[a]) for a in axes)
    src = NumpySource(data)
    src.chunks = chunks
    req = PlaneRequest(axes, index, step, region)
    got = read_plane(src, req, budget=1 << 30, cache=None).data
    sel = [index[a] for a in range(3)]
    for k, a in enumerate(axes):
        sel[a] = slice(region[k][0] + (-region[k][0]) % step[k], None, step[k])
    expected = data[tuple(sel)]
    if axes[0] > axes[1]:
        expected = expected.T
    np.testing.assert_array_equal(got, expected)
    assert (len(plan_tiles(shape, chunks, req, 8)) >= 1) == (expected.size > 0)


def test_ome_zarr_pyramid_level_fits_the_budget(qtbot, tmp_path):
    from app.viewers.pane import PreviewPane
    from storecore.containers import create_group, write_array

    base = np.add.outer(np.arange(64.0), np.arange(64.0)).astype("f4")
    uri = f"{tmp_path}/img.zarr"
    write_array(f"{uri}::/0", base, chunks=(32, 32))
    write_array(f"{uri}::/1", base[::2, ::2], chunks=(32, 32))
    create_group(f"{uri}::/", attrs={"multiscales": [{"version": "0.4", "datasets": [{"path": "0"}, {"path": "1"}]}]})
    pane = PreviewPane(budget=Budget(8 * 1024))  # level 0 (16 KiB) is over budget, level 1 (4 KiB) fits
    qtbot.addWidget(pane)
    with qtbot.waitSignal(pane.loaded, timeout=10000):
        pane.show_location(uri)
    w = pane.current_viewer
    assert type(w).__name__ == "ArrayViewer"
    qtbot.waitUntil(lambda: w.plot.result is not None, timeout=10000)
    assert w.plot.result.level == 1 and w.plot.result.complete
    np.testing.assert_array_equal(w.plot.raw, base[::2, ::2])
    assert w.plot.array_index_at(41.5, 10.5) == (10, 41)
    assert w.plot.value_at((10, 41)) == base[10, 40]  # nearest sample of the coarser level
    assert choose_level([NumpySource(base), NumpySource(base[::2, ::2])], (0, 1), 1 << 30) == 0


def test_coordinates_from_array_dimensions(qtbot, tmp_path):
    from app.viewers.pane import PreviewPane
    from storecore.containers import write_array

    uri = f"{tmp_path}/ds.zarr"
    write_array(f"{uri}::/time", np.arange(50.0) * 0.5, attrs={"_ARRAY_DIMENSIONS": ["time"]})
    write_array(f"{uri}::/temp", np.sin(np.arange(50.0) / 5), attrs={"_ARRAY_DIMENSIONS": ["time"]})
    pane = PreviewPane()
    qtbot.addWidget(pane)
    with qtbot.waitSignal(pane.loaded, timeout=10000):
        pane.show_location(f"{uri}::/temp")
    plot = pane.current_viewer.plot
    qtbot.waitUntil(lambda: plot.raw is not None, timeout=10000)
    x, y = plot.curve.getData()
    np.testing.assert_array_equal(x, np.arange(50.0) * 0.5)
    np.testing.assert_allclose(y, np.sin(np.arange(50.0) / 5), rtol=1e-6)
    assert plot.curve_plot.plotItem.getAxis("bottom").labelText == "time"


def test_hdf5_3d_dataset_opens_as_image_with_sliders(qtbot, tmp_path):
    from app.viewers.pane import PreviewPane
    from storecore.containers import write_array

    data = np.random.default_rng(5).random((6, 40, 50)).astype("f4")
    write_array(f"{tmp_path}/v.h5::/entry/frames", data, chunks=(2, 20, 25))
    pane = PreviewPane()
    qtbot.addWidget(pane)
    pane.resize(900, 700)
    with qtbot.waitSignal(pane.loaded, timeout=10000):
        pane.show_location(f"{tmp_path}/v.h5::/entry/frames")
    plot = pane.current_viewer.plot
    assert plot.mode == "image" and list(plot.sliders.sliders()) == [0]
    qtbot.waitUntil(lambda: plot.result is not None, timeout=10000)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.sliders.spin_boxes()[0].setValue(5)
    np.testing.assert_array_equal(plot.raw, data[5])
    facts = pane.current_viewer.facts
    rows = {facts.item(r, 0).text(): facts.item(r, 1).text() for r in range(facts.rowCount())}
    assert rows["Shape"] == "6 × 40 × 50" and rows["Chunks"].startswith("2 × 20 × 25")


def test_zooming_into_a_strided_overview_refines_to_full_resolution(qtbot):
    data = np.random.default_rng(9).random((512, 512)).astype("f4")
    plot = SlicePlot(budget=Budget(256 * 1024))  # the whole plane (1 MiB) is over budget: a stride-2 overview
    qtbot.addWidget(plot)
    plot.resize(800, 600)
    plot.show()
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(data))
    assert plot.raw.shape == (256, 256) and plot.geometry == [(0.0, 2.0), (0.0, 2.0)]
    np.testing.assert_array_equal(plot.raw, data[::2, ::2])
    assert plot.value_at((7, 9)) == data[6, 8]  # nearest overview sample
    plot.plot.vb.setRange(xRange=(100, 180), yRange=(40, 120), padding=0)
    qtbot.waitUntil(lambda: plot.detail.isVisible(), timeout=10000)
    req = plot.detail_request
    assert req.step == (1, 1)
    (y0, y1), (x0, x1) = req.region
    np.testing.assert_array_equal(plot.detail_values, data[y0:y1, x0:x1])
    assert y0 <= 40 and y1 >= 120 and x0 <= 100 and x1 >= 180
    assert plot.value_at((51, 101)) == data[51, 101]  # the readout uses the full-resolution patch
    assert plot.value_at((7, 9)) == data[6, 8]  # outside it, the overview
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(data[:4, :4].copy()))
    assert not plot.detail.isVisible()  # a new slice drops the patch


def test_colormap_aspect_and_flips(qtbot, plot):
    data = np.arange(6 * 8, dtype="u2").reshape(6, 8)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.set_source(NumpySource(data))
    before = plot.hist.gradient.getLookupTable(8)
    plot.cmap_box.setCurrentText("inferno")
    assert not np.array_equal(before, plot.hist.gradient.getLookupTable(8))
    assert not any(t.isVisible() for t in plot.hist.gradient.ticks)  # viridis, 256 stops: no ticks to paint
    plot.set_colormap("gray")
    assert all(t.isVisible() for t in plot.hist.gradient.ticks)  # two stops: ticks to drag
    lut = plot.hist.gradient.getLookupTable(3)
    assert tuple(lut[0][:3]) == (0, 0, 0) and tuple(lut[-1][:3]) == (255, 255, 255)
    assert plot.plot.vb.state["aspectLocked"]
    plot.aspect.setChecked(False)
    assert not plot.plot.vb.state["aspectLocked"]
    assert plot.plot.vb.state["yInverted"]  # row 0 at the top, like an image
    plot.flip_y.setChecked(True)
    plot.flip_x.setChecked(True)
    assert not plot.plot.vb.state["yInverted"] and plot.plot.vb.state["xInverted"]
    lo, hi = plot.hist.getLevels()
    assert lo == pytest.approx(np.percentile(data, 1)) and hi == pytest.approx(np.percentile(data, 99))
