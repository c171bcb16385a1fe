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
        entries = [j for j in jobs if isinstance(j, dict)][-self.limit :] if isinstance(jobs, list) else []
        for e in entries:
            if e.pop("resume_file", False):
                try:
                    with open(self._resume_path(e.get("id")), encoding="utf-8") as f:
                        e["resume"] = json.load(f)
                except (OSError, ValueError):
                    e["resume"] = None  # gone or damaged: the job can still be retried from the start
        return entries

    def _resume_path(self, job_id: Any) -> str:
        name = "".join(c for c in str(job_id or "") if c.isalnum() or c in "-_") or "job"
        return os.path.join(os.path.dirname(self.path) or ".", "transfer-resume", f"{name}.json")

    def entries(self) -> list[dict[str, Any]]:
        """A copy of the recorded jobs, oldest first."""
        with self._lock:
            return [dict(e) for e in self._entries]

    def record(self, entry: dict[str, Any]) -> None:
        """Add (or replace, by ``id``) a job summary and save the file.

        What a failed job needs to continue (``entry["resume"]``, which can be
        large) goes to a file of its own, written once; the history file that
        every finished job rewrites keeps only a mark.  The newest
        :data:`MAX_RESUMABLE` failed jobs keep theirs.
        """
        with self._lock:
            before = {e.get("id") for e in self._entries if e.get("resume")}
            self._entries = [e for e in self._entries if e.get("id") != entry.get("id")]
            self._entries.append(dict(entry))
            del self._entries[: -self.limit]
            resumable = [e for e in self._entries if e.get("resume")]
            for old in resumable[:-MAX_RESUMABLE]:
                old["resume"] = None
            kept = {e.get("id") for e in self._entries if e.get("resume")}
            if entry.get("id") in kept:
                _write_json(self._resume_path(entry.get("id")), entry["resume"])
            for job_id in before - kept:
                with contextlib.suppress(OSError):
                    os.unlink(self._resume_path(job_id))
            self._save()

    def clear(self) -> None:
        """Forget every entry (and save the empty history)."""
        with self._lock:
            for e in self._entries:
                if e.get("resume"):
                    with contextlib.suppress(OSError):
                        os.unlink(self._resume_path(e.get("id")))
            self._entries = []
            self._save()

    def _save(self) -> None:
        jobs = [{k: v for k, v in e.items() if k != "resume"} | ({"resume_file": True} if e.get("resume") else {})
                for e in self._entries]
        _write_json(self.path, {"version": 1, "jobs": jobs})

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _write_json(path: str, data: Any) -> None:
    """Write ``data`` as JSON at ``path`` atomically (the local backend's temporary file, fsync, rename)."""
    from ..backends.local import AtomicLocalFile

    with AtomicLocalFile(path) as f:
        f.write(json.dumps(data, indent=1).encode("utf-8"))


__all__ = ["TransferHistory", "default_path", "ENV_VAR"]
