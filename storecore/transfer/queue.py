"""The transfer queue: copy/move jobs between any two locations, verified, resumable, observable.

A :class:`TransferQueue` runs jobs (a file, a folder/prefix tree or a
container node) on a bounded pool of file workers; large objects are split
into parts moved in parallel on a second pool (see :mod:`.multipart`).  Each
job reports progress (bytes, files, rate, ETA) through callbacks, can be
paused, resumed, cancelled and retried, and keeps a per-file integrity
report.  Folder listings are consumed page by page, so a huge prefix starts
moving before its listing ends.  Jobs run on plain threads: no Qt here.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import logging
import os
import posixpath
import stat as stat_mod
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..backends.base import Backend, Entry
from ..backends.registry import backend_for
from ..errors import (
    AlreadyExists,
    BackendUnavailable,
    Cancelled,
    ChecksumMismatch,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    PermissionDenied,
    StorecoreError,
)
from ..location import Location, normalize_key
from ..logs import suppress_logged
from ..readahead import read_ahead
from ..tuning import DEFAULT as _TUNING
from . import multipart, onefile, resume, verify
from .history import TransferHistory
from .report import CANCELLED, FAILED, SKIPPED, VERIFIED, FileRecord, summary, write_report
from .runners import FileRunners

log = logging.getLogger(__name__)
MiB = 1024 * 1024

#: a tree job's file for its runners: (source entry, destination path, what the destination listing showed there,
#: True for a symbolic link to recreate, a local source's stat as listed)
_TreeItem = tuple[Entry, str, Entry | None, bool, os.stat_result | None]

#: errors that stop a whole job (the endpoint is gone or refuses us): other files would fail the same way
FATAL = (BackendUnavailable, PermissionDenied)


class JobState(enum.StrEnum):
    """Where a job is: queued → running (⇄ paused) → done / failed / cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True for the end states."""
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)



class ConflictPolicy(enum.StrEnum):
    """What to do when a destination file exists already."""

    ASK = "ask"
    OVERWRITE = "overwrite"
    SKIP = "skip"
    SKIP_IF_SAME = "skip-if-same"
    RENAME = "rename"


DECISIONS = ("overwrite", "skip", "skip-if-same", "rename", "cancel")


@dataclass(frozen=True)
class Conflict:
    """A destination that exists, as passed to the ``ask`` callback."""

    job: TransferJob
    source: str
    destination: str
    source_size: int | None
    destination_size: int | None
    source_mtime: float | None
    destination_mtime: float | None


#: ``ask(conflict) -> decision`` or ``(decision, apply_to_all)``; decision is one of :data:`DECISIONS`
AskCallback = Callable[[Conflict], "str | tuple[str, bool]"]
JobCallback = Callable[["TransferJob"], None]


@dataclass(frozen=True)
class JobProgress:
    """A snapshot of a job's progress; totals are None while the listing is still running."""

    bytes_done: int
    bytes_total: int | None
    files_done: int
    files_total: int | None
    verified: int
    skipped: int
    failed: int
    rate: float
    eta: float | None

    @property
    def fraction(self) -> float | None:
        """Done fraction in [0, 1], or None when the total is not known yet."""
        if self.bytes_total is None:
            return None
        if self.bytes_total == 0:
            return 1.0 if self.files_total is not None and self.files_done >= self.files_total else 0.0
        return min(1.0, self.bytes_done / self.bytes_total)


class Interrupted(StorecoreError):
    """A job stopped because its queue closed with ``suspend=True``: retrying it (also from the history,
    in a later session) continues where it stopped."""


class _Paused(Cancelled):
    """A file stopped because its job was paused: it is set aside, keeping its finished parts, and
    started again on resume, so that a paused job holds none of the workers other jobs share."""


class _FileCtx:
    """The :class:`multipart.Control` of one file: the job's checks plus this file's retry count."""

    def __init__(self, job: TransferJob) -> None:
        self.job = job
        #: bytes this file has counted in the job's progress (taken back when it is set aside)
        self.moved = 0
        self.retries = 0
        self.max_retries = job.queue.max_retries
        self.backoff = job.queue.backoff
        self.verify = job.queue.verify
        self.checksum = job.queue.checksum
        #: raises when a local source changed while it was read (see :func:`_source_guard`)
        self.check_source: Callable[[], None] | None = None
        #: True when no file was at the destination when the job looked (a download then keeps no old mode)
        self.fresh = False
        #: the destination's URI (as the file's record shows it)
        self.duri: str | None = None

    def check(self) -> None:
        """Raise Cancelled when the job stops, :class:`_Paused` while it is paused."""
        job = self.job
        if not job._running.is_set() and not job._cancel.is_set() and job._fatal is None:
            raise _Paused(f"transfer {job.source} -> {job.destination} paused", path=job.destination)
        job._check()

    @property
    def cancelled(self) -> bool:
        """True when the user cancelled (not when the job stops after another file's error)."""
        return self.job._cancel.is_set()

    def add_bytes(self, n: int) -> None:
        """Count bytes moved for the job's progress."""
        self.moved += n
        self.job._add_bytes(n)


