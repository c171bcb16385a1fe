"""LazyTableModel: row windows on demand, sort and filter pushed into polars, dtype headers, row count."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.models.table_model import FilterSyntaxError, LazyTableModel, build_state, parse_filter

N = 1_000_000


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    import polars as pl

    path = tmp_path_factory.mktemp("tables") / "million.parquet"
    rng = np.random.default_rng(7)
    frame = pl.DataFrame(
        {
            "id": np.arange(N, dtype=np.int64),
            "score": rng.random(N),
            "group": np.array(["alpha", "beta", "gamma", "delta"])[np.arange(N) % 4],
        }
    )
    frame.write_parquet(path, row_group_size=100_000)
    return path, frame


@pytest.fixture
def model(qtbot, million):
    import polars as pl

    path, _ = million
    m = LazyTableModel(window=1000)
    base = pl.scan_parquet(path)
    m.set_state(base, build_state(base, window=1000))
    return m


def cell(model, row, col):
    return model.data(model.index(row, col))


def wait_cell(qtbot, model, row, col):
    """The text of a cell once its window arrived (it reads "…" until then)."""
    cell(model, row, col)
    qtbot.waitUntil(lambda: cell(model, row, col) != "…", timeout=10000)
    return cell(model, row, col)


def test_count_headers_and_first_window_without_collecting_everything(model):
    assert model.rowCount() == N and model.columnCount() == 3
    assert model.headerData(0, Qt.Orientation.Horizontal) == "id\nInt64"
    assert model.headerData(1, Qt.Orientation.Horizontal) == "score\nFloat64"
    assert model.headerData(2, Qt.Orientation.Horizontal) == "group\nString"
    assert model.headerData(5, Qt.Orientation.Vertical) == "5"
    assert cell(model, 999, 0) == "999"  # first window came with the state
    assert model.windows_loaded == [0]


def test_row_windows_are_fetched_on_demand_and_bounded(qtbot, model, million):
    _, frame = million
    assert cell(model, 654_321, 0) == "…"  # not loaded yet: a window fetch starts
    assert wait_cell(qtbot, model, 654_321, 0) == "654321"
    assert wait_cell(qtbot, model, 654_321, 2) == frame["group"][654_321]
    assert sorted(model.windows_loaded) == [0, 654_000]
    for start in range(0, 40_000, 1000):  # scroll through many windows: memory stays bounded
        wait_cell(qtbot, model, start + 10, 0)
    assert len(model.windows_loaded) <= 16


def test_sort_is_pushed_into_polars(qtbot, model, million):
    _, frame = million
    with qtbot.waitSignal(model.modelReset, timeout=20000):
        model.sort(1, Qt.SortOrder.DescendingOrder)
    expected = frame.sort("score", descending=True)
    assert cell(model, 0, 1) == f"{expected['score'][0]:.6g}"
    assert cell(model, 0, 0) == str(expected["id"][0])
    assert wait_cell(qtbot, model, 500_000, 0) == str(expected["id"][500_000])
    assert model.rowCount() == N


def test_filter_expression_changes_rows_and_count(qtbot, model, million):
    _, frame = million
    with qtbot.waitSignal(model.count_changed, timeout=20000) as blocker:
        model.set_filter('group == "beta" and id < 1000')
    assert blocker.args == [250]
    assert [cell(model, r, 0) for r in range(3)] == ["1", "5", "9"]
    with qtbot.waitSignal(model.count_changed, timeout=20000) as blocker:
        model.set_filter("score > 0.99 or id <= 3")
    assert blocker.args == [frame.filter((frame["score"] > 0.99) | (frame["id"] <= 3)).height]
    with qtbot.waitSignal(model.count_changed, timeout=20000) as blocker:
        model.set_filter("")
    assert blocker.args == [N]


def test_bad_filter_reports_a_message_and_keeps_rows(qtbot, model):
    with qtbot.waitSignal(model.failed, timeout=10000) as blocker:
        model.set_filter("nosuch > 3")
    assert "no column 'nosuch'" in blocker.args[0]
    assert model.rowCount() == N


@pytest.mark.parametrize(
    "text,rows",
    [
        ("a >= 2", [2, 3]),
        ("a != 2 and (b contains \"x\" or b is null)", [1, 3]),
        ("b startswith 'y'", [2]),
        ("b is not null", [1, 2]),
        ("`a` = 3", [3]),
    ],
)
def test_parse_filter(text, rows):
    import polars as pl

    df = pl.DataFrame({"a": [1, 2, 3], "b": ["xa", "ya", None]})
    assert df.filter(parse_filter(text, df.columns))["a"].to_list() == rows


@pytest.mark.parametrize("text", ["a >", "a ~ 3", "(a > 1", "a > 1 b", "", "3 > a"])
def test_parse_filter_errors(text):
    with pytest.raises(FilterSyntaxError):
        parse_filter(text, ["a", "b"])


def test_dtype_labels_are_short():
    import polars as pl

    from app.models.table_model import dtype_label

    assert dtype_label(pl.Datetime("us")) == "Datetime[us]"
    assert dtype_label(pl.Datetime("ns", "UTC")) == "Datetime[ns, UTC]"
    assert dtype_label(pl.Duration("ms")) == "Duration[ms]"
    assert dtype_label(pl.List(pl.Int8)) == "List(Int8)"


def test_table_viewer_filter_line_and_count_label(qtbot, million):
    import polars as pl

    from app.viewers.table_viewer import TablePayload, TableViewer

    path, _ = million
    viewer = TableViewer()
    qtbot.addWidget(viewer)
    base = pl.scan_parquet(path)
    viewer.display(TablePayload(base, build_state(base)))
    assert viewer.count.text() == "1,000,000 rows × 3 columns"
    viewer.filter.setText("id < 10")
    with qtbot.waitSignal(viewer.model.count_changed, timeout=20000):
        viewer.filter.returnPressed.emit()
    assert viewer.count.text() == "10 rows × 3 columns"
    with qtbot.waitSignal(viewer.model.modelReset, timeout=20000):
        viewer.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert cell(viewer.model, 0, 0) == "9"
