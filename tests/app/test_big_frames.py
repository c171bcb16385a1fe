"""Issue 17, app side: decoded chunks cached by object identity; frames past the preview budget stream to completion."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from window_helpers import shown

from app.plot.painter import CACHE, PlaneRequest, plan_view, read_plane
from app.plot.slice_plot import SlicePlot
from app.plot.source import NodeSource, NumpySource
from app.viewers.budget import Budget

# a (16, 24, 30) float32 array in (16, 8, 10) chunks: a (24, 30) plane touches 9 chunks of 5 KiB,
# while the plane itself is under 3 KiB (so it is read at full resolution, tile by tile)
SHAPE, CHUNKS = (16, 24, 30), (16, 8, 10)
CHUNK_BYTES = 16 * 8 * 10 * 4


class CountingSource(NodeSource):
    """A node source counting its chunk reads."""

    def __init__(self, node):
        super().__init__(node)
        self.reads = 0

    def read(self, selection):
        self.reads += 1
        return super().read(selection)


@pytest.fixture(params=["h5", "zarr"])
def stored(request, tmp_path):
    from storecore.containers import write_array

    data = np.random.default_rng(7).random(SHAPE).astype("f4")
    uri = f"{tmp_path}/big.{request.param}::/vol"
    write_array(uri, data, chunks=CHUNKS)
    CACHE.clear()
    yield uri, data
    CACHE.clear()


def _load(qtbot, plot, uri):
    from storecore import open_container

    node = open_container(uri)
    source = CountingSource(node)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as blocker:
        plot.set_source(source)
    return node, source, blocker.args[0]


def test_reopening_the_same_object_is_served_from_the_cache(qtbot, stored):
    uri, data = stored
    plot = shown(qtbot, SlicePlot(budget=Budget(1 << 20)), 600, 400)
    node, first, result = _load(qtbot, plot, uri)
    assert first.reads > 0 and result.complete and result.read_bytes > 0
    np.testing.assert_array_equal(plot.raw, data[0])
    node.close()
    hits, misses = CACHE.hits, CACHE.misses
    node, again, result = _load(qtbot, plot, uri)  # a second, independent open of the same object
    np.testing.assert_array_equal(plot.raw, data[0])
    if ".zarr" in uri:
        # A folder of chunk objects has no one stat that changes on every write: chunks are cached per
        # opening, but the plane is kept under the identities of the chunk objects it was read from.
        assert again.cache_key != first.cache_key
        assert again.reads == 0 and result.read_bytes == 0 and result.complete
        node.close()
        return
    assert again.reads == 0 and result.read_bytes == 0 and result.chunks_read == []
    assert CACHE.hits - hits >= 9 and CACHE.misses == misses
    assert again.cache_key == first.cache_key
    np.testing.assert_array_equal(plot.raw, data[0])
    node.close()


def test_a_rewritten_object_is_not_served_stale(qtbot, stored):
    from storecore.containers import write_array

    uri, data = stored
    plot = shown(qtbot, SlicePlot(budget=Budget(1 << 20)), 600, 400)
    node, first, _ = _load(qtbot, plot, uri)
    node.close()
    newer = (data + 1).astype("f4")
    write_array(uri, newer, chunks=CHUNKS, overwrite=True)
    path = uri.split("::")[0]
    meta = os.path.join(path, "vol", "zarr.json") if path.endswith(".zarr") else path
    for p in (path, meta):
        if os.path.exists(p):
            st = os.stat(p)
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # a clearly newer mtime
    node, again, result = _load(qtbot, plot, uri)
    assert again.cache_key != first.cache_key
    assert again.reads > 0 and result.read_bytes > 0
    np.testing.assert_array_equal(plot.raw, newer[0])
    node.close()


def test_zarr_in_place_chunk_writes_are_never_stale(qtbot, tmp_path):
    from storecore.containers import write_array

    uri = f"{tmp_path}/live.zarr::/vol"
    write_array(uri, np.zeros(SHAPE, "f4"), chunks=CHUNKS)  # pre-allocated, filled later (no metadata change)
    plot = shown(qtbot, SlicePlot(budget=Budget(1 << 20)), 600, 400)
    node, _, _ = _load(qtbot, plot, uri)
    node.close()
    write_array(uri, np.ones((16, 24, 30), "f4"), region=(slice(0, 16),))
    node, again, _ = _load(qtbot, plot, uri)
    assert again.reads > 0
    np.testing.assert_array_equal(plot.raw, np.ones((24, 30), "f4"))
    node.close()


def test_sources_without_an_identity_stay_per_open():
    a, b = NumpySource(np.zeros(3), uri="x"), NumpySource(np.zeros(3), uri="x")
    assert a.cache_key != b.cache_key and a.cache_key == a.cache_key


def test_a_frame_within_the_frame_budget_completes_without_a_click(qtbot, stored):
    uri, data = stored
    budget = Budget(2 * CHUNK_BYTES, frame_bytes=12 * CHUNK_BYTES)  # the plane needs 9 chunks
    plot = shown(qtbot, SlicePlot(budget=budget), 600, 400)
    node, source, result = _load(qtbot, plot, uri)
    assert result.complete and result.read_bytes == 9 * CHUNK_BYTES and source.reads == 9
    np.testing.assert_array_equal(plot.raw, data[0])
    assert not plot.guard.isVisibleTo(plot)
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as blocker:  # the next frame streams too
        plot.sliders.set_value(0, 3)
    assert blocker.args[0].complete
    np.testing.assert_array_equal(plot.raw, data[3])
    node.close()


@pytest.mark.parametrize("limits", [dict(frame_bytes=6 * CHUNK_BYTES), dict(frame_bytes=1 << 20, frame_tiles=4)])
def test_a_frame_over_the_frame_budget_keeps_the_guard(qtbot, stored, limits):
    uri, data = stored
    plot = shown(qtbot, SlicePlot(budget=Budget(2 * CHUNK_BYTES, **limits)), 600, 400)
    node, source, result = _load(qtbot, plot, uri)
    assert not result.complete and result.read_bytes == 2 * CHUNK_BYTES and source.reads == 2
    assert plot.guard.isVisibleTo(plot) and "Load full plane" in plot.guard.button.text()
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as blocker:
        plot.guard.button.click()
    assert blocker.args[0].complete
    np.testing.assert_array_equal(plot.raw, data[0])
    node.close()


class SlowSource(NumpySource):
    """Chunked, slow reads that record how many run at once."""

    def __init__(self, array, chunks, delay=0.02):
        super().__init__(array)
        self.chunks, self.delay = chunks, delay
        self.lock = threading.Lock()
        self.running = self.most = self.reads = 0

    def read(self, selection):
        with self.lock:
            self.running += 1
            self.reads += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.delay)
            return super().read(selection)
        finally:
            with self.lock:
                self.running -= 1


def test_tiles_are_read_concurrently_within_the_budget():
    data = np.arange(64 * 64, dtype="f4").reshape(64, 64)
    src = SlowSource(data, (8, 8))
    req = PlaneRequest((0, 1), (0, 0))
    tile = 8 * 8 * 4
    parts = []
    result = read_plane(src, req, budget=64 * tile, cache=None, workers=3, emit=lambda out, part: parts.append(out))
    assert result.complete and src.reads == 64 and 1 < src.most <= 3
    np.testing.assert_array_equal(result.data, data)
    src = SlowSource(data, (8, 8))
    result = read_plane(src, req, budget=10 * tile, cache=None, workers=3)
    assert not result.complete and src.reads == 10 and result.read_bytes == 10 * tile  # nothing past the budget


def test_a_cancelled_frame_stops_starting_reads():
    data = np.zeros((64, 64), "f4")
    src = SlowSource(data, (8, 8))
    calls = []

    def token() -> bool:
        calls.append(1)
        return len(calls) > 4

    result = read_plane(src, PlaneRequest((0, 1), (0, 0)), budget=1 << 30, cache=None, workers=3, token=token)
    time.sleep(0.1)
    assert not result.complete and src.reads <= 6


def test_the_2gib_hdf5_frame_streams_under_the_default_budget():
    shape, chunks = (512, 1024, 1024), (64, 256, 256)
    budget = Budget()
    plan = plan_view(shape, chunks, (1, 2), (0, 0, 0), 4, budget.max_bytes)
    assert plan.mode == "partial" and plan.chunks == 16 and plan.nbytes == 256 * 1024**2
    assert budget.frame_fits(plan.nbytes, plan.chunks)
    assert not Budget(budget.max_bytes * 2 // 2 + 1).frame_fits(plan.nbytes, plan.chunks)


def test_frame_budget_from_the_environment(monkeypatch):
    monkeypatch.setenv("STORESCOPE_PREVIEW_BUDGET", "1MiB")
    monkeypatch.delenv("STORESCOPE_FRAME_BUDGET", raising=False)
    assert Budget.from_env().frame_bytes == 8 * 1024**2
    monkeypatch.setenv("STORESCOPE_FRAME_BUDGET", "100MiB")
    assert Budget.from_env().frame_bytes == 100 * 1024**2
    monkeypatch.delenv("STORESCOPE_PREVIEW_BUDGET")
    assert Budget.from_env().frame_bytes == 100 * 1024**2
    assert Budget(4096).frame_bytes == 4096  # an explicit budget streams nothing past itself unless asked


def test_going_back_to_a_frame_after_its_chunks_were_evicted_reads_nothing(qtbot, stored):
    """A frame shown whole is kept as shown: a 2 GiB volume's plane row of chunks (256 MiB) may be evicted by
    the next frames', going back to it still costs no read."""
    uri, data = stored
    plot = shown(qtbot, SlicePlot(budget=Budget(1 << 20)), 600, 400)
    node, source, result = _load(qtbot, plot, uri)
    assert result.complete and source.reads > 0
    CACHE.clear()  # what reading other frames' chunks does to this one's
    reads = source.reads
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as blocker:
        plot.request_slice()
    assert source.reads == reads and blocker.args[0].complete and blocker.args[0].read_bytes == 0
    np.testing.assert_array_equal(plot.raw, data[0])
    node.close()


