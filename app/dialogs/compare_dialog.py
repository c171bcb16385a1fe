"""The Compare dialog: what differs between two locations, filtered by status, and "Copy missing →".

``storecore.compare`` runs on the worker pool and its entries arrive in
batches.  "Copy missing →" hands the files only in A (and, when ticked, the
ones that differ) to a callback grouped by destination folder — the window
passes its transfer queue's ``submit(src_uris, dst_folder)``.  Nothing is
ever deleted from B.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .. import workers
from ..models.batch_model import BatchTableModel

COLUMNS = ("Status", "Path", "Size in A", "Size in B", "Why")
STATUS_LABELS = {"only_a": "only in A", "only_b": "only in B", "differ": "differs", "same": "same"}
FILTERS = (("All", None), ("Only in A", "only_a"), ("Only in B", "only_b"), ("Different", "differ"), ("Same", "same"))
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1

CopyCallback = Callable[[list[str], str], Any]
_Index = QModelIndex | QPersistentModelIndex


class CompareModel(BatchTableModel):
    """Compare entries (:class:`storecore.search.CompareEntry`), appended in batches."""

    COLUMNS = COLUMNS

    @property
    def entries(self) -> list[Any]:
        """The entries shown, in order."""
        return self.rows

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            sizes = ("" if e.a_size is None else str(e.a_size), "" if e.b_size is None else str(e.b_size))
            return (STATUS_LABELS.get(e.status, e.status), e.path, *sizes, e.reason or "")[index.column()]
        if role == STATUS_ROLE:
            return e.status
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"A: {e.a_uri}\nB: {e.b_uri}"
        if role == Qt.ItemDataRole.UserRole:
            return e
        return None


class CompareDialog(workers.StreamedRows, QDialog):
    """Compares ``a_uri`` with ``b_uri``; ``copy_callback(src_uris, dst_folder)`` receives "Copy missing →".

    ``compare_finished(count)`` is emitted when the comparison ends.
    """

    compare_finished = Signal(int)
    BATCH_SIZE = 500

    def __init__(
        self,
        a_uri: str,
        b_uri: str,
        copy_callback: CopyCallback | None = None,
        parent: QWidget | None = None,
        *,
        deep: bool = False,
        autostart: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare")
        self.resize(820, 520)
        self.copy_callback = copy_callback
        self.model = CompareModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterRole(STATUS_ROLE)
        self.task: workers.Task | None = None
        self.last_error: str | None = None
        self.counts: dict[str, int] = {}
        self._started = 0.0
        self._build(a_uri, b_uri, deep)
        self._set_busy(False)
        if autostart:
            self.start()

    def _build(self, a_uri: str, b_uri: str, deep: bool) -> None:
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.a_edit = QLineEdit(a_uri)
        self.b_edit = QLineEdit(b_uri)
        form.addRow("A", self.a_edit)
        form.addRow("B", self.b_edit)
        layout.addLayout(form)

        row = QHBoxLayout()
        self.deep_check = QCheckBox("Compare contents (ETag / checksum) when sizes match")
        self.deep_check.setChecked(deep)
        self.compare_button = QPushButton("Compare")
        self.stop_button = QPushButton("Stop")
        row.addWidget(self.deep_check, 1)
        row.addWidget(self.compare_button)
        row.addWidget(self.stop_button)
        layout.addLayout(row)

        row = QHBoxLayout()
        row.addWidget(QLabel("Show"))
        self.filter_combo = QComboBox()
        for label, status in FILTERS:
            self.filter_combo.addItem(label, status)
        row.addWidget(self.filter_combo)
        self.summary_label = QLabel("")
        row.addWidget(self.summary_label, 1)
        layout.addLayout(row)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)

        row = QHBoxLayout()
        self.include_differ_check = QCheckBox("and replace files that differ")
        self.include_differ_check.setChecked(True)
        self.copy_button = QPushButton("Copy missing →")
        self.copy_button.setToolTip("Queue copies from A to B; nothing in B is deleted")
        row.addWidget(self.include_differ_check)
        row.addStretch(1)
        row.addWidget(self.copy_button)
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

        self.compare_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.filter_combo.currentIndexChanged.connect(lambda _i: self.set_filter(self.filter_combo.currentData()))
        self.copy_button.clicked.connect(self.copy_missing)

    # public API -------------------------------------------------------------------------
    def start(self) -> None:
        """(Re)run the comparison of the A and B fields."""
        self.stop(quiet=True)
        a, b, deep = self.a_edit.text().strip(), self.b_edit.text().strip(), self.deep_check.isChecked()
        self.model.clear()
        self.counts = {"only_a": 0, "only_b": 0, "differ": 0, "same": 0}
        self.last_error = None

        def entries(token: workers.CancelToken) -> Any:
            from storecore.search import compare

            return compare(a, b, deep, cancel=token)

        self._run_stream(entries)

    def set_filter(self, status: str | None) -> None:
        """Show only entries with ``status`` (``None``: all)."""
        self.proxy.setFilterRegularExpression("" if status is None else f"^{status}$")
        index = next((i for i, (_l, s) in enumerate(FILTERS) if s == status), 0)
        if self.filter_combo.currentIndex() != index:
            self.filter_combo.setCurrentIndex(index)

    def visible_entries(self) -> list[Any]:
        """The entries the filter lets through, in view order."""
        return [self.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.proxy.rowCount())]

    def copy_missing(self) -> dict[str, list[str]]:
        """Send the copies that make B hold what A has to the callback, per destination folder; return them."""
        from storecore.search import group_by_folder, sync_plan

        groups = group_by_folder(sync_plan(self.model.entries, include_differ=self.include_differ_check.isChecked()))
        if self.copy_callback is not None:
            for folder, sources in groups.items():
                self.copy_callback(sources, folder)
        n = sum(len(s) for s in groups.values())
        self.summary_label.setText(f"{n} file{'s' if n != 1 else ''} queued for copying to B")
        return groups

    # slots ----------------------------------------------------------------------------------
    def _on_batch(self, batch: list[Any]) -> None:
        for e in batch:
            self.counts[e.status] = self.counts.get(e.status, 0) + 1
        super()._on_batch(batch)

    def _show_error(self, message: str) -> None:
        self.last_error = message
        self.summary_label.setText(message)

    def _finished(self) -> None:
        self.compare_finished.emit(self.model.rowCount())

    def _set_busy(self, busy: bool) -> None:
        self.compare_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        missing = self.counts.get("only_a", 0) + self.counts.get("differ", 0) if self.counts else 0
        self.copy_button.setEnabled(not busy and missing > 0)

    def _show_progress(self, done: bool = False, stopped: bool = False) -> None:
        c = self.counts
        text = f"{c.get('only_a', 0)} only in A · {c.get('only_b', 0)} only in B · {c.get('differ', 0)} differ · {c.get('same', 0)} same"
        if stopped:
            text += " (stopped)"
        elif not done:
            text += " — comparing…"
        else:
            text += f" ({time.monotonic() - self._started:.1f} s)"
        self.summary_label.setText(text)
