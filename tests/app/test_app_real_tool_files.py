"""Previews of files as real tools write them: times in Zarr arrays and ``.npy`` records read as times, byte
strings of a ``.npy`` record as text, alike whichever container holds them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import zarr
from window_helpers import show

from app.viewers.table_viewer import TableViewer


def pane_text(pane) -> str:
    """Every visible label's text in the pane (where a load's error is shown)."""
    from PySide6.QtWidgets import QLabel

    return "\n".join(w.text() for w in pane.findChildren(QLabel) if w.isVisible())


def cells(viewer: TableViewer) -> list[list[str]]:
    model = viewer.model
    return [[model.data(model.index(r, c)) for c in range(model.columnCount())] for r in range(model.rowCount())]


def test_datetime_and_timedelta_arrays_show_times_not_integers(qtbot, pane, tmp_path):
    group = zarr.open_group(tmp_path / "t.zarr", mode="w", zarr_format=2)
    when = np.array(["2020-01-01T00:00", "NaT", "1900-06-01T12:34:56.789"], dtype="M8[ns]")
    group.create_array("when", data=when, chunks=(2,))
    group.create_array("took", data=np.array([3600, "NaT"], dtype="m8[s]"), chunks=(2,))
    viewer = show(qtbot, pane, f"{tmp_path}/t.zarr::/when")
    assert isinstance(viewer, TableViewer)
    qtbot.waitUntil(lambda: viewer.model.rowCount() == 3)
    shown = [row[0] for row in cells(viewer)]
    assert shown[0].startswith("2020-01-01") and shown[2].startswith("1900-06-01 12:34:56.789")  # not 1577836800000000000
    viewer = show(qtbot, pane, f"{tmp_path}/t.zarr::/took")
    qtbot.waitUntil(lambda: viewer.model.rowCount() == 2)
    assert "1h" in cells(viewer)[0][0] or "1:00:00" in cells(viewer)[0][0]


def test_a_structured_npy_reads_its_byte_strings_and_times_as_a_zarr_record_does(qtbot, pane, tmp_path):
    records = np.array([(1, b"ab", np.datetime64("2021-05-06", "s"))], dtype=[("i", "<i4"), ("s", "S3"), ("t", ">M8[s]")])
    np.save(tmp_path / "r.npy", records)
    viewer = show(qtbot, pane, tmp_path / "r.npy")
    assert isinstance(viewer, TableViewer)
    qtbot.waitUntil(lambda: viewer.model.rowCount() == 1)
    row = cells(viewer)[0]
    assert row[1] == "ab" and row[2].startswith("2021-05-06")  # not b'ab'
    assert dt.date(2021, 5, 6).isoformat() in row[2]


def test_a_float64_tiff_is_shown_or_its_cause_named_without_an_object_address(qtbot, pane, tmp_path):
    import importlib.util
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "storecore" / "formats"))
    from test_real_tool_files import float64_tiff

    from app.viewers.image_viewer import ImageViewer

    (tmp_path / "f64.tif").write_bytes(float64_tiff(np.linspace(0, 1, 12).reshape(3, 4)))
    viewer = show(qtbot, pane, tmp_path / "f64.tif")
    if importlib.util.find_spec("tifffile"):
        assert isinstance(viewer, ImageViewer)
    else:  # was "cannot decode the image (cannot identify image file <_io.BytesIO object at 0x…>)"
        text = pane_text(pane)
        assert "f64.tif" in text and "pip install tifffile" in text and "BytesIO" not in text


def test_npy_strings_and_times_are_tables_and_an_object_npy_is_refused_as_pickle(qtbot, pane, tmp_path):
    np.save(tmp_path / "s.npy", np.array(["αβ", "c"]))
    np.save(tmp_path / "t.npy", np.array(["2020-01-01", "NaT"], dtype="M8[s]"))
    for name, first in (("s.npy", "αβ"), ("t.npy", "2020-01-01")):
        viewer = show(qtbot, pane, tmp_path / name)
        assert isinstance(viewer, TableViewer), name  # was the array viewer's "cannot plot values of type <U2"
        qtbot.waitUntil(lambda v=viewer: v.model.rowCount() == 2)
        assert cells(viewer)[0][0].startswith(first)
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    show(qtbot, pane, tmp_path / "o.npy")
    assert "o.npy: object arrays need pickle, which previews never load" in pane_text(pane)


def test_a_group_of_thousands_counts_every_member_group(qtbot, pane, tmp_path):
    from app.viewers import summary_viewer

    group = zarr.open_group(tmp_path / "many.zarr", mode="w", zarr_format=2)
    for i in range(summary_viewer.MAX_CHILDREN + 5):
        group.create_group(f"g{i:05d}")
    group.create_array("arr", data=np.arange(3))
    facts = show(qtbot, pane, tmp_path / "many.zarr").facts
    members = next(facts.item(r, 1).text() for r in range(facts.rowCount()) if facts.item(r, 0).text() == "Members")
    n = summary_viewer.MAX_CHILDREN + 6
    assert members == f"{n} ({n - 1} groups, 1 others)"  # was "(1999 groups, 7 others)": groups among rows shown


def test_json_and_jsonl_with_a_byte_order_mark_show_their_tree(qtbot, pane, tmp_path):
    (tmp_path / "b.json").write_bytes('\ufeff{"a": [1, 2]}'.encode())
    (tmp_path / "b.jsonl").write_bytes('\ufeff{"a": 1}\n{"a": 2}\n'.encode())
    for name, top in (("b.json", "{1}"), ("b.jsonl", "[2]")):
        viewer = show(qtbot, pane, tmp_path / name)
        assert viewer.tree.topLevelItem(0) is not None and viewer.tree.topLevelItem(0).text(1) == top, name


def test_a_feather_v1_file_is_named_as_such_and_feather_v2_is_a_table(qtbot, pane, tmp_path):
    import polars as pl

    (tmp_path / "old.feather").write_bytes(b"FEA1" + bytes(64) + b"FEA1")
    show(qtbot, pane, tmp_path / "old.feather")
    assert "old.feather: a Feather v1 file" in pane_text(pane)  # was "out-of-spec: InvalidFooter"
    pl.DataFrame({"a": [1, 2]}).write_ipc(tmp_path / "new.feather")
    viewer = show(qtbot, pane, tmp_path / "new.feather")
    assert isinstance(viewer, TableViewer)
    qtbot.waitUntil(lambda: viewer.model.rowCount() == 2)


def test_a_very_wide_windows_1252_csv_shows_its_letters(qtbot, pane, tmp_path):
    from app.models.table_model import MAX_COLUMNS

    width = MAX_COLUMNS + 10  # read by the bounded wide-table path, not by storecore's scan
    header = ",".join(f"c{i}" for i in range(width)).encode()
    (tmp_path / "wide.csv").write_bytes(header + b"\n" + ",".join(["Grüße €"] * width).encode("cp1252") + b"\n")
    viewer = show(qtbot, pane, tmp_path / "wide.csv")
    assert isinstance(viewer, TableViewer)  # was "invalid utf-8 sequence"
    qtbot.waitUntil(lambda: viewer.model.rowCount() == 1)
    assert cells(viewer)[0][0] == "Grüße €"
