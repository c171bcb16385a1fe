"""Values as a person reads them, through real preview panes: strings as text, records and enums as tables,
references as paths, empty datasets described, detection by content (no hex for NeXus or user-block files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from corpus import HDF5_CORPUS
from instrument_files import write_all_dtypes, write_user_block
from window_helpers import show

from app.viewers.table_viewer import TableViewer
from app.viewers.value_viewer import ValueViewer

CORPUS = HDF5_CORPUS


@pytest.fixture(scope="module")
def dtypes_file(tmp_path_factory) -> Path:
    return write_all_dtypes(tmp_path_factory.mktemp("values") / "all_dtypes.h5")


def table_cells(viewer: TableViewer) -> list[list[str]]:
    model = viewer.model
    return [[model.data(model.index(r, c)) for c in range(model.columnCount())] for r in range(model.rowCount())]


def test_scalar_string_shows_its_text(qtbot, pane, dtypes_file):
    viewer = show(qtbot, pane, f"{dtypes_file}::/strings/scalar_vlen_utf8")
    assert isinstance(viewer, ValueViewer)
    assert viewer.text.toPlainText() == "Réglage détecteur ✓"
    viewer = show(qtbot, pane, f"{dtypes_file}::/strings/fixed_scalar")
    assert viewer.text.toPlainText() == "NXentry"  # not b'NXentry'


def test_scalar_number_and_record_read_plainly(qtbot, pane, dtypes_file):
    viewer = show(qtbot, pane, f"{dtypes_file}::/numbers/scalar_int")
    assert viewer.text.toPlainText() == "7"
    viewer = show(qtbot, pane, f"{dtypes_file}::/compound/scalar_record")
    text = viewer.text.toPlainText()
    assert "name: alpha" in text and "id: 1" in text and "np." not in text


def test_empty_dataset_is_described_not_failed(qtbot, pane, dtypes_file):
    viewer = show(qtbot, pane, f"{dtypes_file}::/numbers/empty")
    assert isinstance(viewer, ValueViewer)
    assert "empty" in viewer.note.text()


def test_compound_dataset_is_a_table_with_a_column_per_field(qtbot, pane, dtypes_file):
    viewer = show(qtbot, pane, f"{dtypes_file}::/compound/records")
    assert isinstance(viewer, TableViewer)
    model = viewer.model
    headers = [model.headerData(c, __import__("PySide6.QtCore").QtCore.Qt.Orientation.Horizontal) for c in
               range(model.columnCount())]  # fmt: skip
    assert [h.split("\n")[0] for h in headers] == ["id", "name", "pos.x", "pos.y", "code", "v"]
    cells = table_cells(viewer)
    assert cells[1][1] == "bêta" and cells[0][4] == "AB"


def test_string_enum_and_reference_arrays_are_tables_of_text(qtbot, pane, dtypes_file):
    viewer = show(qtbot, pane, f"{dtypes_file}::/strings/vlen_utf8_2d")
    assert isinstance(viewer, TableViewer)
    assert table_cells(viewer) == [["a", "bé"], ["ç", ""]]
    viewer = show(qtbot, pane, f"{dtypes_file}::/refs/object_refs")
    assert [row[0] for row in table_cells(viewer)] == ["/numbers/bool", "/strings", "/compound/enum"]
    viewer = show(qtbot, pane, f"{dtypes_file}::/compound/vlen_int")
    assert [row[0] for row in table_cells(viewer)] == ["[1, 2, 3]", "[]", "[42]"]


def test_plotting_strings_is_not_offered_first_and_leaves_nothing_behind(qtbot, pane, dtypes_file):
    show(qtbot, pane, f"{dtypes_file}::/numbers/big_endian_f4")
    viewer = show(qtbot, pane, f"{dtypes_file}::/strings/vlen_ascii_1d")
    assert isinstance(viewer, TableViewer)
    assert [row[0] for row in table_cells(viewer)] == ["x1", "x22", "x333"]


def test_user_block_file_with_any_name_opens_as_hdf5(qtbot, pane, tmp_path):
    path = write_user_block(tmp_path / "acquisition.dat", 1024)
    viewer = show(qtbot, pane, path)
    assert type(viewer).__name__ != "HexViewer"


@pytest.mark.skipif(not (CORPUS / "DLS_NXmx_Therm_6_2.nxs").exists(), reason="the shared corpus is not here")
def test_nxs_file_is_not_hex(qtbot, pane, tmp_path):
    path = tmp_path / "copy.nxs"
    shutil.copy(CORPUS / "DLS_NXmx_Therm_6_2.nxs", path)
    viewer = show(qtbot, pane, path)
    assert type(viewer).__name__ != "HexViewer"


def test_unreadable_container_says_why_in_the_pane(qtbot, pane, tmp_path):
    hdf4 = tmp_path / "legacy.hdf"
    hdf4.write_bytes(b"\x0e\x03\x13\x01" + bytes(2000))
    viewer = show(qtbot, pane, hdf4)
    assert viewer.message.isVisible() and "HDF4 is not supported" in viewer.message.text()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    viewer = show(qtbot, pane, cut)
    assert viewer.message.isVisible() and "cut.h5" in viewer.message.text()


def test_missing_filter_is_named_in_the_pane(qtbot, pane, tmp_path):
    from instrument_files import UNAVAILABLE_FILTER, write_unavailable_filter

    path = write_unavailable_filter(tmp_path / "odd.h5")
    with qtbot.waitSignal(pane.loaded, timeout=15000):
        pane.show_location(f"{path}::/frames")
    qtbot.waitUntil(lambda: str(UNAVAILABLE_FILTER) in pane_text(pane), timeout=15000)


def pane_text(pane) -> str:
    """Every label's and text box's text in the pane."""
    from PySide6.QtWidgets import QLabel, QPlainTextEdit

    texts = [w.text() for w in pane.findChildren(QLabel) if w.isVisible()]
    texts += [w.toPlainText() for w in pane.findChildren(QPlainTextEdit) if w.isVisible()]
    return "\n".join(texts)
