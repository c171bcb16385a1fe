"""Copies spread over a ``dask.distributed`` cluster: each worker copies and verifies its own batches of files.

:func:`copy_on_cluster` lists the source once (or takes the list from the
bucket's S3 Inventory: no LIST request at all), cuts it into batches of about
``batch_bytes`` / ``batch_files``, and submits one task per batch.  On the
worker each batch goes through the transfer queue's own verified copy
(:func:`queue_batch`: server-side within one S3 endpoint, streamed otherwise;
CRC32 or MD5, multipart with per-part retries).  A failed batch is retried
by dask (``retries``); a failed file is reported, not raised.  Registered
schemes (``minio://``) travel with the tasks, with the options the backends
hold, so workers in other processes reach the same endpoints.

Needs the optional ``storescope[cluster]`` extra.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue as queue_module
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..backends.registry import backend_for
from ..errors import InvalidArgument, StorecoreError
from ..location import Location

logger = logging.getLogger(__name__)

#: a batch closes at this many bytes or files, whichever comes first
BATCH_BYTES = 256 * 1024 * 1024
BATCH_FILES = 500


@dataclass(frozen=True)
class ClusterRecord:
    """One file of a cluster copy: ``status`` is ``copied``, ``skipped`` or ``failed``."""

    path: str  #: relative to the source root
    source: str
    destination: str
    size: int | None
    status: str
    verified: bool = False
    error: str | None = None
    worker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return dict(self.__dict__)


def _scheme_payload(*locs: Location) -> list[tuple[str, str, dict[str, Any]]]:
    from ..location import BASE_SCHEMES, scheme_info

    out = []
    for loc in locs:
        if loc.scheme not in BASE_SCHEMES and all(p[0] != loc.scheme for p in out):
            base, options = scheme_info(loc.scheme)
            out.append((loc.scheme, base, options))
    return out


def _ensure_schemes(payload: list[tuple[str, str, dict[str, Any]]]) -> None:
    from ..location import known_schemes, register_scheme

    for name, base, options in payload:
        if name not in known_schemes():
            register_scheme(name, base, **options)


def plan(src: Any, *, inventory: Any = None) -> list[tuple[str, int | None, str | None]]:
    """``(rel, size, etag)`` of every file below ``src``: listed, or from ``inventory`` (no request to the bucket)."""
    sloc = Location.parse(src)
    if sloc.inner is not None:
        raise InvalidArgument(f"{sloc}: cluster copies take files and folders, not container nodes")
    if inventory is not None:
        from ..search.inventory import open_inventory

        inv = open_inventory(inventory, sloc.bucket)
        df = inv.below(sloc.path.strip("/")).select("rel", "size", "etag").collect()
        return [(r, s, e) for r, s, e in df.iter_rows() if r]
    sb, sloc = backend_for(sloc)
    entry = sb.stat(sloc.path)
    if not entry.is_dir:
        return [("", entry.size, entry.etag)]
    root = sb.key(sloc.path) if not sloc.is_local else sloc.path.rstrip("/")
    out = []
    for e in sb.ls(sloc.path, recursive=True):
        if e.is_dir:
            continue
        key = sb.key(e.path) if not sloc.is_local else e.path
        out.append((key[len(root) :].lstrip("/"), e.size, e.etag))
    return out


def batches(items: list[tuple[str, int | None, str | None]], max_bytes: int, max_files: int) -> Iterator[list]:
    """Consecutive runs of ``items`` of at most ``max_bytes`` (one larger file alone) and ``max_files``."""
    batch: list = []
    nbytes = 0
    for item in items:
        size = item[1] or 0
        if batch and (nbytes + size > max_bytes or len(batch) >= max_files):
            yield batch
            batch, nbytes = [], 0
        batch.append(item)
        nbytes += size
    if batch:
        yield batch


def _join(loc: Location, rel: str) -> Location:
    return loc.join(rel) if rel else loc


def copy_batch(
    src: str, dst: str, items: list, verify: bool, skip_same: bool, schemes: list[tuple[str, str, dict[str, Any]]]
) -> list[ClusterRecord]:
    """Run on a worker: copy (and verify) one batch of ``(rel, size, etag)`` files from ``src`` to ``dst``.

    The batch goes through the transfer queue's own verified copy (:func:`queue_batch`), as jobs of
    ``TransferQueue(cluster=...)`` do; its records are returned as :class:`ClusterRecord` s.
    """
    import socket

    from .queue import TransferQueue

    where = socket.gethostname()
    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):
        pass
    sizes = {rel: size for rel, size, _ in items}
    base = str(Location.parse(src)).rstrip("/")
    rows = queue_batch(src, dst, items, "skip-if-same" if skip_same else "overwrite", {"verify": verify}, schemes,
                       TransferQueue)  # fmt: skip
    out = []
    for row in rows:
        rel = row["source"][len(base):].lstrip("/")
        status = {"failed": "failed", "skipped": "skipped"}.get(row["status"], "copied")
        out.append(ClusterRecord(rel, row["source"], row["destination"], row["size"] if row["size"] is not None
                                 else sizes.get(rel), status, bool(row["verified"]), row["error"], where))  # fmt: skip
    return out


def copy_on_cluster(
    src: Any,
    dst: Any,
    client: Any = None,
    *,
    inventory: Any = None,
    verify: bool = True,
    skip_same: bool = False,
    batch_bytes: int = BATCH_BYTES,
    batch_files: int = BATCH_FILES,
    retries: int = 2,
    on_batch: Callable[[list[ClusterRecord]], None] | None = None,
) -> list[ClusterRecord]:
    """Copy the file or tree ``src`` to ``dst`` (``dst`` becomes the copy, as ``cp -r``) on a dask cluster.

    ``client`` is a ``distributed.Client`` (default: the current one).
    ``inventory`` takes the file list from the source bucket's S3 Inventory.
    ``skip_same`` leaves files that are already there with the same content;
    ``on_batch(records)`` is called as each batch finishes.  Returns every
    file's :class:`ClusterRecord` (check ``status``; nothing is raised for a
    file that failed).
    """
    from ..containers.dask_support import require

    distributed = require("distributed", "dask[distributed]")
    if client is None:
        try:
            client = distributed.get_client()
        except ValueError:
            raise InvalidArgument("copy_on_cluster needs a distributed.Client (none is running)") from None
    sloc, dloc = Location.parse(src), Location.parse(dst)
    if dloc.inner is not None:
        raise InvalidArgument(f"{dloc}: cluster copies write files and folders, not container nodes")
    items = plan(sloc, inventory=inventory)
    schemes = _scheme_payload(sloc, dloc)
    futures = [
        client.submit(copy_batch, str(sloc), str(dloc), batch, verify, skip_same, schemes, retries=retries, pure=False)
        for batch in batches(items, batch_bytes, batch_files)
    ]
    records: list[ClusterRecord] = []
    for future in distributed.as_completed(futures):
        got = future.result()
        records.extend(got)
        if on_batch is not None:
            on_batch(got)
    return records


# -- TransferQueue(cluster=...): the queue's own verified copy, run by the workers -------------------------------------
#: conflict policies a worker can apply without asking anybody ("ask" becomes "skip-if-same" on a cluster)
_CLUSTER_POLICIES = ("overwrite", "skip", "skip-if-same", "rename")


def connect(cluster: Any) -> tuple[Any, bool]:
    """``(client, owned)`` for ``cluster``: a ``distributed.Client``, or a scheduler address to connect to."""
    from ..containers.dask_support import require

    distributed = require("distributed", "dask[distributed]")
    if isinstance(cluster, distributed.Client):
        return cluster, False
    if isinstance(cluster, str):
        return distributed.Client(cluster, set_as_default=False, timeout="30s"), True
    raise InvalidArgument(f"cluster must be a scheduler address or a distributed.Client, not {type(cluster).__name__}")


def queue_batch(
    src: str, dst: str, items: list, conflict: str, options: dict[str, Any],
    schemes: list[tuple[str, str, dict[str, Any]]], queue_class: Any,
) -> list[dict[str, Any]]:  # fmt: skip
    """Run on a worker: copy one batch of ``(rel, size, etag)`` files with a local :class:`TransferQueue`.

    Every file is verified as on one machine (CRC32 or MD5, multipart with per-part retries).  A file whose
    destination already holds the same content is skipped first, whatever ``conflict`` says, so a batch that
    dask runs again (its worker died) neither sends nor renames anything twice.
    """
    _ensure_schemes(schemes)
    sloc, dloc = Location.parse(src), Location.parse(dst)
    records: list[dict[str, Any]] = []
    policy = "skip-if-same" if conflict == "rename" else conflict
    with queue_class(history=None, **options) as queue:
        jobs = []
        if items and all(rel for rel, _, _ in items):  # files below a folder: one job, no listing, no stat each
            jobs.append(queue._submit_listed(str(sloc), str(dloc), items, policy))
        else:  # a single file (its relative path is empty)
            jobs += [queue.submit(str(_join(sloc, rel)), str(_join(dloc, rel)), "copy", policy) for rel, _, _ in items]
        for job in jobs:
            job.wait()
            for record in job.report():
                row = record.as_dict()
                if conflict == "rename" and row["status"] == "skipped" and not row.get("error"):
                    row["error"] = "already there with the same content"
                records.append(row)
    return records


def run_job(job: Any, client: Any, *, batch_bytes: int = BATCH_BYTES, batch_files: int = BATCH_FILES,
            retries: int = 3, poll: float = 0.25) -> None:  # fmt: skip
    """Run the copy or move ``job`` (a :class:`~storecore.transfer.queue.TransferJob`) on the cluster of ``client``.

    The source is listed once here; batches go to the workers; their records, bytes and counts fill the
    job as batches finish; cancelling the job cancels the batches.  A move deletes each source file here,
    only after its copy was verified on a worker.
    """
    from ..errors import Cancelled
    from .report import FAILED, SKIPPED, VERIFIED, FileRecord

    sloc, dloc = Location.parse(job.source), Location.parse(job.destination)
    if sloc.inner is not None or dloc.inner is not None:
        raise InvalidArgument(f"{job.source} -> {job.destination}: cluster jobs copy files and folders, not nodes")
    items = plan(sloc)
    job.set_listed(len(items), sum(size or 0 for _, size, _ in items))
    conflict = str(job.conflict.value)
    conflict = conflict if conflict in _CLUSTER_POLICIES else "skip-if-same"
    tq = job.queue
    options = {"concurrency": tq.concurrency, "part_size": tq.part_size, "max_retries": tq.max_retries,
               "verify": tq.verify, "checksum": tq.checksum, "durable": tq.durable}  # fmt: skip
    schemes = _scheme_payload(sloc, dloc)
    pending = {
        client.submit(queue_batch, str(sloc), str(dloc), batch, conflict, options, schemes, type(tq),
                      retries=retries, pure=False)  # fmt: skip
        for batch in batches(items, batch_bytes, batch_files)
    }
    finished: queue_module.Queue[Any] = queue_module.Queue()
    for future in pending:
        future.add_done_callback(finished.put)
    try:
        while pending:
            if job.stopping:
                raise Cancelled(f"transfer {job.source} -> {job.destination} cancelled", path=job.destination)
            try:
                future = finished.get(timeout=poll)  # wakes up to notice a cancel between batches
            except queue_module.Empty:
                continue
            pending.discard(future)
            for row in future.result():
                job.add_finished(FileRecord(**row))
    except BaseException:
        client.cancel(list(pending))
        raise
    if job.op == "move":
        _delete_verified_sources(job, FAILED, SKIPPED, VERIFIED)


def _delete_verified_sources(job: Any, failed: str, skipped: str, verified: str) -> None:
    """After a cluster copy: delete each source whose copy was verified (a failed delete fails that file)."""
    for record in job.report():  # the job's own records: a failed delete shows on them
        if record.status != verified:
            continue
        try:
            backend, loc = backend_for(record.source)
            backend.delete(loc.path)
        except StorecoreError as e:
            record.status, record.error = failed, f"copied and verified, but the source was not deleted: {e}"
    backend, loc = backend_for(job.source)
    root = backend.local_path(loc.path)
    if root is not None and os.path.isdir(root):
        # folders emptied by the move go too (a folder still holding a skipped or failed file stays)
        for folder, _dirs, _files in sorted(os.walk(root), key=lambda t: -len(t[0])):
            with contextlib.suppress(OSError):
                os.rmdir(folder)
