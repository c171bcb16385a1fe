"""A thread-safe, byte-bounded LRU (decoded chunks, recent slices: anything with a size in bytes)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


def _nbytes(value: Any) -> int:
    return value.nbytes


class ByteLRU:
    """Values kept up to ``max_bytes`` in total, the least recently used dropped first.

    A value larger than ``max_item_bytes`` (default ``max_bytes``) is not kept.
    ``size(value)`` gives a value's bytes (default ``value.nbytes``: numpy
    arrays), taken when the value is put: a value that grows in place (a
    chunk decoded further) is put again to count its new size.  ``hits`` and
    ``misses`` count :meth:`get` calls.
    """

    def __init__(
        self, max_bytes: int, *, max_item_bytes: int | None = None, size: Callable[[Any], int] = _nbytes
    ) -> None:
        self.max_bytes = max_bytes
        self.max_item_bytes = max_bytes if max_item_bytes is None else max_item_bytes
        self._size = size
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()  # key -> (value, bytes when put)
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        """The cached value (now the most recently used) or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self.hits += 1
            self._items.move_to_end(key)
            return item[0]

    def peek(self, key: Hashable) -> Any | None:
        """The cached value or None, without counting a hit or a miss or refreshing its place."""
        with self._lock:
            item = self._items.get(key)
            return None if item is None else item[0]

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key`` (dropping the least recently used beyond the byte bound)."""
        nbytes = self._size(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if nbytes > self.max_item_bytes:
                return
            self._items[key] = (value, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return self._bytes