def test_deflate_hdf5_frames_are_read_as_frames_not_chunk_boxes(qtbot, tmp_path):
    """A frame of deflate-only HDF5 chunks is read as the frame (its chunks decoded only up to it), so frame 0
    of a 64-deep block costs 1/64 of the block; other orientations and filters still read whole boxes."""
    import h5py

    from app.plot.painter import plan_tiles, plane_cost
    from storecore import open_container
    from storecore.containers import h5chunks

    data = np.random.default_rng(3).integers(0, 50, (128, 128, 128)).astype("f4")
    path = tmp_path / "frames.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("gz", data=data, chunks=(64, 64, 64), compression="gzip", compression_opts=1)
        f.create_dataset("shuffled", data=data, chunks=(64, 64, 64), compression="gzip", shuffle=True)
    CACHE.clear()
    h5chunks.CACHE.clear()
    with open_container(f"{path}::/gz") as gz, open_container(f"{path}::/shuffled") as shuffled:
        src, boxed = NodeSource(gz), NodeSource(shuffled)
        assert src.prefix_reads and not boxed.prefix_reads
        plane = 128 * 128 * 4
        for z in (0, 1, 63, 64, 100):
            req = PlaneRequest((1, 2), (z, 0, 0))
            tiles = plan_tiles(src.shape, src.chunks, req, 4, prefix=True)
            assert all(t.key[0] == ("frame", z) for t in tiles)
            assert plane_cost(src, req) == plane * (z % 64 + 1)  # the chunks up to the frame
            assert plane_cost(boxed, req) == (plane * 64 if z % 64 == 0 else 0)  # whole boxes, kept for the block
            result = read_plane(src, req, budget=1 << 30)
            np.testing.assert_array_equal(result.data, data[z])
            np.testing.assert_array_equal(read_plane(boxed, req, budget=1 << 30).data, data[z])
        side = PlaneRequest((0, 2), (0, 5, 0))  # the hidden axis is not the leading one: boxes
        assert all(isinstance(k, int) for t in plan_tiles(src.shape, src.chunks, side, 4, prefix=True) for k in t.key)
        np.testing.assert_array_equal(read_plane(src, side, budget=1 << 30).data, data[:, 5])
        plan = plan_view(src.shape, src.chunks, (1, 2), (0, 0, 0), 4, 64 << 20, prefix=True)
        assert plan.mode == "overview" and plan.nbytes == plane

        plot = shown(qtbot, SlicePlot(budget=Budget(8 * plane)), 600, 400)  # frames 0-7 of a block fit
        with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as blocker:
            plot.set_source(NodeSource(gz))
        assert blocker.args[0].complete
        np.testing.assert_array_equal(plot.raw, data[0])
        for z in (1, 2, 3, 70, 2):
            with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
                plot.sliders.set_value(0, z)
            np.testing.assert_array_equal(plot.raw, data[z])
    CACHE.clear()
    h5chunks.CACHE.clear()


