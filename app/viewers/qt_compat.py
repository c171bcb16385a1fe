"""Kept for the viewers' imports: the guard lives in :mod:`app.qtcompat`."""

from __future__ import annotations

from ..qtcompat import protect_singletons


def guard_none_refcount() -> bool:
    """Protect ``None`` and friends from PySide6's reference leaks (see :mod:`app.qtcompat`)."""
    return protect_singletons()
