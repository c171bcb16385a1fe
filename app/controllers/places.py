"""Places the user comes back to: the recent-files list and the bookmarks, both kept in the settings."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings

if TYPE_CHECKING:
    from ..window import MainWindow

log = logging.getLogger(__name__)

#: how many recent locations File ▸ Recent keeps
MAX_RECENT = 10
RECENT_KEY = "places/recent"
BOOKMARKS_KEY = "places/bookmarks"


def _read_list(settings: QSettings, key: str) -> list[str]:
    """A list of strings from the settings (QSettings hands back a str for one item, None for none)."""
    value: Any = settings.value(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


def _write_list(settings: QSettings, key: str, values: list[str]) -> None:
    if values:
        settings.setValue(key, list(values))
    else:
        settings.remove(key)
    settings.sync()


class Places:
    """File ▸ Recent (newest first, at most :data:`MAX_RECENT`, no duplicates) and the bookmarks (in added order)."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window

    @property
    def settings(self) -> QSettings:
        return self.w.settings

    # -- recent ------------------------------------------------------------------------------
    def recent(self) -> list[str]:
        """The recent locations, newest first."""
        return _read_list(self.settings, RECENT_KEY)[:MAX_RECENT]

    def add_recent(self, uri: str) -> None:
        """Put ``uri`` first in the recent list (moved up when already there; the oldest falls off)."""
        if not uri or not self.w.persist:
            return
        try:
            import storecore

            uri = str(storecore.Location.parse(uri))  # "~/x" and "/home/me/x" are one entry
        except Exception as e:  # noqa: BLE001 - kept as typed
            log.debug("recent entry %r kept as typed: %s", uri, e)
        items = [uri] + [u for u in self.recent() if u != uri]
        _write_list(self.settings, RECENT_KEY, items[:MAX_RECENT])

    def clear_recent(self) -> None:
        _write_list(self.settings, RECENT_KEY, [])

    # -- bookmarks ---------------------------------------------------------------------------
    def bookmarks(self) -> list[str]:
        """The bookmarked locations in the order they were added."""
        return _read_list(self.settings, BOOKMARKS_KEY)

    def is_bookmarked(self, uri: str) -> bool:
        return uri in self.bookmarks()

    def add_bookmark(self, uri: str) -> bool:
        """Bookmark ``uri``; False when it already was."""
        marks = self.bookmarks()
        if not uri or uri in marks:
            return False
        _write_list(self.settings, BOOKMARKS_KEY, marks + [uri])
        return True

    def remove_bookmark(self, uri: str) -> bool:
        """Forget the bookmark ``uri``; False when there was none."""
        marks = self.bookmarks()
        if uri not in marks:
            return False
        _write_list(self.settings, BOOKMARKS_KEY, [m for m in marks if m != uri])
        return True

    def toggle_current_bookmark(self) -> None:
        """Bookmark the selected location, or remove its bookmark."""
        node = self.w.current_node()
        if node is None:
            self.w.status("Select something to bookmark it")
            return
        if self.remove_bookmark(node.uri):
            self.w.status(f"Removed the bookmark {node.uri}")
        else:
            self.add_bookmark(node.uri)
            self.w.status(f"Bookmarked {node.uri}")

    def jump(self, uri: str) -> None:
        """Go to a recent or bookmarked location (mounting it when no mount holds it)."""
        self.w.open_uri(uri)
