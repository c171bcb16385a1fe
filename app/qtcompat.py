"""A guard against PySide6 reference-counting bugs on Python < 3.12.

PySide6 (seen with 6.11.3 and 6.12.0 on Python 3.11) drops a reference to
``None``, ``True``, ``False``, ``""`` or ``()`` on some C++ → Python paths: void
methods (``repaint()``, ``QStandardItem.setData``), Python overrides returning
``None`` for unused roles...  After a few thousand calls the interpreter aborts
with "deallocating None".  Python 3.12 made these singletons immortal, which
hides the bug; :func:`protect_singletons` gives them the same effective
immortality on 3.11 by raising their reference counts once, by 2**40.
Called first thing by the app and by the test session.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_protected = False


def protect_singletons() -> bool:
    """Make ``None``/``True``/``False``/``""``/``()`` effectively immortal; True when applied now."""
    global _protected
    if _protected or sys.version_info >= (3, 12):
        return False
    import ctypes

    for obj in (None, True, False, "", ()):
        # ob_refcnt is the first field of every object in a release build of CPython.
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
    _protected = True
    return True


def add_action(menu: Any, text: str, slot: Callable[[], Any]) -> Any:
    """Add an action built in Python to ``menu`` and connect ``slot``.

    ``QMenu.addAction(text, callable)`` returns an action created in C++; shiboken
    then looks its wrapper up by address and, after many tree rows were freed, can
    hand back a stale wrapper of another type.  An action constructed here always
    has a fresh wrapper.
    """
    from PySide6.QtGui import QAction

    action = QAction(text, menu)
    action.triggered.connect(lambda _checked=False: slot())
    menu.addAction(action)
    return action
