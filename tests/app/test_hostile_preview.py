"""Hostile previews: arrays of millions to 10^24 chunks and 200,000-column CSVs show bounded, never freeze."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import app.plot.painter as painter
from app.plot.painter import MAX_CHUNKS, PlaneRequest, PlanTooLarge, plan_tiles, plan_view, request_cost
from app.viewers.budget import Budget
from app.viewers.pane import PreviewPane

BUDGET = 16 * 1024 * 1024
#: RSS a preview may add beyond its budget: the decoded-chunk cache, the display copies, Qt's pixmaps
OVERHEAD = 200 * 1024 * 1024

HOSTILE = {
    "1x1-chunks": ((20_000, 20_000), (1, 1), "f4"),
    "1000-chunks": ((10**7, 10**7), (1000, 1000), "f8"),
    "1e12-1x1-chunks": ((10**12, 10**12), (1, 1), "f4"),
}


def vm_rss() -> int:
    """Resident bytes of this process (from /proc/self/status)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture
def pane(qtbot):
    p = PreviewPane(budget=Budget(BUDGET))
    qtbot.addWidget(p)
    p.resize(900, 650)
    p.show()
    return p


@pytest.fixture
def planned(monkeypatch):
    """The number of reads of every plan made (plan_tiles is looked up in the painter module by its callers)."""
    sizes: list[int] = []
    original = painter.plan_tiles

    def counting(*args, **kw):
        tiles = original(*args, **kw)
        sizes.append(len(tiles))
        return tiles

    monkeypatch.setattr(painter, "plan_tiles", counting)
    return sizes


def hostile_zarr(tmp_path, name):
    """A real Zarr store of a hostile shape: only the top-left 8 x 8 is written (the rest is fill, no chunks)."""
    import zarr

    shape, chunks, dtype = HOSTILE[name]
    arr = zarr.create_array(str(tmp_path / f"{name}.zarr"), shape=shape, chunks=chunks, dtype=dtype, fill_value=0)
    patch = np.arange(1, 65, dtype=dtype).reshape(8, 8)
    arr[0:8, 0:8] = patch
    return str(tmp_path / f"{name}.zarr"), patch


def warm_up(qtbot, pane, tmp_path):
    """Show a small array first: pyqtgraph's import and the first plot are not the hostile preview's memory."""
    import zarr

    zarr.create_array(str(tmp_path / "warm.zarr"), shape=(16, 16), chunks=(8, 8), dtype="f4")[:] = 1
    with qtbot.waitSignal(pane.loaded, timeout=20000):
        pane.show_location(str(tmp_path / "warm.zarr"))
    plot = pane.current_viewer.plot
    qtbot.waitUntil(lambda: plot.result is not None, timeout=20000)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_zarr_previews_show_a_bounded_region_without_enumerating_chunks(qtbot, pane, planned, tmp_path, name):
    uri, patch = hostile_zarr(tmp_path, name)
    warm_up(qtbot, pane, tmp_path)
    planned.clear()
    before = vm_rss()
    with qtbot.waitSignal(pane.loaded, timeout=20000):
        pane.show_location(uri)  # returns at once: the pane opens the array on a worker
    plot = pane.current_viewer.plot
    qtbot.waitUntil(lambda: plot._painted_source, timeout=60000)  # the first pixels
    qtbot.waitUntil(lambda: plot.result is not None, timeout=60000)
    plan = plot._view_plan
    # an overview would touch millions of chunks (or terabytes): a native-resolution region instead
    assert plan.mode == "region" and plan.chunks <= MAX_CHUNKS and plan.nbytes <= BUDGET
    assert plan.region[0][0] == 0 and plan.region[1][0] == 0
    assert planned and max(planned) <= MAX_CHUNKS  # every plan made stayed within the cap: no chunk enumeration
    assert plot.result.complete and plot.result.read_bytes <= BUDGET
    np.testing.assert_array_equal(plot.raw[:8, :8], patch)  # the written pixels arrived
    assert plot.raw.shape == tuple(hi - lo for lo, hi in plan.region)
    # the view says which region it shows
    assert plot.guard.isVisibleTo(plot) and plot.guard.label.text().startswith("Showing rows 0–")
    assert not plot.guard.button.isVisibleTo(plot)  # no "load full" of an unbounded plane
    assert vm_rss() - before < BUDGET + OVERHEAD