def test_the_2gib_deflate_frame_0_costs_one_plane_per_chunk():
    shape, chunks = (512, 1024, 1024), (64, 256, 256)
    first = plan_view(shape, chunks, (1, 2), (0, 0, 0), 4, Budget().max_bytes, prefix=True)
    assert first.mode == "overview" and first.nbytes == 4 * 1024**2
    last = plan_view(shape, chunks, (1, 2), (63, 0, 0), 4, Budget().max_bytes, prefix=True)
    assert last.mode == "partial" and last.nbytes == 256 * 1024**2


class DelayedSource(NumpySource):
    """An in-memory array whose chunked reads take ``delay`` seconds each (a slow store, or a big decode)."""

    def __init__(self, array, chunks, delay):
        super().__init__(array, uri="mem://slow")
        self.chunks, self.delay = chunks, delay

    def read(self, selection):
        time.sleep(self.delay)  # the cost of the read itself, not a wait for anything
        return super().read(selection)


def _count_redraws(monkeypatch):
    calls = []
    original = SlicePlot._redraw
    monkeypatch.setattr(SlicePlot, "_redraw", lambda self, *a, **k: calls.append(k.get("mask")) or original(self, *a, **k))
    return calls


def test_a_frame_read_quickly_is_drawn_once_as_one_image(qtbot, monkeypatch):
    from app.plot import slice_plot

    # every read here completes within the window (a window this long makes that so on a loaded machine too)
    monkeypatch.setattr(slice_plot, "TILE_COALESCE_S", 30.0)
    data = np.random.default_rng(5).random((4, 256, 256)).astype("f4")
    source = DelayedSource(data, (1, 32, 32), 0.0)  # 64 tiles, read at once
    plot = shown(qtbot, SlicePlot(budget=Budget(1 << 30)), 600, 400)
    calls = _count_redraws(monkeypatch)
    CACHE.clear()
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000) as blocker:
        plot.set_source(source)
    assert blocker.args[0].complete
    np.testing.assert_array_equal(plot.raw, data[0])
    np.testing.assert_array_equal(plot.shown_values(), data[0])
    assert plot._tiles == []  # no tile items: the plane is one image
    assert len(calls) == 1  # drawn once, not again when the read completed
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        plot.sliders.set_value(0, 2)
    np.testing.assert_array_equal(plot.shown_values(), data[2])
    assert len(calls) == 2
    CACHE.clear()