class TransferJob:
    """One copy or move: ``state``, ``progress``, ``error``; ``cancel``/``pause``/``resume``/``retry``/``wait``.

    ``report()`` lists a :class:`~storecore.transfer.report.FileRecord` per
    file (source, destination, size, checksums on both sides, verified,
    retries); ``export_report(path)`` writes it as CSV or JSON.
    """

    def __init__(
        self,
        queue: TransferQueue,
        src: str,
        dst: str,
        op: str,
        conflict: ConflictPolicy,
        ask: AskCallback | None,
        on_progress: JobCallback | None,
        on_state: JobCallback | None,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.queue = queue
        self.source = src
        self.destination = dst
        self.op = op
        self.conflict = conflict
        self.ask = ask
        self._on_progress = [on_progress] if on_progress else []
        self._on_state = [on_state] if on_state else []
        self.state = JobState.QUEUED
        self.error: str | None = None
        self.exception: BaseException | None = None
        self.created = time.time()
        self.started: float | None = None
        self.finished: float | None = None
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._ended = threading.Event()
        self._ask_lock = threading.Lock()
        self._ask_all: str | None = None
        self._records: dict[str, FileRecord] = {}
        self._completed: set[str] = set()
        self._uploads: dict[str, multipart.UploadState] = {}
        self._downloads: dict[str, multipart.DownloadState] = {}
        self._fatal: BaseException | None = None
        self._parked: list[Callable[[], Any]] = []
        #: a listed batch of ``(relative path, size, etag)`` below the source folder, copied instead of
        #: listing the folder (what a cluster worker gets: see :mod:`storecore.transfer.cluster`)
        self._items: list[tuple[str, int | None, str | None]] | None = None
        self._reset_counters()

    # public API ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The source's last path component (what a queue row shows)."""
        loc = Location.parse(self.source)
        return loc.name or str(loc)

    @property
    def progress(self) -> JobProgress:
        """Bytes, files, rate (bytes/s over the last seconds) and ETA (s) right now."""
        with self._lock:
            rate = self._rate()
            total = self._bytes_total if self._listed else None
            eta = None
            if total is not None and rate > 0 and not self.state.finished:
                eta = max(0.0, (total - self._bytes_done) / rate)
            counts = self._status_counts  # kept as files end: no walk over a 100k-file report
            return JobProgress(
                bytes_done=self._bytes_done,
                bytes_total=total,
                files_done=self._files_done,
                files_total=self._files_seen if self._listed else None,
                verified=counts[VERIFIED],
                skipped=counts[SKIPPED],
                failed=counts[FAILED],
                rate=rate,
                eta=eta,
            )

    def cancel(self) -> None:
        """Stop the job: nothing partial stays at the destination (files already verified stay)."""
        with self._lock:
            if self.state.finished:
                return
            self._cancel.set()
            self._running.set()
            queued = self.state is JobState.QUEUED or (self.state is JobState.PAUSED and self.started is None)
        self._unpark()  # set-aside files end as cancelled
        if queued:
            self.queue._dequeue(self)
            self._finish(JobState.CANCELLED, None)

    def pause(self) -> None:
        """Hold the job: its files stop before their next part or chunk and give their workers back."""
        with self._lock:
            if self.state in (JobState.QUEUED, JobState.RUNNING):
                self._running.clear()
                self._set_state(JobState.PAUSED)

    def resume(self) -> None:
        """Continue a paused job."""
        with self._lock:
            if self.state is not JobState.PAUSED:
                return
            self._running.set()
            self._set_state(JobState.RUNNING if self.started is not None else JobState.QUEUED)
        self._unpark()
        self.queue._schedule()

    def retry(self) -> TransferJob:
        """Queue a failed or cancelled job again; verified files and finished parts are not redone."""
        with self._lock:
            if self.state not in (JobState.FAILED, JobState.CANCELLED):
                return self
            self._cancel.clear()
            self._running.set()
            self._ended.clear()
            self.error = None
            self.exception = None
            self._fatal = None
            self.started = None
            self.finished = None
            self._reset_counters()
            for key in [k for k, r in self._records.items() if k not in self._completed]:
                del self._records[key]
            self._set_state(JobState.QUEUED)
        self.queue._enqueue(self)
        return self

    def wait(self, timeout: float | None = None) -> JobState:
        """Block until the job ends (or ``timeout`` s pass); return its state.  Never raises."""
        self._ended.wait(timeout)
        return self.state

    def report(self) -> list[FileRecord]:
        """The integrity report: one record per file, in the order the files were met."""
        with self._lock:
            return list(self._records.values())

    def summary(self) -> dict[str, int]:
        """Counts of verified / skipped / failed / cancelled files and the verified bytes."""
        return summary(self.report())

    def export_report(self, path: str, format: str | None = None) -> str:
        """Write the report to the local ``path`` as CSV or JSON (by extension); return the path."""
        write_report(self.report(), path, format, meta=self.as_dict())
        return path

    def on_progress(self, callback: JobCallback) -> None:
        """Also call ``callback(job)`` on progress (throttled) from the worker threads."""
        self._on_progress.append(callback)

    def on_state(self, callback: JobCallback) -> None:
        """Also call ``callback(job)`` on every state change."""
        self._on_state.append(callback)

    def set_listed(self, files: int, nbytes: int) -> None:
        """Set the totals of a job whose files were listed elsewhere (a cluster job's plan): the listing is done."""
        with self._lock:
            self._files_seen, self._bytes_total, self._listed = files, nbytes, True

    def add_finished(self, record: FileRecord) -> None:
        """Count a file finished elsewhere (a cluster worker's record): its record, its bytes when verified,
        and its status in the progress."""
        with self._lock:
            self._records[record.source] = record
        if record.status == VERIFIED:
            self._add_bytes(record.size or 0)
        self._file_finished(record.status)

    @property
    def stopping(self) -> bool:
        """True once the job was cancelled or stopped by an error that ends it."""
        return self._cancel.is_set() or self._fatal is not None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe summary of the job (what the history keeps)."""
        p = self.progress
        return {
            "id": self.id,
            "op": self.op,
            "source": self.source,
            "destination": self.destination,
            "conflict": self.conflict.value,
            "state": self.state.value,
            "error": self.error,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "bytes": p.bytes_done,
            "files": p.files_done,
            "verified": p.verified,
            "skipped": p.skipped,
            "failed": p.failed,
            **({"resume": resume.dump(self)} if self.state is JobState.FAILED else {}),
        }

    def __repr__(self) -> str:
        return f"<TransferJob {self.id} {self.op} {self.source} -> {self.destination} {self.state.value}>"

    # internals: state, progress --------------------------------------------------------
    def _reset_counters(self) -> None:
        self._bytes_done = 0
        self._bytes_total = 0
        self._files_done = 0
        self._files_seen = 0
        self._listed = False
        self._samples: deque[tuple[float, int]] = deque()
        self._last_notify = 0.0
        self._status_counts = {VERIFIED: 0, SKIPPED: 0, FAILED: 0, CANCELLED: 0}

    def _set_state(self, state: JobState) -> None:
        with self._lock:
            if self.state is state:
                return
            self.state = state
        self._emit(self._on_state + self.queue._on_state)

    def _finish(self, state: JobState, error: BaseException | str | None) -> None:
        with self._lock:
            if self.state.finished:
                return
            self.finished = time.time()
            if isinstance(error, BaseException):
                self.exception = error
                self.error = str(error) or type(error).__name__
            else:
                self.error = error
            self._running.set()
            self.state = state
        # The history is written before anyone hears that the job ended, so an observer
        # (the GUI, a new queue) that reads it then finds the job.
        self.queue._record_history(self)
        self._emit(self._on_state + self.queue._on_state)
        self._emit(self._on_progress + self.queue._on_progress)
        self.queue._job_ended(self)
        self._ended.set()

    def _emit(self, callbacks: list[JobCallback]) -> None:
        for cb in callbacks:
            try:
                cb(self)
            except Exception:  # noqa: BLE001 - an observer must not break the transfer
                log.exception("transfer callback failed")

    def _interrupt(self) -> None:
        """Stop the job as a failure that keeps its finished parts and files, so it can be resumed later."""
        with self._lock:
            if self.state.finished:
                return
            queued = self.started is None
            # Short and first: the queue's state column shows it beside the row's source and destination.
            self._fatal = Interrupted("interrupted (the queue closed): retry to continue", path=self.destination)
            self._running.set()
        self._unpark()
        if queued:
            self.queue._dequeue(self)
            self._finish(JobState.FAILED, self._fatal)

    def _park(self, restart: Callable[[], Any]) -> None:
        """Set a paused file aside until the job resumes (or is cancelled)."""
        with self._lock:
            if not self._running.is_set() and not self._cancel.is_set():
                self._parked.append(restart)
                return
        self.queue._files.submit(restart)  # resumed or cancelled meanwhile: go on (or end) now

    def _unpark(self) -> None:
        with self._lock:
            parked, self._parked = self._parked, []
        for restart in parked:
            self.queue._files.submit(restart)

    def _check(self) -> None:
        if not self._running.is_set():
            while not self._running.wait(0.1):
                pass
        if self._cancel.is_set():
            raise Cancelled(f"transfer {self.source} -> {self.destination} cancelled", path=self.destination)
        if self._fatal is not None:
            raise Cancelled("stopped after an earlier error", path=self.destination)

    def _add_bytes(self, n: int) -> None:
        with self._lock:
            self._bytes_done += n
            due = self._progress_due()
        if due:
            self._emit(self._on_progress + self.queue._on_progress)

    def _progress_due(self) -> bool:
        """With the lock held: whether a progress notice is due (and the rate sample it takes)."""
        now = time.monotonic()
        if now - self._last_notify < self.queue.progress_interval:
            return False
        self._last_notify = now
        self._samples.append((now, self._bytes_done))
        while len(self._samples) > 2 and now - self._samples[0][0] > 3.0:
            self._samples.popleft()
        return True

    def _rate(self) -> float:
        if self.started is None:
            return 0.0
        if len(self._samples) >= 2:
            (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
            if t1 > t0:
                return max(0.0, (b1 - b0) / (t1 - t0))
        elapsed = (self.finished or time.time()) - self.started
        return self._bytes_done / elapsed if elapsed > 0 else 0.0

    def _file_finished(self, status: str) -> None:
        with self._lock:  # one lock for the counts and the progress notice (as _add_bytes(0) would)
            self._files_done += 1
            if status in self._status_counts:
                self._status_counts[status] += 1
            due = self._progress_due()
        if due:
            self._emit(self._on_progress + self.queue._on_progress)

    # internals: running ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._execute()
        except Cancelled as e:
            if self._cancel.is_set():
                self._cleanup_partials()
                self._finish(JobState.CANCELLED, None)
            else:
                self._finish(JobState.FAILED, self._fatal or e)
            return
        except BaseException as e:  # noqa: BLE001 - every failure shows in state and error
            self._finish(JobState.FAILED, e)
            return
        if self._cancel.is_set():
            self._cleanup_partials()
            self._finish(JobState.CANCELLED, None)
            return
        counts = self.summary()
        if counts[FAILED]:
            first = next(r for r in self._records.values() if r.status == FAILED)
            self._finish(JobState.FAILED, f"{counts[FAILED]} of {counts['files']} files failed; first: {first.error}")
        else:
            self._finish(JobState.DONE, None)

    def _cleanup_partials(self) -> None:
        for state in list(self._uploads.values()):
            state.abort()
        self._uploads.clear()
        for dstate in list(self._downloads.values()):
            dstate.abort()
        self._downloads.clear()

    def _execute(self) -> None:
        from . import containers

        if self.queue.cluster is not None:
            cluster = importlib.import_module(CLUSTER_MODULE)
            queue = self.queue
            cluster.run_job(self, queue._cluster_client(), batch_bytes=queue.cluster_batch_bytes,
                            batch_files=queue.cluster_batch_files)  # fmt: skip
            return
        route = containers.route(self.source, self.destination)
        if route is not None:
            self._run_container(route)
            return
        if Location.parse(self.destination).inner is not None:
            # Only what containers.route imports can go inside a container: anything else would be written
            # over the whole container file (the inner path dropped).
            self._refuse(InvalidArgument(
                f"{self.source}: cannot be written into the container node {self.destination} (only .npy and "
                ".parquet files can be imported into a container); nothing was changed", path=self.destination))
        sb, sl = backend_for(self.source)
        db, dl = backend_for(self.destination)
        if sb.is_local and db.is_local and os.path.islink(sb.local_path(sl.path)):  # type: ignore[arg-type]
            with self._lock:
                self._files_seen, self._listed = 1, True
            self._do_link(sb, sl.path, db, dl.path, single=True)  # a link stays a link (see _tree)
            return
        sentry = sb.stat(sl.path)
        if not sentry.is_dir:
            with self._lock:
                self._bytes_total = sentry.size or 0
                self._files_seen = 1
                self._listed = True
            while True:
                try:
                    self._do_file(sb, sentry, db, dl.path, _stat_or_none(db, dl.path), single=True)
                    return
                except _Paused:
                    self._check()  # this job's own thread waits; the part workers are free meanwhile
        self._run_tree(sb, sl, sentry, db, dl)

    def _refuse(self, error: StorecoreError) -> None:
        """Fail the job's only file with ``error`` before anything is touched."""
        record = FileRecord(source=self.source, destination=self.destination, status=FAILED, error=str(error))
        with self._lock:
            self._records[self.source] = record
            self._files_seen, self._listed = 1, True
        self._file_finished(FAILED)
        log.info("transfer %s -> %s refused: %s", self.source, self.destination, error)
        raise error

    def _skip_entry(self, src_uri: str, dst_uri: str, reason: str) -> None:
        """Record a tree entry that is not transferred, with the reason (a link, a name the destination cannot
        hold): the report says why, a move leaves it (and its folder) in place, and the job goes on."""
        record = FileRecord(source=src_uri, destination=dst_uri, status=SKIPPED, error=reason)
        with self._lock:
            self._records[src_uri] = record
            self._files_seen += 1
        log.info("transfer of %s skipped: %s", src_uri, reason)
        self._file_finished(SKIPPED)

    def _tree(self, sb: Backend, sl: Location, db: Backend) -> Any:
        """The entries below a source folder as ``(entry, kind, reason, stat)``: kind ``file`` (copy it), ``link``
        (recreate the symbolic link, local to local) or ``skip`` (``reason`` says why); ``stat`` is a local file's
        ``os.stat_result`` as listed (the baseline its copy is checked against: no second stat), else None.

        Keys are data, never paths to normalise: an object key with ``.``, ``..`` or empty segments is skipped
        (normalising it would read another object, or write outside the destination).  Local symbolic links:
        local to local they stay links; elsewhere a link to a file inside the tree is followed and any other
        link (to a folder, out of the tree, broken) skipped.  Names the destination cannot hold are skipped.
        """
        if self._items is not None:
            yield from self._listed_items(sb, sl, db)
            return
        if sb.is_local:
            yield from self._local_tree(sb, sl, db)
            return
        skey = sb.key(sl.path)
        # A small first page starts the workers early; the listing then runs on its own thread, a few pages
        # ahead, so that the server's time per key overlaps the transfers instead of pausing them.
        pages = read_ahead(multipart.list_pages(sb, sl.path, LIST_FIRST_PAGE, LIST_PAGE), name="transfer-list")
        for entry in (e for page in pages for e in page):
            raw = entry.path
            try:
                canonical = normalize_key(raw) == raw
            except StorecoreError:
                canonical = False
            if not canonical or (skey and not raw.startswith(skey + "/")):
                yield entry, "skip", f"the key {raw!r} has '.', '..' or empty segments: it is not a path to copy", None
                continue
            reason = _unrepresentable(db, raw[len(skey):].lstrip("/"))
            yield entry, ("skip" if reason else "file"), reason, None

    def _listed_items(self, sb: Backend, sl: Location, db: Backend) -> Any:
        """The job's given batch as tree entries: no listing and no stat (sizes and ETags came with the list)."""
        base = sl.path.rstrip("/")
        for rel, size, etag in self._items or ():
            raw = f"{base}/{rel}" if base else rel
            try:
                key = sb.key(raw)
                canonical = key == (f"{sb.key(base)}/{rel}".lstrip("/") if base else rel)
            except StorecoreError:
                key, canonical = "", False
            if not canonical:
                yield Entry(raw, posixpath.basename(rel), size, None, etag, False), "skip", (
                    f"the key {rel!r} has '.', '..' or empty segments: it is not a path to copy"), None
                continue
            reason = _unrepresentable(db, rel)
            entry = Entry(sb.entry_path(key), posixpath.basename(rel), size, None, etag, False)
            yield entry, ("skip" if reason else "file"), reason, None

    def _local_tree(self, sb: Any, sl: Location, db: Backend) -> Any:
        from ..backends.local import TMP_SUFFIX

        top = sb.full(sl.path)
        real_top = os.path.realpath(top)
        to_local = db.is_local
        pending = deque([top])
        while pending:
            directory = pending.popleft()
            try:
                with os.scandir(directory) as it:
                    items = list(it)  # directory order, as the backend's own listing
            except OSError as e:
                yield Entry(sb.entry_path(_rel_key(sb, directory)), os.path.basename(directory), None, None, None,
                            True), "skip", f"the folder cannot be read ({e.strerror or e})", None
                continue
            for de in items:
                key = _rel_key(sb, de.path)
                rel = os.path.relpath(de.path, top).replace(os.sep, "/")
                try:
                    lst = de.stat(follow_symlinks=False)
                except OSError as e:
                    yield _plain_entry(sb, key, de.name), "skip", f"vanished or unreadable ({e.strerror or e})", None
                    continue
                if stat_mod.S_ISLNK(lst.st_mode):
                    entry = _plain_entry(sb, key, de.name, lst)
                    if to_local:
                        yield entry, "link", None, None
                        continue
                    target = os.path.realpath(de.path)
                    try:
                        st = os.stat(de.path)
                    except OSError:
                        yield entry, "skip", "a broken symbolic link", None
                        continue
                    if stat_mod.S_ISDIR(st.st_mode):
                        yield entry, "skip", "a symbolic link to a folder (links are not followed into folders)", None
                        continue
                    if not target.startswith(real_top + os.sep) or not stat_mod.S_ISREG(st.st_mode):
                        yield entry, "skip", "a symbolic link to a file outside the tree", None
                        continue
                    reason = _unrepresentable(db, rel)
                    yield sb._entry(de.path, st, de.name), ("skip" if reason else "file"), reason, st
                    continue
                if stat_mod.S_ISDIR(lst.st_mode):
                    pending.append(de.path)
                    continue
                if not stat_mod.S_ISREG(lst.st_mode):
                    yield _plain_entry(sb, key, de.name, lst), "skip", "not a regular file (a fifo, socket or device)", \
                        None
                    continue
                if de.name.endswith(TMP_SUFFIX):
                    yield _plain_entry(sb, key, de.name, lst), "skip", \
                        f"names ending in {TMP_SUFFIX} are storecore's temporary files", None
                    continue
                reason = _unrepresentable(db, rel)
                yield sb._entry(de.path, lst, de.name), ("skip" if reason else "file"), reason, lst

    def _do_link(self, sb: Any, spath: str, db: Any, dpath: str, *, single: bool = False) -> None:
        """Recreate the symbolic link ``spath`` at ``dpath`` (both local) with the same target text, verify it,
        and for a move remove the source link (a rename when both sides are one file system)."""
        sfull, dfull = sb.full(spath), db.full(dpath)
        src_uri = sb.uri(spath)
        record = FileRecord(source=src_uri, destination=db.uri(dpath), size=0, checksum_kind="symlink")
        with self._lock:
            self._records[src_uri] = record
        t0 = time.monotonic()
        try:
            self._check()
            if src_uri in self._completed:
                record.status, record.verified = VERIFIED, True
                return
            text = os.readlink(sfull)
            record.source_checksum = text
            if os.path.lexists(dfull):
                there = os.path.islink(dfull) and os.readlink(dfull) == text
                here = Entry(spath, posixpath.basename(spath), 0, None, None, False)
                dentry = _plain_entry(db, dpath, posixpath.basename(dpath), os.lstat(dfull))
                decision = self._decide(src_uri, record.destination, here, dentry)
                if decision == "skip" or (decision == "skip-if-same" and there):
                    record.status, record.verified = SKIPPED, decision != "skip"
                    self._completed.add(src_uri)
                    return
                if decision == "rename":
                    dpath = _unique_path(db, dpath, set())
                    dfull, record.destination = db.full(dpath), db.uri(dpath)
                elif os.path.isdir(dfull) and not os.path.islink(dfull):
                    raise IsADirectory(f"{record.destination}: a folder is there; cannot replace it with the link "
                                       f"{src_uri}", path=record.destination)
            os.makedirs(os.path.dirname(dfull), exist_ok=True)
            moved = False
            if self.op == "move":
                try:
                    os.replace(sfull, dfull)  # renames the link itself, never its target
                    moved = True
                except OSError:
                    moved = False
            if not moved:
                tmp = f"{dfull}.{uuid.uuid4().hex[:8]}.storecore-tmp"
                os.symlink(text, tmp)
                os.replace(tmp, dfull)
            got = os.readlink(dfull)
            record.destination_checksum = got
            if got != text:
                raise ChecksumMismatch(f"{record.destination}: link points at {got!r}, the source at {text!r}",
                                       path=record.destination)
            record.verified, record.status = True, VERIFIED
            if self.op == "move" and not moved:
                os.unlink(sfull)
            self._completed.add(src_uri)
        except Cancelled:
            record.status, record.error = CANCELLED, "cancelled"
            raise
        except Exception as e:
            record.status, record.error = FAILED, str(e) or type(e).__name__
            log.info("transfer of the link %s failed: %s", src_uri, e)
            if single:
                raise
        finally:
            record.seconds = round(time.monotonic() - t0, 6)
            self._file_finished(record.status)

    def _run_tree(self, sb: Backend, sl: Location, sentry: Entry, db: Backend, dl: Location) -> None:
        droot = dl.path
        skey = sb.key(sl.path)
        if sb is db and (sb.key(droot) == skey or sb.key(droot).startswith(skey + "/")):
            raise InvalidArgument(f"cannot {self.op} {self.source} into itself ({self.destination})")
        dentry = _stat_or_none(db, droot)
        existing: dict[str, Entry] = {}
        if dentry is not None and not dentry.is_dir:
            if self.conflict is ConflictPolicy.RENAME:
                droot = _unique_path(db, droot, set())
            else:
                raise NotADirectory(
                    f"{self.destination}: a file is there; cannot {self.op} the folder {self.source} onto it",
                    path=self.destination,
                )
        elif dentry is not None:
            # Merging into an existing folder: one listing answers every "does it exist?" question.
            existing = {db.key(e.path): e for e in db.ls(droot, recursive=True)}
        if not db.implicit_folders:  # on S3 a folder exists through its keys: no marker object
            with contextlib.suppress(StorecoreError):
                db.mkdir(droot)
        runners: FileRunners[_TreeItem] = FileRunners(
            self.queue._files, lambda item: self._tree_file(sb, db, item, existing, runners),
            limit=self.queue.concurrency, ahead=2 * self.queue.concurrency)
        try:
            for entry, kind, reason, listed_stat in self._tree(sb, sl, db):
                self._check()
                raw = sb.key(entry.path) if sb.is_local else entry.path  # keys are data
                rel = raw[len(skey) :].lstrip("/") if raw.startswith(skey) else raw
                target = posixpath.join(droot, rel) if droot else rel
                if kind == "skip":
                    self._skip_entry(sb.uri(entry.path), "", reason or "skipped")
                    continue
                with self._lock:
                    self._files_seen += 1
                    self._bytes_total += entry.size or 0
                runners.add((entry, target, existing.get(db.key(target)) if existing else None, kind == "link",
                             listed_stat))
            with self._lock:
                self._listed = True
            self._add_bytes(0)
        finally:
            runners.drain()  # whatever happened, the job ends only when no worker still touches its files
        if self._fatal is not None:
            raise self._fatal
        self._check()
        if self.op == "move" and not self.summary()[FAILED] and not self.summary()[SKIPPED]:
            _remove_if_empty(sb, sl.path)

    def _tree_file(self, sb: Backend, db: Backend, item: _TreeItem, existing: dict[str, Entry],
                   runners: FileRunners[_TreeItem]) -> bool:  # fmt: skip
        """Copy one file (or link) of a tree job; False when it was set aside (paused): it is restarted on
        resume and counted done then."""
        entry, target, dexisting, link, listed_stat = item
        try:
            if link:
                self._do_link(sb, entry.path, db, target)
            else:
                self._do_file(sb, entry, db, target, dexisting, existing=existing, listed_stat=listed_stat)
        except _Paused:
            def restart() -> None:
                if self._tree_file(sb, db, item, existing, runners):
                    runners.done()

            self._park(restart)
            return False
        except BaseException:  # noqa: BLE001 - recorded on the file; fatal ones in self._fatal
            pass
        return True

    def _run_container(self, route: Any) -> None:
        record = FileRecord(source=self.source, destination=route.destination)
        with self._lock:
            self._records[self.source] = record
            self._files_seen = 1
            self._listed = True
        t0 = time.monotonic()
        try:
            self._check()
            there = route.existing()
            if there is not None:
                here = Entry(self.source, posixpath.basename(self.source), None, None, None, False)
                decision = self._decide(self.source, route.destination, here, there)
                if decision == "skip-if-same":
                    decision = "skip" if not there.is_dir and route.same_content() else "overwrite"
                    record.verified = decision == "skip"
                if decision == "skip":
                    record.status = SKIPPED
                    return
                if decision == "rename":
                    route.rename()
                    record.destination = route.destination
                else:
                    route.overwrite = True
            size, src_sum, dst_sum = route.run(self)
            record.size = size
            record.source_checksum, record.destination_checksum = src_sum, dst_sum
            record.checksum_kind = verify.MD5 if src_sum else verify.SIZE_ONLY
            verify.check(self.source, route.destination, None, None, src_sum, dst_sum)
            record.verified, record.status = True, VERIFIED
            with self._lock:
                self._bytes_total = size
            self._add_bytes(size)
            if self.op == "move":
                route.delete_source()
        except Cancelled:
            record.status = CANCELLED
            raise
        except Exception as e:
            record.status, record.error = FAILED, str(e) or type(e).__name__
            raise
        finally:
            record.seconds = round(time.monotonic() - t0, 6)
            self._file_finished(record.status)

    # one file ------------------------------------------------------------------------------
    def _do_file(
        self,
        sb: Backend,
        sentry: Entry,
        db: Backend,
        dpath: str,
        dentry: Entry | None,
        *,
        single: bool = False,
        existing: dict[str, Entry] | None = None,
        listed_stat: os.stat_result | None = None,
    ) -> None:
        src_uri = sb.uri(sentry.path)
        if src_uri in self._completed:
            self._add_bytes(sentry.size or 0)
            self._file_finished(self._records[src_uri].status)
            return
        record = FileRecord(source=src_uri, destination=db.uri(dpath), size=sentry.size)
        with self._lock:
            self._records[src_uri] = record
        ctx = _FileCtx(self)
        t0 = time.monotonic()
        paused = False
        try:
            ctx.check()
            if dentry is not None and not single and existing is not None \
                    and self.conflict is not ConflictPolicy.OVERWRITE:
                # The listing may be stale by now (e.g. a retry): ask the store.  Overwriting needs no
                # answer (a recursive listing holds files only, so no folder can be in the way).
                dentry = _stat_or_none(db, dpath) if dentry else None
            if dentry is not None:
                target = self._resolve_conflict(record, sb, sentry, db, dpath, dentry, existing)
                if target is None:
                    self._skip(src_uri, sentry)
                    return
                dpath = target
            ctx.check_source = onefile.source_guard(sb, sentry.path, sentry.size, listed_stat)
            ctx.fresh = dentry is None
            ctx.duri = record.destination
            src_sum, dst_sum, src_gone, dsize = self._move_bytes(ctx, sb, sentry, db, dpath)
            if ctx.check_source is not None and not src_gone:
                ctx.check_source()  # every route: the bytes sent must be one version of the file
            if dsize is None:
                dsize = db.stat(dpath).size
            verify.check(src_uri, record.destination, sentry.size, dsize, src_sum, dst_sum)
            record.source_checksum, record.destination_checksum = src_sum, dst_sum
            record.checksum_kind = verify.checksum_kind(dst_sum if src_sum else None)
            record.verified, record.status = True, VERIFIED
            if self.op == "move" and not src_gone:
                sb.delete(sentry.path, recursive=False)
            self._completed.add(src_uri)
        except _Paused:
            paused = True
            self._add_bytes(-ctx.moved)  # counted again when it restarts
            raise
        except Cancelled:
            record.status = CANCELLED
            record.error = "cancelled"
            raise
        except BaseException as e:
            record.status, record.error = FAILED, str(e) or type(e).__name__
            if isinstance(e, FATAL):
                with self._lock:
                    self._fatal = self._fatal or e
                raise
            if not isinstance(e, Exception):
                raise
            log.info("transfer of %s failed: %s", src_uri, e)
            if single:
                raise
        finally:
            record.retries = ctx.retries
            record.seconds = round(time.monotonic() - t0, 6)
            if not paused:
                self._file_finished(record.status)

    def _resolve_conflict(self, record: FileRecord, sb: Backend, sentry: Entry, db: Backend, dpath: str,
                          dentry: Entry, existing: dict[str, Entry] | None) -> str | None:  # fmt: skip
        """What to do with a file whose destination exists (the job's policy, or the user's answer): the path
        to write (``dpath``, or a new name), or None when the file is skipped (``record`` says so)."""
        decision = self._decide(record.source, record.destination, sentry, dentry)
        if decision == "skip":
            record.status = SKIPPED
            return None
        if decision == "skip-if-same":
            if not dentry.is_dir and verify.same_content(sb, sentry, db, dentry):
                record.status, record.verified = SKIPPED, True
                record.source_checksum = verify.content_etag(sentry)
                record.destination_checksum = verify.content_etag(dentry)
                return None
            decision = "overwrite"
        if decision == "rename":
            dpath = _unique_path(db, dpath, set(existing or ()))
            record.destination = db.uri(dpath)
        elif dentry.is_dir:
            raise IsADirectory(
                f"{record.destination}: a folder is there; cannot overwrite it with the file {record.source}",
                path=record.destination,
            )
        return dpath

    def _skip(self, src_uri: str, sentry: Entry) -> None:
        self._completed.add(src_uri)
        self._add_bytes(sentry.size or 0)

    def _decide(self, src_uri: str, dst_uri: str, sentry: Entry, dentry: Entry) -> str:
        policy = self.conflict
        if policy is not ConflictPolicy.ASK:
            return policy.value
        with self._ask_lock:
            if self._ask_all is not None:
                return self._ask_all
            if self.ask is None:
                raise AlreadyExists(f"{dst_uri}: already exists (no one to ask what to do)", path=dst_uri)
            answer = self.ask(
                Conflict(self, src_uri, dst_uri, sentry.size, dentry.size, sentry.mtime, dentry.mtime)
            )
            decision, apply_all = answer if isinstance(answer, tuple) else (answer, False)
            decision = str(getattr(decision, "value", decision))
            if decision not in DECISIONS:
                raise InvalidArgument(f"unknown conflict decision {decision!r} (use one of {', '.join(DECISIONS)})")
            if decision == "cancel":
                self._cancel.set()
                raise Cancelled(f"transfer {self.source} -> {self.destination} cancelled", path=dst_uri)
            if apply_all:
                self._ask_all = decision
            return decision

    @property
    def _route(self) -> onefile.Route:
        q = self.queue
        return onefile.Route(q.part_size, q._parts, q.durable, direct_min=q.direct_min, uploads=self._uploads,
                             downloads=self._downloads)

    def _move_bytes(self, ctx: _FileCtx, sb: Backend, sentry: Entry, db: Backend, dpath: str) -> onefile.Moved:
        """Move one file's bytes by the transfer engine's route (see :func:`onefile.move_bytes`)."""
        return onefile.move_bytes(ctx, sb, sentry, db, dpath, self._route, op=self.op)

#: a source listing's first page (small: the first files start moving sooner) and the next ones
LIST_FIRST_PAGE = 64
LIST_PAGE = 1000


def _stat_or_none(backend: Backend, path: str) -> Entry | None:
    try:
        return backend.stat(path)
    except NotFound:
        return None


def _remove_if_empty(backend: Backend, path: str) -> None:
    """Delete a moved folder once no file is left in it (a file added meanwhile keeps it).

    Locally only empty folders go, bottom-up (``rmdir``): what the listing does not show (a link, a file the
    move skipped) is never deleted with them."""
    top = backend.local_path(path)
    if top is not None:
        for directory, _dirs, _files in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):  # not empty: something stays, and so do its parents
                os.rmdir(directory)
        return
    with contextlib.suppress(NotFound):
        for _ in backend.ls(path, recursive=True):
            return
        backend.delete(path, recursive=True)


