"""Human-readable sizes: the one formatter of the app (binary units, as file sizes and budgets are counted).

``storecore.cli.human`` is the command line's own; every view of the app uses :func:`human_size`.
"""

from __future__ import annotations


def human_size(n: int | float | None, unknown: str = "?") -> str:
    """``1536`` → ``"1.5 KiB"``, ``2469606195`` → ``"2.3 GiB"``; ``None`` → ``unknown`` (``"?"``).

    Tables and trees pass ``unknown=""`` so that folders show an empty size cell.
    """
    if n is None:
        return unknown
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover - unreachable