def test_panning_a_region_view_reads_the_part_shown(qtbot, pane, tmp_path):
    import zarr

    uri, _ = hostile_zarr(tmp_path, "1000-chunks")
    zarr.open_array(uri, mode="r+")[5450:5454, 7450:7454] = 7.0  # inside one 8 MB chunk: it fits the budget
    with qtbot.waitSignal(pane.loaded, timeout=20000):
        pane.show_location(uri)
    plot = pane.current_viewer.plot
    qtbot.waitUntil(lambda: plot.result is not None, timeout=60000)
    plot.plot.vb.setRange(xRange=(7400, 7500), yRange=(5400, 5500), padding=0)
    qtbot.waitUntil(lambda: plot.detail.isVisible(), timeout=60000)
    (y0, y1), (x0, x1) = plot.detail_request.region
    assert y0 <= 5450 and y1 >= 5454 and x0 <= 7450 and x1 >= 7454
    assert plot.value_at((5451, 7452)) == 7.0
    # zoomed out over the whole array, nothing is read (and nothing enumerated): the status says to zoom in
    messages = []
    plot.status.connect(messages.append)
    plot.plot.vb.setRange(xRange=(0, 10**7), yRange=(0, 10**7), padding=0)
    qtbot.waitUntil(lambda: any(m.startswith("Zoom in") for m in messages), timeout=10000)


