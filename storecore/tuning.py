"""One :class:`Tuning` per scheme: concurrency, part sizes, pool sizes, block sizes.

The S3 backend, the remote cache, the transfer queue and AutoStore's
``S3Options`` read their defaults here instead of keeping their own.  Where
they used to disagree each keeps its value under its own field name
(``multipart_chunksize`` for boto3's managed transfers, ``transfer_part_size``
for the transfer queue, ``store_multipart_chunksize`` for ``S3Options``), so
this module is the one place to look.  ``set_tuning("minio", ...)`` changes one
scheme; an alias scheme without its own uses its base scheme's.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from .logs import describe

logger = logging.getLogger(__name__)

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Tuning:
    """Performance settings of one scheme (every field has the value its users had before)."""

    # S3 backend: single objects through the transfer engine (S3 options of the same names override them)
    multipart_threshold: int = 8 * MiB
    #: part size of one object moved outside a queue (``read_to``, ``write_from``, the remote cache, ``copy``)
    multipart_chunksize: int = 8 * MiB
    #: parallel parts of one object moved outside a queue
    max_concurrency: int = 10
    #: bytes of parts one object moved outside a queue holds in memory at once (parts are read whole)
    object_memory: int = 24 * MiB
    max_attempts: int = 5
    connect_timeout: float = 10
    read_timeout: float = 60
    #: smallest connection pool of the backend's client (it grows to twice ``max_concurrency``)
    pool_size: int = 16
    #: connection pool of the transfer engine's client
    transfer_pool_size: int = 64
    # lazy ranged reads (``Backend.open``)
    read_block_size: int = 256 * 1024
    read_cache_blocks: int = 64
    #: buffer of streamed copies
    copy_buffer_size: int = 8 * MiB
    # transfer queue
    transfer_concurrency: int = 4
    #: 8 MiB parts, 8 at once: the server holds 64 MiB of parts in flight instead of 128 (or the benchmark's old
    #: 160): on SeaweedFS that cut its CPU per GiB uploaded (10.1 s to 9.4) and lifted uploads from 177-183 MB/s
    #: (median) to 198-210; downloads stayed level (1,151 against 1,122 MB/s median); see benchmarks/transfer.py
    transfer_part_size: int = 8 * MiB
    transfer_part_concurrency: int = 8
    #: downloads to local files of at least this many bytes write around the page cache (``O_DIRECT``, on a local
    #: block file system that takes it: see ``storecore.transfer.direct``); 0: never.  Below it the
    #: direct path's fixed cost per file (a second descriptor, preallocation, a device write) outweighed the copy
    #: it saves: 64 KiB files 91 against 108 MB/s buffered, 128 KiB level.  Copies and queues only: the remote
    #: cache and ``read_to`` keep the page cache, since their files are read right away
    transfer_direct_min: int = 256 * KiB
    # AutoStore's S3Options defaults
    store_multipart_threshold: int = 64 * MiB
    store_multipart_chunksize: int = 16 * MiB
    store_max_concurrency: int = 10

    def __getitem__(self, name: str) -> Any:
        """``tuning["max_concurrency"]``: the field, by the S3 option name (the older dict form)."""
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def replace(self, **changes: Any) -> Tuning:
        """A copy with ``changes`` (unknown names are refused)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The field names."""
        return tuple(f.name for f in dataclasses.fields(cls))


DEFAULT = Tuning()
_tunings: dict[str, Tuning] = {
    "file": DEFAULT,
    "memory": DEFAULT,
    "s3": DEFAULT.replace(read_block_size=512 * 1024),
}
_lock = threading.Lock()


def tuning_for(scheme: str) -> Tuning:
    """The tuning of ``scheme`` (an alias without its own uses its base scheme's; unknown: the default)."""
    name = scheme.lower()
    with _lock:
        found = _tunings.get(name)
    if found is not None:
        return found
    from .location import scheme_info

    try:
        base, _ = scheme_info(name)
    except Exception as exc:  # noqa: BLE001 - an unknown scheme has the default tuning
        logger.debug("tuning_for: caught %s", describe(exc))
        return DEFAULT
    with _lock:
        return _tunings.get(base, DEFAULT)


def set_tuning(scheme: str, tuning: Tuning | None = None, **changes: Any) -> Tuning:
    """Set ``scheme``'s tuning (``tuning``, or its current one with ``changes``); return it.

    Backends already built keep the values they read; see ``forget_scheme``.
    """
    new = (tuning or tuning_for(scheme)).replace(**changes)
    with _lock:
        _tunings[scheme.lower()] = new
    return new


# -- the one memory budget of the caches of decoded data ------------------------------------------
#: environment variable holding the budget (``"1GiB"``, ``"768MiB"``, ``"2GB"`` or bytes)
CACHE_BUDGET_ENV = "STORESCOPE_CACHE_BUDGET"
DEFAULT_CACHE_BUDGET = 576 * MiB
#: each cache's share of the budget (they add up to 1): the window's decoded frame tiles; chunks decoded
#: outside h5py and zarr (``hdf5_chunks``: HDF5 chunks decoded off h5py's lock, and the HDF5 deflate and
#: Zarr zstd chunks decoded part-way, which stepping through frames resumes: 256 MiB holds a chunk row of
#: the 2 GiB benchmark volume; at 64 MiB, stepping through 64 frames took 15.5 s instead of 1.2 s);
#: h5py's own chunk cache of each open file; recent Zarr slices of one open store; Zarr slices kept
#: across opens
CACHE_SHARES = {
    "frames": 2 / 9,
    "hdf5_chunks": 4 / 9,
    "hdf5_open": 1 / 9,
    "zarr_open": 1 / 9,
    "zarr_slices": 1 / 9,
}
_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3, "t": 1024**4, "tib": 1024**4,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
}  # fmt: skip
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*")


def parse_size(text: str) -> int:
    """Bytes from ``"64MiB"``, ``"1.5 GB"``, ``"500k"`` or ``"1048576"`` (KiB/MiB/GiB are 1024-based, KB/MB/GB 1000).

    Raises ValueError naming what was not understood.
    """
    match = _SIZE.fullmatch(text or "")
    if match is None:
        raise ValueError(f"{text!r} is not a size (write e.g. 64MiB, 1GB or 1048576)")
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(f"{text!r}: unknown unit {unit!r} (use KiB, MiB, GiB, KB, MB, GB or plain bytes)")
    return int(float(number) * factor)


def cache_budget() -> int:
    """The bytes all caches of decoded data may hold together: ``STORESCOPE_CACHE_BUDGET``, else 576 MiB.

    An unreadable value is logged and the default used (at least 64 MiB is kept).
    """
    import os

    raw = os.environ.get(CACHE_BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_CACHE_BUDGET
    try:
        wanted = parse_size(raw)
    except ValueError as e:
        logger.warning("%s ignored: %s; using %d MiB", CACHE_BUDGET_ENV, e, DEFAULT_CACHE_BUDGET // MiB)
        return DEFAULT_CACHE_BUDGET
    return max(64 * MiB, wanted)


def cache_bytes(name: str) -> int:
    """The share of :func:`cache_budget` of the cache ``name`` (a key of :data:`CACHE_SHARES`)."""
    return int(cache_budget() * CACHE_SHARES[name])


__all__ = ["DEFAULT", "Tuning", "set_tuning", "tuning_for", "CACHE_BUDGET_ENV", "CACHE_SHARES", "cache_budget",
           "cache_bytes", "parse_size"]
