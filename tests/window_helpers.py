"""Helpers the main-window tests share."""

from __future__ import annotations

from typing import Any

from app.models.mounts_model import DONE, ERROR


def shown(qtbot, widget: Any, width: int, height: int) -> Any:
    """``widget``, registered with ``qtbot``, resized and shown."""
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    return widget


def show(qtbot, pane, uri, timeout: int = 15000) -> Any:
    """Show ``uri`` in a preview ``pane``; wait until it is loaded and return the viewer it chose."""
    with qtbot.waitSignal(pane.loaded, timeout=timeout) as blocker:
        pane.show_location(str(uri))
    assert blocker.args == [str(uri)]
    return pane.current_viewer


def make_window(qtbot, settings_path: str) -> Any:
    """A shown main window with its settings in ``settings_path``, no saved mounts and no demo data."""
    from PySide6.QtCore import QSettings

    from app.window import MainWindow

    w = MainWindow(QSettings(settings_path, QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    w.finish_startup([], demo=False)
    return w


def close_window(qtbot, w) -> None:
    """Close ``w`` and wait until no worker runs."""
    from app import workers

    w.close()
    qtbot.waitUntil(lambda: workers.pool().activeThreadCount() == 0, timeout=15_000)


def wait_loaded(qtbot, window, uri: str) -> None:
    """Wait until the node of ``uri`` is listed in ``window``'s tree."""
    qtbot.waitUntil(lambda: (n := window.model.find_loaded(uri)) is not None and n.state in (DONE, ERROR),
                    timeout=15_000)
