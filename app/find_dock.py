"""The Find dock: search a mount or folder by name, size, shape, dtype and attributes.

The search runs ``storecore.find`` on the worker pool; matches arrive in
batches (every 200 matches or 0.1 s) so the table fills while the walk goes
on and the window stays responsive.  Stop cancels the walk at once.  Rows
can be dragged (``application/x-storescope-uris``) to the transfer queue or
a folder, exported as CSV, and double-clicked to reveal them in the tree.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from typing import Any

from PySide6.QtCore import QMimeData, QModelIndex, QPersistentModelIndex, Qt, QUrl, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from . import workers
from .formatting import human_size
from .models.batch_model import BatchTableModel

log = logging.getLogger(__name__)

URI_MIME = "application/x-storescope-uris"
COLUMNS = ("URI", "Kind", "Size", "Shape / dtype", "Matching attributes")
KIND_CHOICES = ("any", "file", "dir", "group", "array")

_Index = QModelIndex | QPersistentModelIndex


def shape_text(match: Any) -> str:
    """``(3, 16, 16) float32`` for arrays, empty otherwise."""
    if match.shape is None:
        return ""
    dims = ", ".join(str(s) for s in match.shape)
    return f"({dims}{',' if len(match.shape) == 1 else ''}) {match.dtype if match.dtype is not None else ''}".strip()


def attrs_text(attrs: dict[str, Any]) -> str:
    """``sample=LK-17, run=4`` for the matching attributes."""
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, default=str)}" for k, v in attrs.items())


class FindResultsModel(BatchTableModel):
    """The matches of one search, appended in batches; rows drag as URIs."""

    COLUMNS = COLUMNS

    @property
    def matches(self) -> list[Any]:
        """The matches shown, in order."""
        return self.rows

    def match_at(self, row: int) -> Any:
        """The :class:`storecore.search.Match` shown in ``row``."""
        return self.rows[row]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        m = self.matches[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (m.uri, m.kind, human_size(m.size, unknown=""), shape_text(m), attrs_text(m.attrs))[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            # results are cut off in their columns: the full URI always, and the full cell when it is longer
            cell = (m.uri, m.kind, human_size(m.size, unknown=""), shape_text(m), attrs_text(m.attrs))[col]
            return m.uri if col == 0 or not cell else f"{cell}\n{m.uri}"
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return m
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return [URI_MIME, "text/plain", "text/uri-list"]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:
        uris: list[str] = []
        for index in indexes:
            uri = self.matches[index.row()].uri
            if uri not in uris:
                uris.append(uri)
        data = QMimeData()
        data.setData(URI_MIME, "\n".join(uris).encode())
        local = [QUrl.fromLocalFile(u) for u in uris if u.startswith("/") and "::" not in u]
        if local:
            data.setUrls(local)
        data.setText("\n".join(uris))
        return data

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction


class FindDock(workers.StreamedRows, QDockWidget):
    """Searches below a location; ``reveal_requested(uri)`` asks the window to show a result.

    ``search_finished(count)`` is emitted when a search ends (also when stopped).
    """

    reveal_requested = Signal(str)
    search_finished = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Find", parent)
        self.setObjectName("FindDock")
        self.model = FindResultsModel(self)
        self.task: workers.Task | None = None
        self.stats: Any = None
        self.last_error: str | None = None
        self._started = 0.0
        self._build()
        self._set_busy(False)

    # layout -------------------------------------------------------------------------
    def _build(self) -> None:
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addLayout(self._build_criteria_form())
        outer.addLayout(self._build_buttons())
        outer.addWidget(self._build_results_table(), 1)
        self.setWidget(body)

        self.search_button.clicked.connect(self.search)
        self.stop_button.clicked.connect(self.stop)
        self.export_button.clicked.connect(self._choose_csv)
        for edit in (self.root_edit, self.name_edit, self.path_edit, self.min_size_edit, self.max_size_edit,
                     self.newer_edit, self.shape_edit, self.dtype_edit, self.attrs_edit):
            edit.returnPressed.connect(self.search)

    def _build_criteria_form(self) -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.root_edit = QLineEdit()
        self.root_edit.setPlaceholderText("folder, bucket prefix or container to search (e.g. s3://bucket/runs)")
        form.addRow("Search in", self.root_edit)
        form.addRow("Name", self._build_name_fields())
        form.addRow("Size from", self._build_size_and_date_fields())
        form.addRow("Shape", self._build_shape_fields())

        self.attrs_edit = QLineEdit()
        self.attrs_edit.setPlaceholderText("sample=LK-17; exposure=0.5; operator=a*")
        form.addRow("Attributes", self.attrs_edit)
        form.addRow("", self._build_walk_options())
        return form

    def _build_name_fields(self) -> QHBoxLayout:
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("*.h5")
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("*/entry/data")
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(KIND_CHOICES)
        row = QHBoxLayout()
        row.addWidget(self.name_edit, 2)
        row.addWidget(QLabel("Path"))
        row.addWidget(self.path_edit, 2)
        row.addWidget(QLabel("Kind"))
        row.addWidget(self.kind_combo)
        return row

    def _build_size_and_date_fields(self) -> QHBoxLayout:
        self.min_size_edit = QLineEdit()
        self.min_size_edit.setPlaceholderText("10k")
        self.max_size_edit = QLineEdit()
        self.max_size_edit.setPlaceholderText("5G")
        self.newer_edit = QLineEdit()
        self.newer_edit.setPlaceholderText("2024-05-01")
        row = QHBoxLayout()
        row.addWidget(self.min_size_edit)
        row.addWidget(QLabel("to"))
        row.addWidget(self.max_size_edit)
        row.addWidget(QLabel("Modified after"))
        row.addWidget(self.newer_edit)
        return row

    def _build_shape_fields(self) -> QHBoxLayout:
        self.shape_edit = QLineEdit()
        self.shape_edit.setPlaceholderText("..., 2048, 2048")
        self.dtype_edit = QLineEdit()
        self.dtype_edit.setPlaceholderText("float32, uint*")
        row = QHBoxLayout()
        row.addWidget(self.shape_edit, 2)
        row.addWidget(QLabel("Dtype"))
        row.addWidget(self.dtype_edit, 1)
        return row

    def _build_walk_options(self) -> QHBoxLayout:
        self.containers_check = QCheckBox("Look inside Zarr stores and HDF5 files")
        self.containers_check.setChecked(True)
        self.depth_spin = QSpinBox()
        self.depth_spin.setRange(0, 1000)
        self.depth_spin.setSpecialValueText("any")
        row = QHBoxLayout()
        row.addWidget(self.containers_check)
        row.addStretch(1)
        row.addWidget(QLabel("Max depth"))
        row.addWidget(self.depth_spin)
        return row

    def _build_buttons(self) -> QHBoxLayout:
        buttons = QHBoxLayout()
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.export_button = QPushButton("Export CSV…")
        self.count_label = QLabel("")
        buttons.addWidget(self.search_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.count_label, 1)
        buttons.addWidget(self.export_button)
        return buttons

    def _build_results_table(self) -> QTableView:
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setDragEnabled(True)
        self.table.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a URI's bucket and name both stay visible
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._on_double_click)
        return self.table

    # public API ------------------------------------------------------------------------
    def start_search(self, root_uri: str) -> None:
        """Show the dock with ``root_uri`` as the place to search, ready for criteria."""
        if root_uri:
            self.root_edit.setText(root_uri)
        self.show()
        self.raise_()
        self.name_edit.setFocus()

    def criteria(self) -> dict[str, Any]:
        """The keyword arguments for ``storecore.find`` from the fields (raises ``InvalidArgument``)."""
        from storecore.search import Criteria, parse_attrs

        def text(edit: QLineEdit) -> str | None:
            return edit.text().strip() or None

        attrs_text_ = text(self.attrs_edit)
        items = [part.strip() for part in (attrs_text_ or "").split(";") if part.strip()]
        dtypes = [d.strip() for d in (text(self.dtype_edit) or "").split(",") if d.strip()]
        kind = self.kind_combo.currentText()
        kwargs: dict[str, Any] = {
            "name": text(self.name_edit),
            "path": text(self.path_edit),
            "kind": None if kind == "any" else kind,
            "min_size": text(self.min_size_edit),
            "max_size": text(self.max_size_edit),
            "modified_after": text(self.newer_edit),
            "dtype": dtypes or None,
            "shape": text(self.shape_edit),
            "attrs": parse_attrs(items) if items else None,
            "into_containers": self.containers_check.isChecked(),
            "max_depth": self.depth_spin.value() or None,
        }
        Criteria.build(**{k: v for k, v in kwargs.items() if k not in ("into_containers", "max_depth")})
        return kwargs

    def search(self) -> None:
        """Start a search with the current fields (a running one is stopped first)."""
        self.stop(quiet=True)
        root = self.root_edit.text().strip()
        if not root:
            self._show_error("Enter a folder, bucket or container to search.")
            return
        try:
            kwargs = self.criteria()
        except Exception as e:  # InvalidArgument from any field: say which, start nothing
            log.debug("find criteria rejected: %s", e)
            self._show_error(workers.describe_error(e))
            return
        self.model.clear()
        self.last_error = None
        from storecore.search import FindStats

        stats = FindStats()
        self.stats = stats
        def matches(token: workers.CancelToken) -> Any:
            from storecore.search import find

            return find(root, cancel=token, stats=stats, **kwargs)

        self._run_stream(matches)

    def uris(self) -> list[str]:
        """The URIs of every result, in table order."""
        return [m.uri for m in self.model.matches]

    def export_csv(self, path: str) -> int:
        """Write the results as CSV (uri, kind, size, shape, dtype, attrs) to ``path`` (any URI); return the row count."""
        import storecore

        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["uri", "kind", "size", "shape", "dtype", "attrs"])
        for m in self.model.matches:
            writer.writerow([
                m.uri,
                m.kind,
                "" if m.size is None else m.size,
                "" if m.shape is None else "x".join(str(s) for s in m.shape),
                "" if m.dtype is None else str(m.dtype),
                json.dumps(m.attrs, default=str) if m.attrs else "",
            ])
        backend, loc = storecore.backend_for(path)
        backend.write_bytes(loc.path, buf.getvalue().encode("utf-8"))  # atomic
        return len(self.model.matches)

    # slots ---------------------------------------------------------------------------------
    def _finished(self) -> None:
        self.search_finished.emit(self.model.rowCount())

    def _on_double_click(self, index: QModelIndex) -> None:
        if index.isValid():
            self.reveal_requested.emit(self.model.match_at(index.row()).uri)

    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export results", "find-results.csv", "CSV files (*.csv)")
        if path:
            try:
                n = self.export_csv(path)
            except Exception as e:  # noqa: BLE001 - shown to the user, never raised into Qt
                log.warning("CSV export to %s failed: %s", path, e)
                self._show_error(workers.describe_error(e))
                return
            self.count_label.setText(f"{n} results exported to {path}")

    # state -----------------------------------------------------------------------------------
    def _set_busy(self, busy: bool) -> None:
        self.search_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.export_button.setEnabled(not busy)

    def _show_error(self, message: str) -> None:
        self.last_error = message
        self.count_label.setText(message)
        self.count_label.setStyleSheet("color: #b00020;")

    def _show_progress(self, done: bool = False, stopped: bool = False) -> None:
        self.count_label.setStyleSheet("")
        n = self.model.rowCount()
        elapsed = time.monotonic() - self._started
        text = f"{n} result{'s' if n != 1 else ''}"
        if stopped:
            text += f" (stopped after {elapsed:.1f} s)"
        elif done:
            text += f" in {elapsed:.1f} s"
            errors = len(self.stats.errors) if self.stats is not None else 0
            if errors:
                text += f"; {errors} item{'s' if errors != 1 else ''} could not be read"
        else:
            text += " — searching…"
        self.count_label.setText(text)
