"""The file workers of one tree job: listed files wait in a deque and a few pool tasks take them in turn.

Submitting every file of a folder to the file pool costs a future, a queue
put and, often, a worker wake-up per file: for thousands of small files that
is a thread handoff per file on top of the GIL handoffs the transfer itself
makes.  Here a job hands each file to :meth:`FileRunners.add`; at most
``limit`` tasks of the shared pool run its files, each taking the next waiting
file as soon as it finished one.  A task goes back to the pool only after its
turn (``turn`` seconds), behind the tasks of other jobs sharing the pool, so
that jobs still take turns on the pool's workers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class FileRunners(Generic[T]):
    """Runs ``work(item)`` for every item added, on at most ``limit`` tasks of ``pool`` at a time.

    ``work(item)`` returns True once the item is finished, False when it was set aside (a paused file): whoever
    restarts it calls :meth:`done` when it finishes.  :meth:`add` blocks while ``ahead`` items wait, run or are set
    aside, so that a listing never runs far ahead of the copies; :meth:`drain` waits until every item is done.
    """

    def __init__(self, pool: Executor, work: Callable[[T], bool], *, limit: int, ahead: int,
                 turn: float = 0.05) -> None:  # fmt: skip
        self._pool = pool
        self._work = work
        self._limit = max(1, limit)
        self._ahead = max(1, ahead)
        # A waiting producer is woken only once this few are left (not at every finished file): it then adds
        # files in batches.
        self._low = max(0, self._ahead - max(1, self._limit // 2))
        self._turn_seconds = turn
        self._cond = threading.Condition(threading.Lock())
        self._todo: deque[T] = deque()
        #: items added and not done (waiting, running or set aside)
        self._pending = 0
        #: tasks of this job in the pool (queued or running)
        self._tasks = 0
        #: the producer is woken once ``_pending`` is down to this (-1: nobody waits)
        self._wake = -1

    def add(self, item: T) -> None:
        """Queue ``item``, first waiting while ``ahead`` items are pending; start a task when fewer than
        ``limit`` run."""
        with self._cond:
            if self._pending >= self._ahead:
                self._wait_until(self._low)
            self._pending += 1
            self._todo.append(item)
            start = self._tasks < self._limit
            if start:
                self._tasks += 1
        if start:
            self._start()

    def done(self) -> None:
        """An item that ``work`` set aside has finished since."""
        with self._cond:
            self._finished()

    def drain(self) -> None:
        """Wait until every item added is done (set-aside ones included)."""
        with self._cond:
            self._wait_until(0)

    @property
    def pending(self) -> int:
        """Items added and not done yet."""
        return self._pending

    # internals ---------------------------------------------------------------------------
    def _wait_until(self, level: int) -> None:
        """With the lock held: wait until at most ``level`` items are pending."""
        self._wake = level
        try:
            while self._pending > level:
                self._cond.wait()
        finally:
            self._wake = -1

    def _finished(self) -> None:
        """With the lock held: count one item done, waking the producer when it waits for this level."""
        self._pending -= 1
        if self._pending <= self._wake:
            self._cond.notify_all()

    def _start(self) -> None:
        try:
            self._pool.submit(self._run)
        except RuntimeError:  # the pool is shut down (the queue closed): this thread runs them
            self._run()

    def _run(self) -> None:
        """A task: turns until no item waits; between turns it queues again, behind other jobs' tasks."""
        while self._turn():
            try:
                self._pool.submit(self._run)
                return
            except RuntimeError:  # the pool is shut down: go on here
                continue

    def _turn(self) -> bool:
        """Take waiting items one after another for ``turn`` seconds; True when items are left after it."""
        deadline = time.monotonic() + self._turn_seconds
        finished = False
        while True:
            with self._cond:
                if finished:
                    self._finished()  # the last item's count and the next item's pop under one lock
                if not self._todo:
                    self._tasks -= 1
                    return False
                if time.monotonic() >= deadline:
                    return True
                item = self._todo.popleft()
            finished = self._run_one(item)

    def _run_one(self, item: T) -> bool:
        try:
            return self._work(item)
        except BaseException:  # noqa: BLE001 - work records its own failures; a bug must not hang the job
            log.exception("a transfer file task failed")
            return True


__all__ = ["FileRunners"]
