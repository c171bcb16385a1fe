"""PySide6's Qt classes, made on the GUI thread before any worker imports a module that uses them.

PySide6 makes a Qt class, and its enums, the first time Python touches it.  The
plot's modules (pyqtgraph touches every class of QtCore, QtGui and QtWidgets
when it is imported) are imported on a worker, so that the window never freezes
for them; a test run crashed with a segmentation fault on the GUI thread, in
its event loop, while a worker importing pyqtgraph was inside ``enum``'s class
creation for PySide6.  The GUI thread therefore makes them first, in
idle-time steps of a few milliseconds (about 90 ms in all), from the moment the
preview pane exists (:func:`start`), and a worker about to import such modules
waits until it is done (:func:`ensure`).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

#: the modules whose classes are made ahead: those pyqtgraph's import touches
MODULES = ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg", "PySide6.QtOpenGL",
           "PySide6.QtOpenGLWidgets", "PySide6.QtTest")
#: GUI-thread time per idle step
STEP_S = 0.004
#: a worker waits this long for the GUI thread's steps, then goes on (as it did before: rather than hang)
WAIT_S = 30.0

_done = threading.Event()
_steps: Iterator[None] | None = None
_timer: Any = None


def _make_classes() -> Iterator[None]:
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        yield
        for attr in dir(module):
            try:
                getattr(module, attr)
            except Exception as e:  # noqa: BLE001 - a name that cannot be made is not used either
                log.debug("%s.%s: %s", name, attr, e)
            yield


def _on_gui_thread() -> bool:
    # No Qt call here: asking Qt for the current thread from a Python thread would wrap it (a Qt object).
    return threading.current_thread() is threading.main_thread()


def _run(budget_s: float | None) -> None:
    """Make classes on the GUI thread for ``budget_s`` seconds (None: all that are left)."""
    global _steps
    if _done.is_set():
        return
    if _steps is None:
        _steps = _make_classes()
    end = None if budget_s is None else time.perf_counter() + budget_s
    for _ in _steps:
        if end is not None and time.perf_counter() >= end:
            return
    if _timer is not None:
        _timer.stop()
    _done.set()


def start() -> None:
    """Begin making the classes in idle-time steps (GUI thread; once: later calls do nothing)."""
    global _timer
    if _done.is_set() or _timer is not None or not _on_gui_thread():
        return
    from PySide6.QtCore import QCoreApplication, QTimer

    _timer = QTimer()
    _timer.setInterval(0)
    _timer.timeout.connect(lambda: _run(STEP_S))
    _timer.start()
    app = QCoreApplication.instance()
    if app is not None:
        # When the event loop ends, its idle steps never run again: a worker waiting in ensure() would wait WAIT_S,
        # past the app's wait for its workers, and still be inside PySide6 as the interpreter shuts down.  The
        # GUI thread (where aboutToQuit is delivered) makes what is left at once instead.
        app.aboutToQuit.connect(ensure)


def ensure() -> None:
    """Return once the classes exist.  On the GUI thread: makes what is left at once.  On a worker: waits for
    the GUI thread's steps where :func:`start` began them, else makes them here (no GUI thread is making any)."""
    if _done.is_set():
        return
    if _on_gui_thread():
        _run(None)
    elif _timer is not None:
        if not _done.wait(WAIT_S):
            log.warning("Qt classes not made on the GUI thread after %.0f s: importing on a worker anyway", WAIT_S)
    else:
        for _ in _make_classes():
            pass
        _done.set()


def made() -> bool:
    """True once every class of :data:`MODULES` exists."""
    return _done.is_set()
