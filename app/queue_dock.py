"""The transfer queue dock: one row per copy/move job with progress, rate, ETA and state.

Jobs run in :class:`storecore.transfer.TransferQueue` (its own worker
threads); the engine's callbacks arrive here through queued Qt signals, so
rows are only touched on the GUI thread.  When a destination file exists the
engine's worker waits while :class:`~app.dialogs.conflict_dialog.ConflictDialog`
asks the user (its "apply to all" answers the job's later conflicts too).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from typing import Any

from PySide6.QtCore import SIGNAL, QModelIndex, QObject, QPoint, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .models.queue_model import NAME, PROGRESS, ROUTE, STATE, FractionRole, QueueModel, QueueRow

log = logging.getLogger(__name__)

#: how often (ms) rows of running jobs are repainted at most
REFRESH_MS = 150


class _ConflictRequest:
    """An engine worker waiting for the user's answer to one conflict."""

    def __init__(self, conflict: Any) -> None:
        self.conflict = conflict
        self.answer: tuple[str, bool] = ("cancel", False)
        self.done = threading.Event()
        self.dialog: Any = None

    def wait(self) -> tuple[str, bool]:
        """Block the worker until the user answers (or the job ends): (decision, apply to all)."""
        job = self.conflict.job
        while not self.done.wait(0.1):
            if job.state.finished or job._cancel.is_set():
                return ("cancel", False)
        return self.answer


class _Bridge(QObject):
    """Carries engine callbacks (worker threads) to the GUI thread."""

    changed = Signal(str)
    ended = Signal(str)
    conflict = Signal(object)


