"""Icons per node kind, loaded once from ``resources/icons/*.svg``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

ICON_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"
#: kinds without their own drawing reuse a close one
ALIASES = {"mount": "mount-local", "container": "zarr", "root": "folder", "loading": "file"}


@cache
def icon(kind: str) -> QIcon:
    """The icon for a node kind (``folder``, ``array``, ``mount-s3``...); a plain file icon if unknown."""
    name = ALIASES.get(kind, kind)
    path = ICON_DIR / f"{name}.svg"
    if not path.exists():
        path = ICON_DIR / "file.svg"
    return QIcon(str(path))


def app_icon() -> QIcon:
    """The application icon."""
    return icon("storescope")