def test_a_slow_frame_still_paints_tile_by_tile_before_it_completes(qtbot):
    data = np.random.default_rng(6).random((2, 64, 64)).astype("f4")
    source = DelayedSource(data, (1, 32, 32), 0.06)  # 4 tiles, 60 ms each: past the coalescing window
    plot = shown(qtbot, SlicePlot(budget=Budget(1 << 30)), 600, 400)
    CACHE.clear()
    with qtbot.waitSignal(plot.painted, timeout=10000):
        plot.set_source(source)
    assert plot.result is None  # first pixels before the frame is complete
    with qtbot.waitSignal(plot.slice_loaded, timeout=10000):
        pass
    np.testing.assert_array_equal(plot.raw, data[0])
    CACHE.clear()


def test_the_first_view_is_read_while_the_array_viewer_prepares(qtbot, tmp_path):
    """A frame read within the prepare step is in the chunk cache: the plot shows it whole at once."""
    from app.plot.painter import plane_cost, view_request
    from app.plot.slice_plot import default_view
    from app.viewers.array_viewer import ArrayViewer
    from app.viewers.registry import classify
    from storecore.containers import write_array

    data = np.random.default_rng(8).random((3, 64, 64)).astype("f4")
    uri = f"{tmp_path}/first.zarr::/vol"
    write_array(uri, data, chunks=(1, 32, 32))
    CACHE.clear()
    budget = Budget(1 << 20)
    payload = ArrayViewer.prepare(classify(uri), budget, lambda: False)
    src = payload.source
    mode, axes = default_view(src)
    level, req, _ = view_request([src], mode, axes, [0] * 3, budget.max_bytes)
    assert plane_cost(src, req) == 0  # every tile of the first view is cached
    np.testing.assert_array_equal(read_plane(src, req, budget=0).data, data[0])
    src.close()
    CACHE.clear()


def test_slider_rows_are_visible_as_soon_as_they_are_configured(qtbot):
    from app.plot.dims_sliders import DimsSliders

    sliders = shown(qtbot, DimsSliders(), 400, 40)
    sliders.configure((5, 6, 7, 8), (2, 3), ["t", "z", "y", "x"])
    # at once, not one widget per event-loop turn later (each step resized the plot above them)
    assert all(w.isVisible() for ax in (0, 1) for w in (sliders.sliders()[ax], sliders.spin_boxes()[ax]))