class _ProgressDelegate(QStyledItemDelegate):
    """Paints the Progress column as a progress bar (busy while the total is unknown)."""

    def paint(self, painter: Any, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        fraction = index.data(FractionRole)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int((fraction or 0.0) * 1000)
        bar.text = index.data() or ""
        bar.textVisible = True
        bar.state = option.state
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class TransferQueueDock(QDockWidget):
    """Lists transfer jobs; ``submit`` queues copies/moves; ``job_finished(dst_uri)`` when one ends.

    ``job_finished`` carries the folder URI given to :meth:`submit` (what the
    tree should refresh).  ``reveal_requested(uri)`` asks the window to show a
    job's destination.  ``conflict`` is the policy for existing files
    (``ask`` shows the conflict dialog).
    """

    job_finished = Signal(str)
    reveal_requested = Signal(str)
    conflict_asked = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, concurrency: int = 8, history: Any = True,
                 conflict: str = "ask") -> None:
        super().__init__("Transfers", parent)
        self.setObjectName("TransferQueueDock")
        self.concurrency = concurrency
        self.history = history
        self.conflict = conflict
        self._queue: Any = None
        #: a dask scheduler address: new jobs run on that cluster's workers ("Run on cluster")
        self.cluster: str | None = None
        self._folders: dict[str, str] = {}
        # "apply to all" covers every job of one drop: job id -> drop id -> the remembered answer
        self._batch_of: dict[str, str] = {}
        self._batch_answer: dict[str, tuple[str, bool]] = {}
        self._pending: list[_ConflictRequest] = []
        self._dirty: set[str] = set()
        self.dialog: Any = None

        self.model = QueueModel(self)
        self._connect_engine_signals()
        self._build_table()
        bar = self._build_toolbar()

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        self.setWidget(body)
        self._update_buttons()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        # Past sessions' jobs are shown after the first paint (reading the history costs a file read).
        QTimer.singleShot(0, self, self._load_history)

    def _connect_engine_signals(self) -> None:
        self._bridge = _Bridge(self)
        self._bridge.changed.connect(self._mark_dirty)
        self._bridge.ended.connect(self._on_ended)
        self._bridge.conflict.connect(self._ask_user)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._flush)

    def _build_table(self) -> None:
        self.view = QTableView()
        self.view.setObjectName("TransferTable")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.setItemDelegateForColumn(PROGRESS, _ProgressDelegate(self.view))
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in ((NAME, 140), (ROUTE, 260), (PROGRESS, 150), (STATE, 110)):
            self.view.setColumnWidth(col, width)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

    def _build_toolbar(self) -> QHBoxLayout:
        self.buttons: dict[str, QToolButton] = {}
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for key, text, slot in (
            ("pause", "Pause", self.pause_selected),
            ("resume", "Resume", self.resume_selected),
            ("cancel", "Cancel", self.cancel_selected),
            ("retry", "Retry", self.retry_selected),
            ("clear", "Clear finished", self.clear_finished),
            ("reveal", "Reveal", self.reveal_selected),
            ("report", "Export report…", self.export_selected_report),
        ):
            button = QToolButton()
            button.setText(text)
            button.setObjectName(key)
            button.clicked.connect(slot)
            bar.addWidget(button)
            self.buttons[key] = button
        self.cluster_button = QToolButton()
        self.cluster_button.setObjectName("cluster")
        self.cluster_button.setText("Run on cluster…")
        self.cluster_button.setCheckable(True)
        self.cluster_button.setToolTip("Run new transfers on a dask cluster's workers (needs storescope[cluster])")
        self.cluster_button.clicked.connect(self._on_cluster_clicked)
        bar.addWidget(self.cluster_button)
        bar.addStretch(1)
        self.summary_label = QLabel("No transfers.")
        self.summary_label.setObjectName("TransferSummary")
        bar.addWidget(self.summary_label)
        return bar

    # engine ----------------------------------------------------------------------------------
    @property
    def queue(self) -> Any:
        """The :class:`storecore.transfer.TransferQueue` (created on first use)."""
        if self._queue is None:
            from storecore.transfer import TransferQueue

            self._queue = TransferQueue(
                concurrency=self.concurrency,
                cluster=self.cluster,
                history=self._history_target(),
                ask=self._ask_from_worker,
                on_progress=lambda job: self._bridge.changed.emit(job.id),
                on_state=self._on_state_from_worker,
            )
        return self._queue

    def set_cluster(self, address: str | None) -> bool:
        """Run new transfers on the dask cluster at ``address`` (None: on this machine); False while jobs run."""
        address = (address or "").strip() or None
        if self._queue is not None and any(not j.state.finished for j in self._queue.jobs):
            self.summary_label.setText("Finish or cancel the running transfers before switching where they run.")
            self.cluster_button.setChecked(self.cluster is not None)
            return False
        if self._queue is not None:
            self._queue.close(timeout=10)
            self._queue = None
        self.cluster = address
        self.cluster_button.setChecked(address is not None)
        self.cluster_button.setText(f"On cluster {address}" if address else "Run on cluster…")
        self._update_summary()
        return True

    def _on_cluster_clicked(self, checked: bool) -> None:
        if not checked:
            self.set_cluster(None)
            return
        from PySide6.QtWidgets import QInputDialog

        address, ok = QInputDialog.getText(self, "Run on cluster", "Dask scheduler address:",
                                           text=self.cluster or "tcp://127.0.0.1:8786")  # fmt: skip
        if not (ok and address.strip() and self.set_cluster(address)):
            self.cluster_button.setChecked(self.cluster is not None)

    def _history_target(self) -> Any:
        """Where the history lives: beside the window's settings file when that is not the user's default
        (an isolated profile, e.g. in tests), else the engine's default (user data dir or the environment)."""
        if self.history is not True or os.environ.get("STORESCOPE_TRANSFER_HISTORY"):
            return self.history
        settings = getattr(self.parent(), "settings", None)
        name = settings.fileName() if isinstance(settings, QSettings) else ""
        if name:
            default = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "storescope", "storescope")
            if os.path.abspath(name) != os.path.abspath(default.fileName()):
                return os.path.join(os.path.dirname(os.path.abspath(name)), "transfer-history.json")
        return True

    def _on_state_from_worker(self, job: Any) -> None:
        self._bridge.changed.emit(job.id)
        if job.state.finished:
            self._bridge.ended.emit(job.id)

    def _ask_from_worker(self, conflict: Any) -> tuple[str, bool]:
        remembered = self._batch_answer.get(self._batch_of.get(conflict.job.id, ""))
        if remembered is not None:
            return remembered
        request = _ConflictRequest(conflict)
        self._bridge.conflict.emit(request)
        return request.wait()

    def _load_history(self) -> None:
        if self.history is False or self.history is None:
            return
        try:
            entries = self.queue.history.entries() if self.queue.history is not None else []
        except Exception as e:  # noqa: BLE001 - a broken history must not break the dock
            log.warning("transfer history not loaded: %s", e)
            return
        for entry in entries:
            self.model.add_history(entry)
        self._update_summary()

    # public API ----------------------------------------------------------------------------
    def submit(self, src_uris: list[str], dst_uri: str, op: str = "copy") -> list[Any]:
        """Queue copying (or moving) each source into the folder/group ``dst_uri``; return the jobs.

        Each source lands at ``dst_uri/<its name>`` (a node dropped onto a
        folder becomes ``name.npy``; a ``.npy``/``.parquet`` dropped onto a
        group becomes an array/table there).
        """
        from storecore import Location

        folder = Location.parse(dst_uri)
        batch = uuid.uuid4().hex
        jobs = []
        for src in src_uris:
            name = Location.parse(src).name
            if not name:
                continue
            job = self.queue.submit(src, str(folder.join(name)), op=op, conflict=self.conflict)
            self._folders[job.id] = dst_uri
            self._batch_of[job.id] = batch
            self.model.add_job(job)
            jobs.append(job)
        if jobs and not self._timer.isActive():
            self._timer.start()
        self._update_summary()
        self._update_buttons()
        return jobs

    def job(self, row: int) -> Any:
        """The live job of ``row`` (None for rows from the history)."""
        return self.model.job_row(row).job

    def export_report(self, row: int, path: str) -> str:
        """Write the integrity report of the job at ``row`` to ``path`` (CSV or JSON by extension)."""
        job = self.job(row)
        if job is None:
            raise ValueError("this job is from an earlier session: its report was not kept")
        return job.export_report(path)

    def shutdown(self) -> None:
        """Cancel running jobs and release waiting workers (called when the application quits)."""
        for request in self._pending:
            request.answer = ("cancel", False)
            request.done.set()
        self._pending.clear()
        if self._queue is not None:
            # Running jobs stop as "interrupted", keeping finished parts: a retry in the next session continues.
            self._queue.close(timeout=10, suspend=True)
            self._queue = None
        self._timer.stop()

    # selection actions ---------------------------------------------------------------------------
    def selected_rows(self) -> list[QueueRow]:
        """The rows selected in the table."""
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [self.model.job_row(r) for r in rows]

    def _selected_jobs(self) -> list[Any]:
        return [r.job for r in self.selected_rows() if r.job is not None]

    def _targets(self) -> list[Any]:
        """The selected jobs, or every live job when nothing is selected (pause/resume/cancel all)."""
        return self._selected_jobs() or [r.job for r in self.model.rows if r.job is not None]

    def pause_selected(self) -> None:
        """Pause the selected jobs (all jobs when none is selected)."""
        for job in self._targets():
            job.pause()
        self._update_buttons()

    def resume_selected(self) -> None:
        """Resume the selected jobs (all jobs when none is selected)."""
        for job in self._targets():
            job.resume()
        self._update_buttons()

    def cancel_selected(self) -> None:
        """Cancel the selected jobs (all jobs when none is selected)."""
        for job in self._targets():
            job.cancel()

    def retry_selected(self) -> None:
        """Retry the selected failed or cancelled jobs (finished files and parts are not redone), also
        failed ones from an earlier session: they continue from what the history kept."""
        for row in self.selected_rows():
            job = row.job
            if row.resumable:
                from storecore import Location

                job = self.queue.resubmit(row.entry)
                self._folders[job.id] = str(Location.parse(job.destination).parent)
                self.model.attach(job)
            elif job is not None and job.state.finished and job.state.value != "done":
                job.retry()
                self.model.refresh(job.id)
        if not self._timer.isActive():
            self._timer.start()
        self._update_buttons()

    def clear_finished(self) -> None:
        """Remove finished rows (the history file keeps them)."""
        if self._queue is not None:
            self._queue.clear_finished()
        self.model.remove_finished()
        self._update_summary()
        self._update_buttons()

    def reveal_selected(self) -> None:
        """Ask the window to show the destination of the first selected job."""
        rows = self.selected_rows()
        if not rows:
            return
        self.reveal_requested.emit(rows[0].destination)
        window = self.parent()
        if not self._reveal_connected() and hasattr(window, "reveal"):
            window.reveal(rows[0].destination)

    def _reveal_connected(self) -> bool:
        try:
            return self.receivers(SIGNAL("reveal_requested(QString)")) > 0
        except Exception as e:  # noqa: BLE001 - bindings without receivers(): assume someone listens
            log.debug("receivers() unavailable: %s", e)
            return True

    def export_selected_report(self) -> None:
        """Save the first selected job's integrity report (file dialog: CSV or JSON)."""
        rows = [r for r in self.selected_rows() if r.job is not None]
        if not rows:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export integrity report", f"{rows[0].name}-report.csv",
                                              "CSV (*.csv);;JSON (*.json)")
        if path:
            rows[0].job.export_report(path)

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for key, button in self.buttons.items():
            action = menu.addAction(button.text())
            action.setEnabled(button.isEnabled())
            action.triggered.connect(button.click)
            action.setObjectName(key)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    # updates -----------------------------------------------------------------------------------
    def _mark_dirty(self, job_id: str) -> None:
        self._dirty.add(job_id)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for job_id in dirty:
            self.model.refresh(job_id)
        if dirty:
            self._update_summary()
            self._update_buttons()
        if not any(not r.finished for r in self.model.rows):
            self._timer.stop()

    def _on_ended(self, job_id: str) -> None:
        self.model.refresh(job_id)
        self._dirty.discard(job_id)
        self._update_summary()
        self._update_buttons()
        folder = self._folders.get(job_id)
        if folder is not None:
            self.job_finished.emit(folder)

    def _update_summary(self) -> None:
        t = self.model.totals()
        if not t["jobs"]:
            self.summary_label.setText("No transfers.")
            return
        self.summary_label.setText(
            f"{t['active']} active · {t['verified']} verified · {t['skipped']} skipped · {t['failed']} failed"
        )

    def _update_buttons(self) -> None:
        selected = {r.state for r in self.selected_rows() if r.job is not None}
        # With nothing selected, pause/resume/cancel act on every job.
        states = selected or {r.job.state.value for r in self.model.rows if r.job is not None}
        self.buttons["pause"].setEnabled(bool(states & {"queued", "running"}))
        self.buttons["resume"].setEnabled("paused" in states)
        self.buttons["cancel"].setEnabled(bool(states & {"queued", "running", "paused"}))
        resumable = any(r.resumable for r in self.selected_rows())
        self.buttons["retry"].setEnabled(bool(selected & {"failed", "cancelled"}) or resumable)
        self.buttons["clear"].setEnabled(any(r.finished for r in self.model.rows))
        self.buttons["reveal"].setEnabled(bool(self.selected_rows()))
        self.buttons["report"].setEnabled(bool(selected & {"done", "failed", "cancelled"}))

    # conflicts ------------------------------------------------------------------------------------
    def _ask_user(self, request: _ConflictRequest) -> None:
        from .dialogs.conflict_dialog import ConflictDialog

        c = request.conflict
        remembered = self._batch_answer.get(self._batch_of.get(c.job.id, ""))
        if c.job.state.finished or remembered is not None:
            # Answered meanwhile by "apply to all" in another dialog of the same drop.
            request.answer = remembered or ("cancel", False)
            request.done.set()
            return
        self._pending.append(request)
        dialog = ConflictDialog(c.source, c.destination, c.source_size, c.destination_size, c.source_mtime,
                                c.destination_mtime, self)
        self.dialog = dialog

        request.dialog = dialog

        def finished(_code: int) -> None:
            if request in self._pending:
                self._pending.remove(request)
            if self.dialog is dialog:
                self.dialog = None
            dialog.deleteLater()
            if request.done.is_set():
                return  # answered by "apply to all" in another job's dialog
            request.answer = (dialog.decision, dialog.apply_to_all)
            request.done.set()
            if dialog.apply_to_all and dialog.decision != "cancel":
                batch = self._batch_of.get(c.job.id, "")
                self._batch_answer[batch] = request.answer
                # Other jobs of the same drop may already be waiting with their own dialog.
                for other in list(self._pending):
                    if self._batch_of.get(other.conflict.job.id) == batch:
                        other.answer = request.answer
                        other.done.set()
                        if other.dialog is not None:
                            other.dialog.close()

        dialog.finished.connect(finished)
        dialog.open()
        self.conflict_asked.emit(dialog)


__all__ = ["TransferQueueDock"]
