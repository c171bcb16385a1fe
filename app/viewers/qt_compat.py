"""A guard against a reference-counting bug of shiboken6 6.12 on Python < 3.12.

With that combination every Qt method returning nothing (``repaint()``,
``processEvents()``, ``QPainter.end()``...) drops one reference to ``None``
that it never took; after a few ten thousand calls ``None`` is deallocated and
the interpreter aborts ("none_dealloc").  Python 3.12 made ``None`` immortal,
which hides the bug.  :func:`guard_none_refcount` measures the leak once and,
only when it is present, gives ``None``, ``True`` and ``False`` a very large
reference count so that they behave as on 3.12.  Pinning PySide6 to a fixed release removes the need.
"""

from __future__ import annotations

import sys

_done = False


def none_leak_per_call() -> int:
    """References to ``None`` lost by one void Qt call (0 on healthy builds)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(100):
        probe.setObjectName("")  # returns void
    return max(0, (before - sys.getrefcount(None)) // 100)


def guard_none_refcount() -> bool:
    """Make ``None``/``True``/``False`` effectively immortal when the leak is present; True when the guard was applied."""
    global _done
    if _done or sys.version_info >= (3, 12):
        return False
    _done = True
    if none_leak_per_call() == 0:
        return False
    import ctypes

    # bools, "" and () leak the same way (returns of Python overrides such as ``event()``)
    for singleton in (None, True, False, "", ()):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40
    return True
