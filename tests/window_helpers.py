"""Helpers the main-window tests share."""

from __future__ import annotations

from app.models.mounts_model import DONE, ERROR


def wait_loaded(qtbot, window, uri: str) -> None:
    """Wait until the node of ``uri`` is listed in ``window``'s tree."""
    qtbot.waitUntil(lambda: (n := window.model.find_loaded(uri)) is not None and n.state in (DONE, ERROR),
                    timeout=15_000)
