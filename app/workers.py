"""The one worker mechanism: run storecore calls on a thread pool, deliver results on the GUI thread.

Every view uses :func:`submit` (or a :class:`LatestOnly` slot for "newest
request wins" loads).  Results, errors and progress arrive through Qt signals
on the GUI thread; a cancelled task never delivers a late result.  Errors are
turned into readable one-line messages, never tracebacks.

Lifetime, in one place: a started task is held here until it has finished and
is released on the GUI thread (its Qt signal object must never be deleted on
a worker thread, while queued deliveries may still point at it), so callers
need not keep it.  ``owner=`` (on :func:`submit` and :class:`LatestOnly`)
cancels tasks when their owner widget is destroyed: nothing is delivered to a
deleted widget.  A task reports progress with ``token.report(value)``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThread, QThreadPool, Signal

log = logging.getLogger(__name__)


class CancelToken:
    """A flag a task checks between steps; ``cancel()`` sets it (thread-safe)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reporter: Callable[[Any], None] | None = None

    def report(self, value: Any) -> None:
        """Send a progress value to the task's ``on_progress`` on the GUI thread (callable from the task)."""
        if self._reporter is not None:
            self._reporter(value)

    def cancel(self) -> None:
        """Ask the task to stop."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._event.is_set()

    def __call__(self) -> bool:
        return self._event.is_set()


def describe_error(exc: BaseException) -> str:
    """A one-line, human message for ``exc`` (storecore errors already name their path)."""
    text = str(exc).strip() or type(exc).__name__
    name = type(exc).__name__
    return text if name in text or getattr(exc, "path", None) else f"{name}: {text}"


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str, object)
    progress = Signal(object)
    #: the task has finished: released on the GUI thread (see the module docstring)
    released = Signal(object)


class Task(QRunnable):
    """A call running on the pool.  Connect to ``signals`` or pass callbacks to :func:`submit`."""

    #: started tasks not yet released on the GUI thread
    _live: set[Task] = set()
    #: released tasks, dropped at the next start on the GUI thread (their worker has let go by then)
    _released: list[Task] = []
    _live_lock = threading.Lock()

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, with_token: bool) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.token = CancelToken()
        self.signals = _Signals()
        self.with_token = with_token
        self.finished = threading.Event()
        self.token._reporter = self.report
        self._owner_link: tuple[Any, Any] | None = None
        self.signals.released.connect(_release)

    def report(self, value: Any) -> None:
        """Send a progress value to the GUI thread (callable from the task)."""
        if not self.token.cancelled:
            self.signals.progress.emit(value)

    def cancel(self) -> None:
        """Cancel: the task sees its token set, and no result will be delivered."""
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        """True when :meth:`cancel` was called."""
        return self.token.cancelled

    def run(self) -> None:
        try:
            if self.token.cancelled:
                return
            kwargs = dict(self.kwargs)
            if self.with_token:
                kwargs["token"] = self.token
            result = self.fn(*self.args, **kwargs)
            if not self.token.cancelled:
                self.signals.done.emit(result)
        except BaseException as exc:  # noqa: BLE001 - every error becomes a message
            if self.token.cancelled:
                log.debug("cancelled task %s ended with %s: %s", _name(self.fn), type(exc).__name__, exc)
            else:
                exc.__storescope_trace__ = traceback.format_exc()  # type: ignore[attr-defined]
                log.debug("task %s failed", _name(self.fn), exc_info=exc)
                self.signals.failed.emit(describe_error(exc), exc)
        finally:
            self.finished.set()
            self.signals.released.emit(self)


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _on_gui_thread() -> bool:
    app = QCoreApplication.instance()
    return app is not None and QThread.currentThread() is app.thread()


def _release(task: Task) -> None:
    """GUI thread, after ``task`` finished: stop holding it (dropped at the next start) and unlink its owner."""
    with Task._live_lock:
        if task in Task._live:
            Task._live.discard(task)
            Task._released.append(task)
    link, task._owner_link = task._owner_link, None
    if link is not None:
        owner, connection = link
        if _alive(owner):
            owner.destroyed.disconnect(connection)


def _alive(obj: Any) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)


def cancel_with(owner: QObject, *cancellables: Any) -> Any:
    """Cancel ``cancellables`` (tasks, :class:`LatestOnly` slots) when ``owner`` is destroyed.

    The connected function holds weak references only: neither the owner nor a
    finished task is kept alive by it.  Returns the connection.
    """
    refs = [weakref.ref(c) for c in cancellables]

    def cancel(*_args: Any) -> None:
        for ref in refs:
            c = ref()
            if c is not None:
                c.cancel()

    return owner.destroyed.connect(cancel)


def cancel_all() -> None:
    """Cancel every task that has not finished (at exit)."""
    with Task._live_lock:
        live = list(Task._live)
    for task in live:
        task.cancel()


_pool: QThreadPool | None = None
#: how long a thread may keep the GIL while another asks for it (Python's default: 5 ms)
GIL_SWITCH_INTERVAL_S = 0.001


def pool() -> QThreadPool:
    """The application's worker pool (at least 4 threads: listings must not starve previews).

    Creating it also shortens the interpreter's GIL switch interval: every Qt event the GUI thread
    hands to Python takes the GIL back, and with two workers running Python (Zarr codecs, an S3
    listing's XML) each hand-back waited up to the 5 ms default, several times per event-loop turn
    (a 10 ms timer beside two such threads: longest gaps 68-80 ms at 5 ms, 28-45 ms at 1 ms).
    """
    global _pool
    if _pool is None:
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        _pool = QThreadPool()
        _pool.setMaxThreadCount(max(4, QThreadPool.globalInstance().maxThreadCount()))
    return _pool


def _prepare(
    fn: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    with_token: bool,
    on_done: Callable[[Any], None] | None,
    on_error: Callable[[str, BaseException], None] | None,
    on_progress: Callable[[Any], None] | None,
    owner: QObject | None = None,
) -> Task:
    task = Task(fn, args, kwargs, with_token)
    if owner is not None:
        task._owner_link = (owner, cancel_with(owner, task))
    if on_done is not None:
        task.signals.done.connect(lambda r, t=task: None if t.cancelled else on_done(r))
    if on_error is not None:
        task.signals.failed.connect(lambda m, e, t=task: None if t.cancelled else on_error(m, e))
    if on_progress is not None:
        task.signals.progress.connect(lambda v, t=task: None if t.cancelled else on_progress(v))
    return task


def _start(task: Task) -> Task:
    with Task._live_lock:
        if _on_gui_thread():
            Task._released.clear()  # their workers let go of them long ago: freed here, on the GUI thread
        Task._live.add(task)
    pool().start(task)
    return task


def submit(
    fn: Callable[..., Any],
    *args: Any,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str, BaseException], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
    with_token: bool = False,
    owner: QObject | None = None,
    **kwargs: Any,
) -> Task:
    """Run ``fn(*args, **kwargs)`` on the pool; callbacks run on the GUI thread.

    With ``with_token=True`` the function receives ``token=`` (a
    :class:`CancelToken`) and should return early once it is set; it reports
    progress with ``token.report(value)``.  With ``owner`` the task is
    cancelled when that widget is destroyed.  The task is held until it has
    finished: callers need not keep it.
    """
    return _start(_prepare(fn, args, kwargs, with_token, on_done, on_error, on_progress, owner))


def stream(
    items: Callable[[CancelToken], Iterable[Any]],
    *,
    on_batch: Callable[[list[Any]], None],
    on_done: Callable[[list[Any]], None],
    on_error: Callable[[str, BaseException], None] | None = None,
    batch_size: int = 200,
    batch_seconds: float = 0.1,
) -> Task:
    """Iterate ``items(token)`` on the pool and deliver what it yields in batches on the GUI thread.

    A batch goes out every ``batch_size`` items or ``batch_seconds``, whichever
    comes first (one model insert per batch keeps the view responsive);
    ``on_done`` receives the last, possibly empty, batch.
    """
    def run(token: CancelToken) -> list[Any]:
        batch: list[Any] = []
        last = time.monotonic()
        for item in items(token):
            if token.cancelled:
                break
            batch.append(item)
            now = time.monotonic()
            if len(batch) >= batch_size or now - last >= batch_seconds:
                token.report(batch)
                batch, last = [], now
        return batch

    return _start(_prepare(run, (), {}, True, on_done, on_error, on_batch))


class StreamedRows:
    """A widget filling ``self.model`` (a batch table model) from a :func:`stream`: run, stop, busy, done, error.

    The widget implements ``_set_busy(busy)``, ``_show_progress(done, stopped)``,
    ``_show_error(message)`` and ``_finished()`` (emit its "finished" signal);
    ``_on_batch`` may be overridden (call ``super()``) to count what arrives.
    """

    BATCH_SIZE = 200
    BATCH_SECONDS = 0.1
    model: Any
    task: Task | None = None
    _started = 0.0

    @property
    def busy(self) -> bool:
        """True while the task runs."""
        return self.task is not None

    def _run_stream(self, items: Callable[[CancelToken], Iterable[Any]]) -> None:
        """Stream ``items(token)`` into the model on the pool."""
        self._started = time.monotonic()
        self.task = stream(items, on_batch=self._on_batch, on_done=self._on_done, on_error=self._on_error,
                           batch_size=self.BATCH_SIZE, batch_seconds=self.BATCH_SECONDS)
        self._set_busy(True)
        self._show_progress()

    def stop(self, quiet: bool = False) -> None:
        """Cancel the running task; the rows so far stay."""
        if self.task is None:
            return
        self.task.cancel()
        self.task = None
        self._set_busy(False)
        if not quiet:
            self._show_progress(stopped=True)
            self._finished()

    def _on_batch(self, batch: list[Any]) -> None:
        self.model.append(batch)
        self._show_progress()

    def _on_done(self, last_batch: list[Any]) -> None:
        self._on_batch(last_batch)
        self.task = None
        self._set_busy(False)
        self._show_progress(done=True)
        self._finished()

    def _on_error(self, message: str, _exc: BaseException) -> None:
        self.task = None
        self._set_busy(False)
        self._show_error(message)
        self._finished()

    def _set_busy(self, busy: bool) -> None:
        raise NotImplementedError

    def _show_progress(self, done: bool = False, stopped: bool = False) -> None:
        raise NotImplementedError

    def _show_error(self, message: str) -> None:
        raise NotImplementedError

    def _finished(self) -> None:
        raise NotImplementedError


class LatestOnly:
    """A slot for loads where only the newest request matters (selection, slider moves).

    ``submit`` cancels the previous task first, so a stale result never shows;
    with ``owner`` the slot's task is cancelled when that widget is destroyed.
    """

    def __init__(self, owner: QObject | None = None) -> None:
        self.current: Task | None = None
        if owner is not None:
            cancel_with(owner, self)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        """Cancel the running task (if any) and start this one; same arguments as :func:`submit`."""
        self.cancel()
        self.current = submit(fn, *args, **kwargs)
        return self.current

    def cancel(self) -> None:
        """Cancel the current task."""
        if self.current is not None:
            self.current.cancel()
            self.current = None

    @property
    def busy(self) -> bool:
        """True while the current task has not finished."""
        return self.current is not None and not self.current.finished.is_set()
