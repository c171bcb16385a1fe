"""The one worker mechanism: run storecore calls on a thread pool, deliver results on the GUI thread.

Every view uses :func:`submit` (or a :class:`LatestOnly` slot for "newest
request wins" loads).  Results, errors and progress arrive through Qt signals
on the GUI thread; a cancelled task never delivers a late result.  Errors are
turned into readable one-line messages, never tracebacks.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class CancelToken:
    """A flag a task checks between steps; ``cancel()`` sets it (thread-safe)."""

    def __init__(self) -> None:
        self._event = threading.Event()

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


class Task(QRunnable):
    """A call running on the pool.  Connect to ``signals`` or pass callbacks to :func:`submit`."""

    _live: set[Task] = set()
    _live_lock = threading.Lock()

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, with_token: bool) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.token = CancelToken()
        self.signals = _Signals()
        self.with_token = with_token
        self.finished = threading.Event()

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
            if not self.token.cancelled:
                exc.__storescope_trace__ = traceback.format_exc()  # type: ignore[attr-defined]
                self.signals.failed.emit(describe_error(exc), exc)
        finally:
            self.finished.set()
            with Task._live_lock:
                Task._live.discard(self)


_pool: QThreadPool | None = None


def pool() -> QThreadPool:
    """The application's worker pool (at least 4 threads: listings must not starve previews)."""
    global _pool
    if _pool is None:
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
) -> Task:
    task = Task(fn, args, kwargs, with_token)
    if on_done is not None:
        task.signals.done.connect(lambda r, t=task: None if t.cancelled else on_done(r))
    if on_error is not None:
        task.signals.failed.connect(lambda m, e, t=task: None if t.cancelled else on_error(m, e))
    if on_progress is not None:
        task.signals.progress.connect(lambda v, t=task: None if t.cancelled else on_progress(v))
    return task


def _start(task: Task) -> Task:
    with Task._live_lock:
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
    **kwargs: Any,
) -> Task:
    """Run ``fn(*args, **kwargs)`` on the pool; callbacks run on the GUI thread.

    With ``with_token=True`` the function receives ``token=`` (a
    :class:`CancelToken`) and should return early once it is set.
    """
    return _start(_prepare(fn, args, kwargs, with_token, on_done, on_error, on_progress))


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
    holder: list[Task] = []

    def run(token: CancelToken) -> list[Any]:
        batch: list[Any] = []
        last = time.monotonic()
        for item in items(token):
            if token.cancelled:
                break
            batch.append(item)
            now = time.monotonic()
            if len(batch) >= batch_size or now - last >= batch_seconds:
                holder[0].report(batch)
                batch, last = [], now
        return batch

    task = _prepare(run, (), {}, True, on_done, on_error, on_batch)
    holder.append(task)  # before the task can run
    return _start(task)


class LatestOnly:
    """A slot for loads where only the newest request matters (selection, slider moves).

    ``submit`` cancels the previous task first, so a stale result never shows.
    """

    def __init__(self) -> None:
        self.current: Task | None = None

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
