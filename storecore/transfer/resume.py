"""What a failed or interrupted transfer job needs to continue in a later session, as JSON.

The history keeps, with each such job, the files it had verified, its
multipart uploads still open on the server (upload id and finished parts
with their checksums) and its partial downloads (temporary file and the
parts in it).  :func:`restore` gives a new job that state, so a retry after
a restart sends only what is missing, as a retry within the session does.
"""

from __future__ import annotations

from typing import Any

from . import multipart
from .report import FileRecord

#: verified files remembered per job; beyond this a resumed job compares sizes and checksums instead
MAX_COMPLETED = 2000


def dump(job: Any) -> dict[str, Any] | None:
    """The resume state of ``job`` (None when there is nothing to resume)."""
    with job._lock:
        completed = [job._records[s] for s in job._completed if s in job._records]
        uploads = dict(job._uploads)
        downloads = dict(job._downloads)
    if not (completed or uploads or downloads):
        return None
    return {
        "completed": [r.as_dict() for r in completed[:MAX_COMPLETED]],
        "completed_truncated": len(completed) > MAX_COMPLETED,
        "uploads": {uri: _upload(s) for uri, s in uploads.items() if s.upload_id},
        "downloads": {uri: _download(s) for uri, s in downloads.items()},
    }


def restore(job: Any, state: dict[str, Any] | None) -> None:
    """Give a new ``job`` the resume state :func:`dump` wrote."""
    if not state:
        return
    for row in state.get("completed") or []:
        record = FileRecord(**{k: v for k, v in row.items() if k in FileRecord.__dataclass_fields__})
        job._records[record.source] = record
        job._completed.add(record.source)
    for uri, u in (state.get("uploads") or {}).items():
        done = {int(n): (etag, bytes.fromhex(md5), crc) for n, (etag, md5, crc) in u["done"].items()}
        job._uploads[uri] = multipart.UploadState(u["key"], u["size"], u["part_size"], u["upload_id"], done,
                                                  bucket=u["bucket"], crc32=u["crc32"])
    for uri, d in (state.get("downloads") or {}).items():
        done = {int(n): (bytes.fromhex(v) if isinstance(v, str) else int(v)) for n, v in d["done"].items()}
        job._downloads[uri] = multipart.DownloadState(d["tmp"], d["size"], d["part_size"], d["etag"],
                                                      checksum=d["checksum"], done=done)


def _upload(s: multipart.UploadState) -> dict[str, Any]:
    return {
        "key": s.key, "size": s.size, "part_size": s.part_size, "upload_id": s.upload_id, "bucket": s.bucket,
        "crc32": s.crc32, "done": {str(n): [etag, md5.hex(), crc] for n, (etag, md5, crc) in s.done.items()},
    }


def _download(s: multipart.DownloadState) -> dict[str, Any]:
    return {
        "tmp": s.tmp, "size": s.size, "part_size": s.part_size, "etag": s.etag, "checksum": s.checksum,
        "done": {str(n): (v.hex() if isinstance(v, bytes) else v) for n, v in s.done.items()},
    }


__all__ = ["dump", "restore", "MAX_COMPLETED"]
