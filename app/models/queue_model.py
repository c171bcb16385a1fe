"""The table model of the transfer queue dock: one row per transfer job (live or from the history)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from ..formatting import human_size

NAME, ROUTE, PROGRESS, RATE, ETA, STATE, FILES = range(7)
HEADERS = ["Name", "Source → Destination", "Progress", "Rate", "ETA", "State", "Verified / skipped / failed"]
#: data role holding the done fraction (float in [0, 1], or None while unknown) of the Progress column
FractionRole = Qt.ItemDataRole.UserRole + 1
#: data role holding the job id of a row
JobIdRole = Qt.ItemDataRole.UserRole + 2

Index = QModelIndex | QPersistentModelIndex


def human_eta(seconds: float | None) -> str:
    """``1:05`` / ``2:03:04`` text for an ETA in seconds, or an empty string."""
    if seconds is None:
        return ""
    s = int(seconds + 0.5)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class QueueRow:
    """What one row shows: copied from a job's progress on the GUI thread, or from a history entry."""

    id: str
    name: str
    source: str
    destination: str
    op: str = "copy"
    state: str = "queued"
    fraction: float | None = None
    bytes_done: int = 0
    bytes_total: int | None = None
    rate: float = 0.0
    eta: float | None = None
    verified: int = 0
    skipped: int = 0
    failed: int = 0
    error: str | None = None
    job: Any = None
    #: the history entry of a row from an earlier session (what a retry resubmits)
    entry: dict[str, Any] | None = None
    updated: float = field(default_factory=time.monotonic)

    @property
    def resumable(self) -> bool:
        """A failed job from an earlier session that a retry can resubmit from its history entry."""
        return self.job is None and self.entry is not None and self.state == "failed"

    @property
    def finished(self) -> bool:
        """True for done, failed and cancelled rows."""
        return self.state in ("done", "failed", "cancelled")


class QueueModel(QAbstractTableModel):
    """Rows of transfer jobs; :meth:`refresh` copies a job's state into its row."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[QueueRow] = []
        self._by_id: dict[str, int] = {}

    # Qt model API --------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(HEADERS):
            return HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row, col = self.rows[index.row()], index.column()
        if role == JobIdRole:
            return row.id
        if role == FractionRole and col == PROGRESS:
            return row.fraction
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{row.op}: {row.source} → {row.destination}"
            return f"{tip}\n{row.error}" if row.error else tip
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == NAME:
            return row.name
        if col == ROUTE:
            return f"{row.source} → {row.destination}"
        if col == PROGRESS:
            done = human_size(row.bytes_done)
            if row.fraction is None:
                return done
            return f"{row.fraction * 100:.0f}% · {done}"
        if col == RATE:
            return f"{human_size(row.rate)}/s" if row.state == "running" and row.rate else ""
        if col == ETA:
            return human_eta(row.eta) if row.state == "running" else ""
        if col == STATE:
            return row.state if not row.error else f"{row.state}: {row.error}"
        if col == FILES:
            return f"{row.verified} / {row.skipped} / {row.failed}"
        return None

    # rows ----------------------------------------------------------------------------------
    def add_job(self, job: Any) -> QueueRow:
        """Append a row for a live job (a :class:`storecore.transfer.TransferJob`)."""
        row = QueueRow(job.id, job.name, job.source, job.destination, op=job.op, job=job)
        self._append(row)
        self.refresh(job.id)
        return row

    def add_history(self, entry: dict[str, Any]) -> QueueRow | None:
        """Append a finished row from a history entry (a past session's job); None if already shown."""
        job_id = str(entry.get("id", ""))
        if not job_id or job_id in self._by_id:
            return None
        source = str(entry.get("source", ""))
        row = QueueRow(
            job_id, source.rstrip("/").rsplit("/", 1)[-1] or source, source, str(entry.get("destination", "")),
            op=str(entry.get("op", "copy")), state=str(entry.get("state", "done")),
            fraction=1.0 if entry.get("state") == "done" else None, bytes_done=int(entry.get("bytes") or 0),
            verified=int(entry.get("verified") or 0), skipped=int(entry.get("skipped") or 0),
            failed=int(entry.get("failed") or 0), error=entry.get("error"), entry=dict(entry),
        )
        self._append(row)
        return row

    def attach(self, job: Any) -> None:
        """Let the history row with ``job.id`` show the live ``job`` from now on (a resumed job)."""
        i = self._by_id.get(job.id)
        if i is None:
            self.add_job(job)
            return
        self.rows[i].job = job
        self.refresh(job.id)

    def _append(self, row: QueueRow) -> None:
        n = len(self.rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self.rows.append(row)
        self._by_id[row.id] = n
        self.endInsertRows()

    def refresh(self, job_id: str) -> None:
        """Copy the live job's progress and state into its row and repaint it."""
        i = self._by_id.get(job_id)
        if i is None:
            return
        row = self.rows[i]
        job = row.job
        if job is None:
            return
        p = job.progress
        row.state = job.state.value
        row.fraction = p.fraction if row.state != "done" else 1.0
        row.bytes_done, row.bytes_total = p.bytes_done, p.bytes_total
        row.rate, row.eta = p.rate, p.eta
        row.verified, row.skipped, row.failed = p.verified, p.skipped, p.failed
        row.error = job.error
        row.updated = time.monotonic()
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(HEADERS) - 1))

    def row_of(self, job_id: str) -> int | None:
        """The row number of ``job_id``, or None."""
        return self._by_id.get(job_id)

    def job_row(self, row: int) -> QueueRow:
        """The :class:`QueueRow` at ``row``."""
        return self.rows[row]

    def remove_finished(self) -> int:
        """Drop every finished row; return how many went."""
        keep = [r for r in self.rows if not r.finished]
        gone = len(self.rows) - len(keep)
        if gone:
            self.beginResetModel()
            self.rows = keep
            self._by_id = {r.id: i for i, r in enumerate(self.rows)}
            self.endResetModel()
        return gone

    def totals(self) -> dict[str, int]:
        """Files verified, skipped and failed, and rows running/finished, over every row."""
        out = {"verified": 0, "skipped": 0, "failed": 0, "active": 0, "jobs": len(self.rows)}
        for r in self.rows:
            out["verified"] += r.verified
            out["skipped"] += r.skipped
            out["failed"] += r.failed
            out["active"] += not r.finished
        return out


__all__ = ["QueueModel", "QueueRow", "HEADERS", "FractionRole", "JobIdRole", "human_eta",
           "NAME", "ROUTE", "PROGRESS", "RATE", "ETA", "STATE", "FILES"]
