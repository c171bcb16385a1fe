"""Moving data: :func:`copy` / :func:`move` between any two locations, and the transfer queue."""

from __future__ import annotations

import importlib
from typing import Any

from .copy import copy, copy_file, move

_LAZY = {"TransferQueue": ".queue", "TransferJob": ".queue", "JobState": ".queue"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["copy", "copy_file", "move", *_LAZY]
