"""The transfer history: the last N finished jobs, kept in a JSON file that survives restarts.

The file lives in the user data directory (``platformdirs``) unless a path is
given or ``STORESCOPE_TRANSFER_HISTORY`` names one.  It is rewritten
atomically (temporary file + rename), so a crash never leaves it half written;
an unreadable file is set aside and a fresh history starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from typing import Any

ENV_VAR = "STORESCOPE_TRANSFER_HISTORY"
DEFAULT_LIMIT = 200


#: how many failed jobs keep what they need to continue (the newest ones)
MAX_RESUMABLE = 10


def default_path() -> str:
    """Where the history is kept: ``$STORESCOPE_TRANSFER_HISTORY`` or the platform's user data dir."""
    env = os.environ.get(ENV_VAR)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("storescope", appauthor=False), "transfer-history.json")


class TransferHistory:
    """The last ``limit`` job summaries (newest last), loaded from and saved to ``path``."""

    def __init__(self, path: str | os.PathLike[str] | None = None, limit: int = DEFAULT_LIMIT) -> None:
        self.path = os.fspath(path) if path is not None else default_path()
        self.limit = max(1, int(limit))
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = self._load()

    def _load(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            # Keep the damaged file for inspection rather than silently losing it.
            with contextlib.suppress(OSError):
                os.replace(self.path, self.path + ".corrupt")
            return []
        jobs = data.get("jobs") if isinstance(data, dict) else None
        return [j for j in jobs if isinstance(j, dict)][-self.limit :] if isinstance(jobs, list) else []

    def entries(self) -> list[dict[str, Any]]:
        """A copy of the recorded jobs, oldest first."""
        with self._lock:
            return [dict(e) for e in self._entries]

    def record(self, entry: dict[str, Any]) -> None:
        """Add (or replace, by ``id``) a job summary and save the file."""
        with self._lock:
            self._entries = [e for e in self._entries if e.get("id") != entry.get("id")]
            self._entries.append(dict(entry))
            del self._entries[: -self.limit]
            # What lets a job continue later can be large: only the newest few keep it.
            resumable = [e for e in self._entries if e.get("resume")]
            for old in resumable[:-MAX_RESUMABLE]:
                old["resume"] = None
            self._save()

    def clear(self) -> None:
        """Forget every entry (and save the empty history)."""
        with self._lock:
            self._entries = []
            self._save()

    def _save(self) -> None:
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".transfer-history.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "jobs": self._entries}, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


__all__ = ["TransferHistory", "default_path", "ENV_VAR"]
