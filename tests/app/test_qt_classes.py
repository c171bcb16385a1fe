"""PySide6's classes are made on the GUI thread; a worker about to import the plot's modules waits for it."""

from __future__ import annotations

import threading

import pytest

from app import qt_classes


def expected_steps() -> int:
    import importlib

    n = 0
    for name in qt_classes.MODULES:
        try:
            n += 1 + len(dir(importlib.import_module(name)))
        except ImportError:
            pass
    return n


@pytest.fixture
def fresh_state(monkeypatch):
    """The module as at start-up (PySide6's classes already exist in this process: the order is what is tested)."""
    monkeypatch.setattr(qt_classes, "_done", threading.Event())
    monkeypatch.setattr(qt_classes, "_steps", None)
    monkeypatch.setattr(qt_classes, "_timer", None)
    makers: list[str] = []
    real = qt_classes._make_classes

    def recording():
        for step in real():
            makers.append(threading.current_thread().name)
            yield step

    monkeypatch.setattr(qt_classes, "_make_classes", recording)
    yield makers
    if qt_classes._timer is not None:
        qt_classes._timer.stop()


def test_a_worker_waits_for_the_gui_threads_idle_steps(qtbot, fresh_state):
    makers = fresh_state
    qt_classes.start()
    assert not qt_classes.made()  # steps run from the event loop, not inside start()
    seen: dict[str, object] = {}

    def worker() -> None:
        qt_classes.ensure()
        seen["made"] = qt_classes.made()
        seen["steps"] = len(makers)

    t = threading.Thread(target=worker, name="importer")
    t.start()
    qtbot.waitUntil(lambda: not t.is_alive(), timeout=30_000)
    assert seen["made"] is True
    assert set(makers) == {threading.main_thread().name}  # every class was made on the GUI thread
    # one step per module and one per name in it: every name of every module pyqtgraph touches
    assert seen["steps"] == len(makers) == expected_steps()


def test_on_the_gui_thread_ensure_makes_the_rest_at_once(fresh_state):
    makers = fresh_state
    qt_classes.start()
    qt_classes.ensure()
    assert qt_classes.made()
    assert set(makers) == {threading.main_thread().name}
    n = len(makers)
    qt_classes.ensure()  # once made, nothing more
    assert len(makers) == n


def test_without_a_gui_thread_making_them_a_worker_makes_them_itself(fresh_state):
    makers = fresh_state
    t = threading.Thread(target=qt_classes.ensure, name="alone")
    t.start()
    t.join(30)
    assert qt_classes.made()
    assert set(makers) == {"alone"}


def test_a_worker_waiting_when_the_event_loop_ends_is_released_at_once(tmp_path):
    """The app quits before the idle steps are done (a screenshot of a missing --select quits within half a
    second): ``aboutToQuit`` makes the rest on the GUI thread, so the waiting worker goes on at once instead of
    waiting 30 s, past the app's 3 s wait for its workers."""
    import os
    import subprocess
    import sys

    script = tmp_path / "quit_early.py"
    script.write_text(
        "import threading, time\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from app import qt_classes\n"
        "app = QApplication([])\n"
        "qt_classes.start()\n"
        "released = threading.Event()\n"
        "def worker():\n"
        "    qt_classes.ensure()\n"
        "    released.set()\n"
        "t = threading.Thread(target=worker)\n"
        "t.start()\n"
        "QTimer.singleShot(0, app.quit)  # before the idle steps are through\n"
        "app.exec()\n"
        "print('made', qt_classes.made(), 'released', released.wait(5), flush=True)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=root)
    result = subprocess.run([sys.executable, str(script)], cwd=root, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "made True released True" in result.stdout