def test_plans_cost_o1_per_axis_and_refuse_unbounded_enumeration():
    shape, chunks = (10**12, 10**12), (1, 1)
    overview = PlaneRequest((0, 1), (0, 0), (10**12 // 2048, 10**12 // 2048))
    assert request_cost(shape, chunks, overview, 4) == (2048 * 2048, 2048 * 2048 * 4)
    with pytest.raises(PlanTooLarge):
        plan_tiles(shape, chunks, overview, 4)
    full = PlaneRequest((0, 1), (0, 0))
    assert request_cost(shape, chunks, full, 4)[0] == 10**24
    plan = plan_view(shape, chunks, (0, 1), (0, 0), 4, BUDGET)
    assert plan.mode == "region" and plan.chunks <= MAX_CHUNKS
    tiles = plan_tiles(shape, chunks, PlaneRequest((0, 1), (0, 0), plan.step, plan.region), 4)
    assert len(tiles) <= 256  # adjacent 1 x 1 chunks are read in runs: a few hundred reads, painted in blocks
    # a 3-D array: the hidden axis is one chunk, the shown plane is planned like a 2-D one
    plan3 = plan_view((10**9, 10**6, 10**6), (1, 1000, 1000), (1, 2), (5, 0, 0), 8, BUDGET)
    assert plan3.mode == "region" and plan3.nbytes <= BUDGET
    # arrays an overview fits keep their strided overview
    small = plan_view((4096, 4096), (512, 512), (0, 1), (0, 0), 4, 64 << 20)
    assert small.mode == "overview" and small.step == (2, 2)


def test_display_selection_bounds_chunk_count():
    from storecore.containers import display_selection

    sel = display_selection((10**12, 10**12), target=(1024, 1024), itemsize=4, chunks=(1, 1), max_chunks=4096)
    samples = [len(range(*s.indices(10**12))) for s in sel]
    assert samples[0] * samples[1] <= 4096
    from app.viewers.budget import selection_cost, touched_chunk_count

    strided = (slice(None, None, 10**9), slice(None, None, 10**9))
    assert touched_chunk_count((10**12, 10**12), (1, 1), strided) == 10**6  # counted, not enumerated
    assert selection_cost((10**12, 10**12), (1, 1), 4, strided) == 4 * 10**6


def test_a_200k_column_csv_shows_its_first_columns_and_a_note(qtbot, pane, tmp_path):
    from app.models.table_model import MAX_COLUMNS

    ncols, nrows = 200_000, 3
    path = tmp_path / "wide.csv"
    with open(path, "w") as f:
        f.write(",".join(f"c{i}" for i in range(ncols)) + "\n")
        for r in range(nrows):
            f.write(",".join(str(r * 10 + (i % 10)) for i in range(ncols)) + "\n")
    before = vm_rss()
    with qtbot.waitSignal(pane.loaded, timeout=60000):
        pane.show_location(str(path))
    viewer = pane.current_viewer
    assert type(viewer).__name__ == "TableViewer"
    qtbot.waitUntil(lambda: viewer.model.state is not None and viewer.model.rowCount() == nrows, timeout=60000)
    assert viewer.model.columnCount() == MAX_COLUMNS
    assert viewer.model.state.columns[:2] == ["c0", "c1"] and viewer.model.state.columns[-1] == f"c{MAX_COLUMNS - 1}"
    assert viewer.model.data(viewer.model.index(2, 3)) == "23"
    note = viewer.guard.label.text()
    assert viewer.guard.isVisibleTo(viewer) and f"first {MAX_COLUMNS:,} of {ncols:,} columns" in note
    assert not viewer.guard.button.isVisibleTo(viewer)
    assert vm_rss() - before < BUDGET + OVERHEAD


def test_a_csv_header_wider_than_the_read_still_shows(qtbot, tmp_path):
    from app.models.table_model import MAX_COLUMNS

    path = tmp_path / "huge-header.csv"
    with open(path, "w") as f:  # 1.5M columns: the header alone is ~13 MB, past the 4 MiB budget
        f.write(",".join(f"c{i}" for i in range(1_500_000)) + "\n1,2,3\n")
    pane = PreviewPane(budget=Budget(4 * 1024 * 1024))
    qtbot.addWidget(pane)
    with qtbot.waitSignal(pane.loaded, timeout=60000):
        pane.show_location(str(path))
    viewer = pane.current_viewer
    qtbot.waitUntil(lambda: viewer.model.state is not None, timeout=60000)
    assert viewer.model.columnCount() == MAX_COLUMNS
    assert "of more than" in viewer.guard.label.text()


def test_narrow_csvs_are_untouched(qtbot, pane, tmp_path):
    path = tmp_path / "narrow.csv"
    path.write_text('a,b,"c,d"\n1,2,"x\ny"\n')
    with qtbot.waitSignal(pane.loaded, timeout=20000):
        pane.show_location(str(path))
    viewer = pane.current_viewer
    qtbot.waitUntil(lambda: viewer.model.state is not None, timeout=20000)
    assert viewer.model.state.columns == ["a", "b", "c,d"] and viewer.model.rowCount() == 1
    assert not viewer.guard.isVisibleTo(viewer)


_key_text = st.text(
    alphabet=st.sampled_from(list("aA.*?[]()^$\\+| \t%#ÿé😀\u200b")), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(names=st.lists(_key_text, min_size=1, max_size=40, unique=True))
@example(names=["..", ".", "a..b", "A", "a", "[a]", ".*"])
def test_tree_rows_are_found_by_their_exact_keys_after_a_sort(qapp, names):
    """Keys are data: rows named with regex metacharacters, case twins, spaces and emoji are each found by their
    exact URI once a sort has moved them (the row lookup falls back to a C++ search of the URIs)."""
    import threading

    from PySide6.QtCore import Qt

    from app.models.mounts_model import LOADING, NODE_ROLE, SIZE, MountsModel, TreeNode, row_cells
    from app.mounts import MountSpec
    from storecore.cli import printable

    model = MountsModel()
    mount = model.node(model.add_mount(MountSpec("k", "mem://bucket", "memory"), "mem://bucket"))
    mount.state = LOADING
    page = [TreeNode(f"mem://bucket/{n}", n, "file", size=len(n.encode())) for n in names]
    model._on_page(mount, page, [row_cells(c) for c in page], threading.Event())
    model.sort(SIZE, Qt.SortOrder.DescendingOrder)
    for node in page:
        index = model.index_of(node)
        assert index.data(NODE_ROLE) is node and index.data() == printable(node.name)  # a tab shows as \\t
    assert sorted(n.name for n in model.child_nodes(mount)) == sorted(names)


def test_a_group_with_a_huge_attribute_shows_it_cut_with_its_length(qtbot, pane, tmp_path):
    """A calibration table of 2 million numbers as a group's attribute: the summary shows its first values and how
    many there are (the whole text took about a minute to lay out in the table)."""
    import h5py

    from app.viewers.widgets import ATTR_MAX_CHARS

    path = tmp_path / "calibration.h5"
    with h5py.File(path, "w", libver="latest") as f:  # dense attribute storage: no 64 KiB limit
        g = f.create_group("g")
        g.attrs.create("table", np.arange(2_000_000, dtype="f8"))
        g.attrs["unit"] = "keV"
    with qtbot.waitSignal(pane.loaded, timeout=60000):
        pane.show_location(f"{path}::/g")
    viewer = pane.current_viewer
    assert type(viewer).__name__ == "SummaryViewer"
    rows = {viewer.attrs.item(i, 0).text(): viewer.attrs.item(i, 1).text() for i in range(viewer.attrs.rowCount())}
    assert rows["unit"] == "keV"
    assert rows["table"].startswith("[0.0, 1.0, 2.0") and rows["table"].endswith("(2,000,000 values)")
    assert len(rows["table"]) < ATTR_MAX_CHARS + 100
