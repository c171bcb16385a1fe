"""Helpers the transfer tests share: files on disk, progress thresholds, what the S3 server holds."""

from __future__ import annotations

import os
import threading


def write(path, data: bytes) -> None:
    """Write ``data`` at ``path``, creating its folders."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def pending_uploads(s3_server, bucket: str) -> list:
    """The multipart uploads still open in ``bucket``."""
    return s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads") or []


def keys(s3_server, bucket: str) -> list[str]:
    """The keys in ``bucket``, sorted."""
    resp = s3_server.client().list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in resp.get("Contents", []) or [])


def when_bytes(job_bytes: int):
    """An on_progress callback and an event set once a job has moved ``job_bytes`` bytes."""
    reached = threading.Event()

    def on_progress(job):
        if job.progress.bytes_done >= job_bytes:
            reached.set()

    return on_progress, reached


def whole_body(resp, amt: int) -> bytes:
    """The whole body of a fast-path ``Response``, read ``amt`` bytes at a time into one reused buffer."""
    return b"".join(bytes(piece) for piece in resp.stream_into(bytearray(amt)))
