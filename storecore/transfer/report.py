"""The integrity report: one record per file of a transfer job, exportable as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from typing import IO, Any

#: record statuses
VERIFIED = "verified"
SKIPPED = "skipped"
FAILED = "failed"
CANCELLED = "cancelled"


@dataclass
class FileRecord:
    """What happened to one file: where it went, its size and checksums on both sides.

    Also readable as a mapping (``record["source"]``) for code that treats the
    report as plain dicts.
    """

    source: str
    destination: str
    size: int | None = None
    verified: bool = False
    status: str = ""
    source_checksum: str | None = None
    destination_checksum: str | None = None
    checksum_kind: str = "size"
    retries: int = 0
    error: str | None = None
    seconds: float = 0.0

    def __getitem__(self, name: str) -> Any:
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        """Mapping-style access with a default."""
        return getattr(self, name, default)

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain JSON-safe dict."""
        return asdict(self)


COLUMNS = [f.name for f in fields(FileRecord)]


def summary(records: list[FileRecord]) -> dict[str, int]:
    """Counts of verified, skipped, failed and cancelled files, and the verified bytes."""
    out = {"files": len(records), VERIFIED: 0, SKIPPED: 0, FAILED: 0, CANCELLED: 0, "bytes": 0}
    for r in records:
        if r.status in out:
            out[r.status] += 1
        if r.status == VERIFIED:
            out["bytes"] += r.size or 0
    return out


def to_json(records: list[FileRecord], meta: dict[str, Any] | None = None) -> str:
    """The report as JSON text: ``{"job": meta, "summary": ..., "files": [...]}``."""
    return json.dumps(
        {"job": meta or {}, "summary": summary(records), "files": [r.as_dict() for r in records]}, indent=1
    )


def to_csv(records: list[FileRecord]) -> str:
    """The report as CSV text with a header row (empty cells for missing values)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: ("" if v is None else v) for k, v in r.as_dict().items()})
    return buf.getvalue()


def write_report(
    records: list[FileRecord], target: str | os.PathLike[str] | IO[str], format: str | None = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Write the report to a local path (atomically) or a text file object; ``format`` is csv or json.

    Without ``format`` the path's extension decides (``.csv`` or ``.json``).
    """
    from ..errors import InvalidArgument

    if format is None:
        name = os.fspath(target) if isinstance(target, str | os.PathLike) else getattr(target, "name", "")
        format = os.path.splitext(str(name))[1].lstrip(".").lower() or "json"
    format = format.lower()
    if format not in ("csv", "json"):
        raise InvalidArgument(f"unknown report format {format!r} (use 'csv' or 'json')")
    text = to_csv(records) if format == "csv" else to_json(records, meta)
    if not isinstance(target, str | os.PathLike):
        target.write(text)
        return
    path = os.fspath(target)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report.", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_report(path: str | os.PathLike[str]) -> list[FileRecord]:
    """Read a report written by :func:`write_report` (CSV or JSON) back into records."""
    path = os.fspath(path)
    with open(path, newline="") as f:
        if path.lower().endswith(".csv"):
            rows = list(csv.DictReader(f))
            out = []
            for row in rows:
                out.append(
                    FileRecord(
                        source=row["source"],
                        destination=row["destination"],
                        size=int(row["size"]) if row["size"] else None,
                        verified=row["verified"] == "True",
                        status=row["status"],
                        source_checksum=row["source_checksum"] or None,
                        destination_checksum=row["destination_checksum"] or None,
                        checksum_kind=row["checksum_kind"],
                        retries=int(row["retries"] or 0),
                        error=row["error"] or None,
                        seconds=float(row["seconds"] or 0),
                    )
                )
            return out
        data = json.load(f)
    return [FileRecord(**row) for row in data["files"]]


__all__ = ["FileRecord", "COLUMNS", "summary", "to_json", "to_csv", "write_report", "read_report",
           "VERIFIED", "SKIPPED", "FAILED", "CANCELLED"]