def _rel_key(backend: Any, full: str) -> str:
    rel = os.path.relpath(full, backend.root)
    return "" if rel == "." else rel.replace(os.sep, "/")


def _plain_entry(backend: Any, key: str, name: str, st: os.stat_result | None = None) -> Entry:
    """An entry for something that is not a regular file (a link, a fifo): no size is moved for it."""
    return Entry(backend.entry_path(key) if not key.startswith("/") else key, name, 0, st.st_mtime if st else None,
                 None, False)


#: the longest file name (bytes) a local file system takes
NAME_MAX = 255


def _unrepresentable(db: Backend, rel: str) -> str | None:
    """Why ``rel`` (a relative ``/`` path) cannot exist at the destination ``db``, or None when it can."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return "the name is not valid UTF-8: an object store cannot hold it"
    if "\x00" in rel:
        return "the name holds a NUL byte"
    if db.strict_names:
        for part in rel.split("/"):
            if part in (".", ".."):
                return f"a name segment {part!r} cannot exist as a file name"
            if len(part.encode("utf-8")) > NAME_MAX:
                return f"a name segment is longer than {NAME_MAX} bytes (the file system limit)"
    return None


def _unique_path(backend: Backend, path: str, taken: set[str]) -> str:
    """``name (1).ext``, ``name (2).ext``... the first that does not exist."""
    head, name = posixpath.split(path)
    stem, dot, ext = name.partition(".") if not name.startswith(".") else (name, "", "")
    for i in range(1, 10_000):
        candidate = posixpath.join(head, f"{stem} ({i}){dot}{ext}") if head else f"{stem} ({i}){dot}{ext}"
        if backend.key(candidate) not in taken and not backend.exists(candidate):
            return candidate
    raise AlreadyExists(f"{backend.uri(path)}: no free name found", path=backend.uri(path))


#: the cluster runner, named by dotted path (as container classes are): it runs this queue on dask workers
CLUSTER_MODULE = "storecore.transfer.cluster"


class TransferQueue:
    """Runs transfer jobs on a bounded pool of workers.

    ``concurrency`` files move at once (shared by all jobs); each large object
    is split into ``part_size`` parts of which ``part_concurrency`` move at
    once.  ``history`` is True (the default file), False/None (none), a path,
    or a :class:`TransferHistory`.  ``on_progress(job)`` / ``on_state(job)``
    are called from worker threads for every job.  Every file is verified by
    checksum: ``checksum="crc32"`` uses the CRC32 S3 endpoints keep (a sixth
    of MD5's CPU; MD5 and ETags where an endpoint keeps none), ``"md5"`` always
    MD5 / ETags.  ``verify=False`` checks sizes only (nothing then proves the
    content); ``durable=False`` skips the fsync of downloaded files.

    ``cluster`` (a dask ``distributed`` scheduler address such as
    ``"tcp://scheduler:8786"``, or a ``distributed.Client``) runs every job on
    that cluster's workers: the source is listed here, batches of files go to
    the workers, each runs this same verified copy, and records, progress,
    cancel and retry come back as for a local job (needs ``storescope[cluster]``).
    """

    def __init__(
        self,
        concurrency: int = _TUNING.transfer_concurrency,
        *,
        part_size: int = _TUNING.transfer_part_size,
        part_concurrency: int = _TUNING.transfer_part_concurrency,
        max_jobs: int | None = None,
        max_retries: int = 4,
        backoff: float = 0.25,
        ask: AskCallback | None = None,
        history: bool | str | TransferHistory | None = True,
        history_limit: int = 200,
        on_progress: JobCallback | None = None,
        on_state: JobCallback | None = None,
        progress_interval: float = 0.1,
        durable: bool = True,
        verify: bool = True,
        checksum: str = "crc32",
        cluster: Any = None,
    ) -> None:
        if concurrency < 1 or part_concurrency < 1:
            raise InvalidArgument("concurrency and part_concurrency must be at least 1")
        if checksum not in ("crc32", "md5"):
            raise InvalidArgument(f"checksum must be 'crc32' or 'md5', not {checksum!r}")
        if part_size < 5 * MiB:
            raise InvalidArgument("part_size must be at least 5 MiB (the S3 minimum)")
        self.concurrency = int(concurrency)
        self.part_size = int(part_size)
        self.max_jobs = int(max_jobs or concurrency)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.ask = ask
        self.progress_interval = float(progress_interval)
        self.durable = durable
        self.verify = verify
        self.checksum = checksum
        self._on_progress: list[JobCallback] = [on_progress] if on_progress else []
        self._on_state: list[JobCallback] = [on_state] if on_state else []
        if history is True:
            self.history: TransferHistory | None = TransferHistory(limit=history_limit)
        elif isinstance(history, TransferHistory):
            self.history = history
        elif history:
            self.history = TransferHistory(history, limit=history_limit)
        else:
            self.history = None
        self._files = ThreadPoolExecutor(self.concurrency, thread_name_prefix="transfer-file")
        self._parts = ThreadPoolExecutor(int(part_concurrency), thread_name_prefix="transfer-part")
        self._lock = threading.RLock()
        self._jobs: list[TransferJob] = []
        self._pending: deque[TransferJob] = deque()
        self._active: dict[str, threading.Thread] = {}
        self._closed = False
        #: a dask ``distributed`` scheduler address or Client: jobs then run on its workers (storescope[cluster])
        self.cluster = cluster
        #: a cluster job's batches close at this many bytes or files, whichever comes first
        self.cluster_batch_bytes = 256 * MiB
        self.cluster_batch_files = 500
        #: downloads to local files of at least this many bytes write around the page cache (``O_DIRECT``, on a
        #: local block file system that takes it); 0: never
        self.direct_min = int(_TUNING.transfer_direct_min)
        self._client: Any = None
        self._owns_client = False

    # jobs ----------------------------------------------------------------------------------
    def submit(
        self,
        src_uri: str | Location,
        dst_uri: str | Location,
        op: str = "copy",
        conflict: str | ConflictPolicy = ConflictPolicy.OVERWRITE,
        *,
        ask: AskCallback | None = None,
        on_progress: JobCallback | None = None,
        on_state: JobCallback | None = None,
    ) -> TransferJob:
        """Queue copying (or moving) ``src_uri`` to ``dst_uri``; ``dst_uri`` becomes the copy, as in ``cp -r``.

        ``conflict`` decides what happens to destination files that exist:
        ``ask`` (call ``ask``), ``overwrite``, ``skip``, ``skip-if-same``
        (same size and checksum) or ``rename`` (``name (1).ext``).
        """
        if self._closed:
            raise InvalidArgument("the transfer queue is closed")
        if op not in ("copy", "move"):
            raise InvalidArgument(f"unknown transfer op {op!r} (use 'copy' or 'move')")
        try:
            policy = ConflictPolicy(str(getattr(conflict, "value", conflict)))
        except ValueError:
            raise InvalidArgument(
                f"unknown conflict policy {conflict!r} (use {', '.join(p.value for p in ConflictPolicy)})"
            ) from None
        src, dst = str(Location.parse(src_uri)), str(Location.parse(dst_uri))
        job = TransferJob(self, src, dst, op, policy, ask or self.ask, on_progress, on_state)
        with self._lock:
            self._jobs.append(job)
        self._enqueue(job)
        return job

    def _submit_listed(self, src_uri: str, dst_uri: str, items: list[tuple[str, int | None, str | None]],
                       conflict: str) -> TransferJob:  # fmt: skip
        """Queue copying the listed ``(relative path, size, etag)`` files of the folder ``src_uri`` into
        ``dst_uri`` as one job (a cluster worker's batch): one job's workers, no listing, no stat per file."""
        src, dst = str(Location.parse(src_uri)), str(Location.parse(dst_uri))
        job = TransferJob(self, src, dst, "copy", ConflictPolicy(conflict), self.ask, None, None)
        job._items = list(items)
        with self._lock:
            self._jobs.append(job)
        self._enqueue(job)
        return job

    def resubmit(self, entry: dict[str, Any], *, ask: AskCallback | None = None,
                 on_progress: JobCallback | None = None, on_state: JobCallback | None = None) -> TransferJob:
        """Queue again a job from the history (``history.entries()``), e.g. one interrupted when an earlier
        session quit: files it verified are not copied again, its multipart uploads and partial downloads
        continue from their finished parts.  The job keeps the entry's id."""
        if self._closed:
            raise InvalidArgument("the transfer queue is closed")
        policy = ConflictPolicy(entry.get("conflict") or "overwrite")
        state = entry.get("resume") or {}
        if state.get("completed_truncated") and policy is ConflictPolicy.OVERWRITE:
            policy = ConflictPolicy.SKIP_IF_SAME  # not every verified file was remembered: compare instead
        job = TransferJob(self, entry["source"], entry["destination"], entry.get("op", "copy"), policy,
                          ask or self.ask, on_progress, on_state)
        job.id = str(entry.get("id") or job.id)
        resume.restore(job, state)
        with self._lock:
            self._jobs.append(job)
        self._enqueue(job)
        return job

    @property
    def jobs(self) -> list[TransferJob]:
        """Every job submitted (and not cleared), oldest first."""
        with self._lock:
            return list(self._jobs)

    def add_listener(self, on_progress: JobCallback | None = None, on_state: JobCallback | None = None) -> None:
        """Call ``on_progress(job)`` / ``on_state(job)`` for every job from now on."""
        if on_progress:
            self._on_progress.append(on_progress)
        if on_state:
            self._on_state.append(on_state)

    def pause_all(self) -> None:
        """Pause every queued or running job."""
        for job in self.jobs:
            job.pause()

    def resume_all(self) -> None:
        """Resume every paused job."""
        for job in self.jobs:
            job.resume()

    def cancel_all(self) -> None:
        """Cancel every job that has not ended."""
        for job in self.jobs:
            job.cancel()

    def wait_all(self, timeout: float | None = None) -> bool:
        """Wait until every job has ended; False if ``timeout`` s passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in self.jobs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not job.wait(left).finished:
                return False
        return True

    def clear_finished(self) -> list[TransferJob]:
        """Forget jobs that are done, failed or cancelled; return them."""
        with self._lock:
            gone = [j for j in self._jobs if j.state.finished]
            self._jobs = [j for j in self._jobs if not j.state.finished]
        return gone

    def summary(self) -> dict[str, Any]:
        """Totals over all jobs: files verified, skipped, failed, bytes, and ``jobs`` per state."""
        out: dict[str, Any] = {VERIFIED: 0, SKIPPED: 0, FAILED: 0, "bytes": 0}
        jobs = {s.value: 0 for s in JobState}
        for job in self.jobs:
            s = job.summary()
            for k in (VERIFIED, SKIPPED, FAILED, "bytes"):
                out[k] += s[k]
            jobs[job.state.value] += 1
        out["jobs"] = jobs
        return out

    def close(self, timeout: float | None = 30.0, *, suspend: bool = False) -> None:
        """Stop the workers.  Jobs that have not ended are cancelled and leftover multipart uploads and
        temporary files removed; with ``suspend`` they fail as interrupted instead, keeping what they
        finished (recorded in the history), and failed jobs keep theirs, so that :meth:`resubmit` can
        continue them in a later session."""
        with self._lock:
            self._closed = True
            self._pending.clear()
        for job in self.jobs:
            if suspend:
                job._interrupt()
            else:
                job.cancel()
        with self._lock:
            threads = list(self._active.values())
        for t in threads:
            t.join(timeout)
        for job in self.jobs:
            if not (suspend and job.state is JobState.FAILED):
                job._cleanup_partials()
        self._files.shutdown(wait=True, cancel_futures=True)
        self._parts.shutdown(wait=True, cancel_futures=True)
        if self._client is not None and self._owns_client:
            with suppress_logged(log, "closing the dask client"):
                self._client.close()
        self._client = None

    def _cluster_client(self) -> Any:
        """The ``distributed.Client`` jobs run on (connected on first use)."""
        with self._lock:
            if self._client is None:
                connect = importlib.import_module(CLUSTER_MODULE).connect
                self._client, self._owns_client = connect(self.cluster)
            return self._client

    def __enter__(self) -> TransferQueue:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # scheduling ------------------------------------------------------------------------------
    def _enqueue(self, job: TransferJob) -> None:
        with self._lock:
            if job not in self._pending:
                self._pending.append(job)
        self._schedule()

    def _dequeue(self, job: TransferJob) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._pending.remove(job)

    def _schedule(self) -> None:
        with self._lock:
            if self._closed:
                return
            for job in list(self._pending):
                if len(self._active) >= self.max_jobs:
                    break
                if job.state is not JobState.QUEUED:
                    if job.state.finished:
                        self._pending.remove(job)
                    continue
                self._pending.remove(job)
                job.started = time.time()
                thread = threading.Thread(target=job._run, name=f"transfer-job-{job.id}", daemon=True)
                self._active[job.id] = thread
                job._set_state(JobState.RUNNING)
                thread.start()

    def _record_history(self, job: TransferJob) -> None:
        if self.history is not None:
            try:
                self.history.record(job.as_dict())
            except OSError as e:
                log.warning("could not save the transfer history: %s", e)

    def _job_ended(self, job: TransferJob) -> None:
        with self._lock:
            self._active.pop(job.id, None)
        self._schedule()


__all__ = ["TransferQueue", "TransferJob", "JobState", "JobProgress", "ConflictPolicy", "Conflict", "DECISIONS",
           "Interrupted"]
