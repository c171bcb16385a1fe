"""Human-readable sizes for the views."""

from __future__ import annotations


def human_size(n: int | float | None, unknown: str = "") -> str:
    """``1536`` → ``"1.5 KiB"``, ``2469606195`` → ``"2.3 GiB"``; ``None`` → ``unknown``."""
    if n is None:
        return unknown
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover - unreachable
