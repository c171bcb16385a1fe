"""Listing pages fetched on a helper thread, a few ahead of whoever consumes them.

The transfer queue and ``find`` both overlap the server's time per listing page
with their own work this way: one mechanism, so errors, early stops and the
closing of the page iterator behave alike.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from .logs import suppress_logged

logger = logging.getLogger(__name__)

_END = object()


class _Failure:
    """An exception of the listing, carried to the consumer's thread."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(pages: Iterable[Any], *, depth: int = 3, stop: threading.Event | None = None,
               idle: float | None = None, name: str = "storecore-listing") -> Iterator[Any]:  # fmt: skip
    """Yield the items of ``pages`` while a helper thread fetches up to ``depth`` more.

    A listing error is raised here, in the consumer's thread.  ``stop`` (the caller's), or the consumer
    leaving early, ends the helper at its next page and closes ``pages``.  With ``idle`` the
    consumer gets ``None`` every ``idle`` seconds while it waits, to check for a cancel of its own.
    """
    box: queue.Queue[Any] = queue.Queue(maxsize=depth)
    halt = threading.Event()  # the consumer left (its own ``stop`` stays the caller's)

    def stopped() -> bool:
        return halt.is_set() or (stop is not None and stop.is_set())

    def put(item: Any) -> bool:
        while not stopped():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
            put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failure(exc))
        finally:
            close = getattr(pages, "close", None)
            if close is not None and stopped():
                with suppress_logged(logger, "closing a listing"):
                    close()

    threading.Thread(target=produce, name=name, daemon=True).start()
    try:
        while True:
            try:
                item = box.get(timeout=idle)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        halt.set()


__all__ = ["read_ahead"]
