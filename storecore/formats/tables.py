"""Table handlers (polars): ``.parquet``, ``.csv``, ``.tsv``, Arrow IPC / Feather v2, ``.jsonl``, and lazy
scans of files and datasets.

Reading one ``.parquet``/``.csv`` file gives an eager ``polars.DataFrame`` (what
``store["table"]`` users expect); :func:`scan_location` gives a ``LazyFrame``
over one file or over a whole directory of parquet/CSV files (a "dataset"),
reading only what the query needs.  Local files are scanned in place; S3
objects are scanned by polars' own object-store reader with the backend's
endpoint and credentials, or from the remote cache when one is given.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
from typing import IO, TYPE_CHECKING, Any

from ..errors import FormatError, NotFound
from .registry import Handler

if TYPE_CHECKING:
    from ..backends.base import Backend

DATASET_EXTENSIONS = (".parquet", ".csv")

logger = logging.getLogger(__name__)


def _pl() -> Any:
    import polars as pl

    return pl


def _frame(obj: Any) -> Any:
    pl = _pl()
    if isinstance(obj, pl.LazyFrame):
        return obj.collect()
    if isinstance(obj, pl.DataFrame):
        return obj
    if isinstance(obj, list | dict):
        return pl.DataFrame(obj)
    raise FormatError(f"cannot write a {type(obj).__name__} as a table")


def _strip(kw: dict[str, Any]) -> dict[str, Any]:
    kw.pop("allow_pickle", None)
    return kw


def _read_parquet(f: IO[bytes], **kw: Any) -> Any:
    return _pl().read_parquet(f, **_strip(kw))


def _write_parquet(obj: Any, f: IO[bytes], **kw: Any) -> None:
    _frame(obj).write_parquet(f, **_strip(kw))


#: field separators a CSV file may use, in order of preference when the head is ambiguous
CSV_SEPARATORS = (",", ";", "\t", "|")
#: bytes of a CSV file's head read to find its dialect
CSV_DIALECT_BYTES = 64 * 1024
_QUOTED = re.compile(rb'"(?:[^"]|"")*"')
_DECIMAL_COMMA = re.compile(rb"(?:^|;)\s*-?\d+,\d+\s*(?=;|$)")


def csv_dialect(head: bytes, default: str = ",") -> dict[str, Any]:
    """polars options for a CSV file whose first bytes are ``head``: its field ``separator`` and, for
    European spreadsheets (``;`` between fields), ``decimal_comma`` when numbers are written ``1,5``.

    The separator is the candidate found the same number of times (at least once) on each of the first
    lines, quoted text left out; the most frequent in the header when no candidate is that regular;
    ``default`` when none occurs.
    """
    lines = [_QUOTED.sub(b"", line) for line in head.removeprefix(b"\xef\xbb\xbf").splitlines()[:6] if line.strip()]
    if len(head) >= CSV_DIALECT_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut by the read
    if not lines:
        return {"separator": default}
    counts = {sep: [line.count(sep.encode()) for line in lines] for sep in CSV_SEPARATORS}
    regular = [sep for sep, n in counts.items() if n[0] and len(set(n)) == 1]
    if default in regular:
        separator = default
    elif regular:
        separator = max(regular, key=lambda sep: counts[sep][0])
    else:
        separator = max(CSV_SEPARATORS, key=lambda sep: counts[sep][0])
        separator = separator if counts[separator][0] else default
    options: dict[str, Any] = {"separator": separator}
    if separator == ";" and any(_DECIMAL_COMMA.search(line) for line in lines[1:]):
        options["decimal_comma"] = True
    return options


def is_utf8(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a text file, perhaps cut inside a character) is UTF-8."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def as_utf8(data: bytes) -> bytes:
    """A text table's bytes as UTF-8, which is all polars reads: bytes that are not UTF-8 are what spreadsheets on
    Western systems save as "CSV", decoded as storecore decodes all such text (``values.decode_legacy``)."""
    if is_utf8(data):
        return data
    from ..containers.values import decode_legacy

    return decode_legacy(data).encode("utf-8")


def _read_csv(f: IO[bytes], *, default_separator: str = ",", **kw: Any) -> Any:
    data = as_utf8(f.read())
    options = {} if "separator" in kw else csv_dialect(data[:CSV_DIALECT_BYTES], default_separator)
    return _pl().read_csv(io.BytesIO(data), **{**options, **_strip(kw)})


def _read_tsv(f: IO[bytes], **kw: Any) -> Any:
    return _read_csv(f, default_separator="\t", **kw)


def _write_tsv(obj: Any, f: IO[bytes], **kw: Any) -> None:
    _frame(obj).write_csv(f, **{"separator": "\t", **_strip(kw)})


def ipc_kind(head: bytes) -> str:
    """What an Arrow file whose first bytes are ``head`` is: ``file`` (Arrow IPC file, Feather v2: ``ARROW1``) or
    ``stream`` (an IPC stream, ``.arrows``); a Feather v1 file (``FEA1``), which polars cannot read, raises a
    :class:`FormatError` saying so (polars' own error is "out-of-spec: InvalidFooter")."""
    if head[:4] == b"FEA1":
        raise FormatError("a Feather v1 file (written by feather-format or pyarrow's version=1), which polars "
                          "cannot read: convert it with pyarrow.feather.write_feather(..., version=2)")
    return "file" if head[:6] == b"ARROW1" else "stream"


def _read_ipc(f: IO[bytes], **kw: Any) -> Any:
    """An Arrow IPC file (``.arrow``, Feather v2) or stream (``.arrows``): told apart by their first bytes."""
    data = f.read()
    read = _pl().read_ipc if ipc_kind(data[:6]) == "file" else _pl().read_ipc_stream
    return read(io.BytesIO(data), **_strip(kw))


def _write_ipc(obj: Any, f: IO[bytes], **kw: Any) -> None:
    _frame(obj).write_ipc(f, **_strip(kw))


def _write_csv(obj: Any, f: IO[bytes], **kw: Any) -> None:
    _frame(obj).write_csv(f, **_strip(kw))


def _read_jsonl(f: IO[bytes], **_kw: Any) -> list[Any]:
    out = []
    for n, line in enumerate(io.TextIOWrapper(f, encoding="utf-8-sig"), 1):  # (-sig: a BOM, as Windows tools write)
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise FormatError(f"line {n} is not valid JSON: {e.msg}") from e
    return out


def _write_jsonl(obj: Any, f: IO[bytes], **kw: Any) -> None:
    pl = __import__("sys").modules.get("polars")
    if pl is not None and isinstance(obj, pl.DataFrame | pl.LazyFrame):
        obj = _frame(obj).to_dicts()
    _strip(kw)
    for row in obj:
        f.write(json.dumps(row, ensure_ascii=False, default=str, **kw).encode("utf-8") + b"\n")


def _is_records(obj: Any) -> bool:
    return isinstance(obj, list) and bool(obj) and all(isinstance(x, dict) for x in obj)


HANDLERS = [
    Handler("parquet", [".parquet", ".pq"], ["polars:DataFrame", "polars:LazyFrame"], 10,
            read=_read_parquet, write=_write_parquet),
    Handler("csv", [".csv"], ["polars:DataFrame", "polars:LazyFrame"], 0, read=_read_csv, write=_write_csv),
    Handler("tsv", [".tsv", ".tab"], ["polars:DataFrame", "polars:LazyFrame"], 0, read=_read_tsv, write=_write_tsv),
    Handler("ipc", [".arrow", ".feather", ".ipc", ".arrows"], ["polars:DataFrame", "polars:LazyFrame"], 0,
            read=_read_ipc, write=_write_ipc),
    Handler("jsonl", [".jsonl", ".ndjson"], [], 12, read=_read_jsonl, write=_write_jsonl, accepts=_is_records),
]


# -- lazy scans ----------------------------------------------------------------------
def polars_storage_options(backend: Backend) -> dict[str, str]:
    """The polars/object_store options that reach ``backend``'s S3 endpoint with its credentials.

    Built from :attr:`Backend.storage_options` (the backend resolves profiles and
    the default chain with its own session).
    """
    opts: dict[str, Any] = dict(backend.storage_options)
    out: dict[str, str] = {}
    if opts.get("aws_access_key_id"):
        out["aws_access_key_id"] = opts["aws_access_key_id"]
        out["aws_secret_access_key"] = opts.get("aws_secret_access_key") or ""
    if opts.get("aws_session_token"):
        out["aws_session_token"] = opts["aws_session_token"]
    endpoint = opts.get("endpoint_url")
    if endpoint:
        out["aws_endpoint_url"] = endpoint
        if endpoint.startswith("http://"):
            out["aws_allow_http"] = "true"
        out["aws_virtual_hosted_style_request"] = "false"
    out["aws_region"] = opts.get("region_name") or "us-east-1"
    return out


def dataset_files(backend: Backend, path: str) -> tuple[str, list[str]]:
    """``(extension, keys)`` of the parquet (preferred) or CSV files below directory ``path``."""
    found: dict[str, list[str]] = {e: [] for e in DATASET_EXTENSIONS}
    for entry in backend.ls(path, recursive=True):
        name = entry.name.lower()
        for ext in DATASET_EXTENSIONS:
            if name.endswith(ext):
                found[ext].append(entry.path)
    for ext in DATASET_EXTENSIONS:
        if found[ext]:
            return ext, sorted(found[ext])
    raise NotFound(f"{backend.uri(path)}: no parquet or CSV files in this folder", path=backend.uri(path))


def is_dataset(backend: Backend, path: str) -> bool:
    """True when ``path`` is a directory holding parquet or CSV files (at any depth)."""
    if not backend.is_dir(path):
        return False
    try:
        dataset_files(backend, path)
    except NotFound:
        return False
    return True


def scan_location(backend: Backend, path: str, *, cache: Any = None, **kw: Any) -> Any:
    """A ``polars.LazyFrame`` over one parquet/CSV file or a directory of them.

    Local files are scanned in place, S3 objects by polars' object-store reader
    (or from ``cache``, a :class:`~storecore.cache.RemoteCache`, when given),
    other backends (memory) from bytes read into memory.
    """
    pl = _pl()
    entry = backend.stat(path)
    if entry.is_dir:
        ext, keys = dataset_files(backend, path)
    else:
        ext = next((e for e in (*DATASET_EXTENSIONS, ".tsv") if entry.name.lower().endswith(e)), "")
        if not ext:
            raise FormatError(f"{backend.uri(path)}: only parquet, CSV and TSV files can be scanned lazily")
        keys = [entry.path]
    scan = pl.scan_parquet if ext == ".parquet" else pl.scan_csv
    if ext in (".csv", ".tsv"):
        head = backend.read_bytes(keys[0], 0, CSV_DIALECT_BYTES)
        if "separator" not in kw:
            kw = {**csv_dialect(head, "\t" if ext == ".tsv" else ","), **kw}
        if not is_utf8(head):
            latin1 = _latin1_frame(backend, keys, entry.size if not entry.is_dir else None, kw)
            if latin1 is not None:
                return latin1
            kw = {"encoding": "utf8-lossy", **kw}
    if backend.is_local:
        sources: list[Any] = [backend.local_path(k) for k in keys]
        return scan(sources if len(sources) > 1 else sources[0], **kw)
    if cache is not None:
        sources = [cache.local_path(backend.uri(k)) for k in keys]
        return scan(sources if len(sources) > 1 else sources[0], **kw)
    if backend.supports_s3_api:
        uris = [f"s3://{backend.bucket}/{backend.key(k)}" for k in keys]
        return scan(uris if len(uris) > 1 else uris[0], storage_options=polars_storage_options(backend), **kw)
    read = pl.read_parquet if ext == ".parquet" else pl.read_csv
    frames = [read(io.BytesIO(backend.read_bytes(k)), **kw) for k in keys]
    return pl.concat(frames, how="vertical_relaxed").lazy()


#: bytes of Latin-1 text tables transcoded to UTF-8 in memory by :func:`scan_location` (the default preview budget:
#: a lazy scan must not read more than a preview would); larger ones are scanned with polars' ``utf8-lossy``
#: (their non-ASCII letters shown as U+FFFD)
CSV_TRANSCODE_BYTES = 64 * 1024 * 1024


def _latin1_frame(backend: Backend, keys: list[str], size: int | None, kw: dict[str, Any]) -> Any:
    """A lazy frame over text tables whose head is not UTF-8 (so Latin-1: :func:`as_utf8`), read into memory and
    transcoded, or None when they are larger than :data:`CSV_TRANSCODE_BYTES` (polars scans UTF-8 only).

    Only the head is looked at: a file whose first non-UTF-8 byte comes later fails when that row is read, with
    polars' "invalid utf-8 sequence".
    """
    pl = _pl()
    total = size if size is not None else sum(backend.stat(k).size or 0 for k in keys)
    if total > CSV_TRANSCODE_BYTES:
        logger.warning("%s: a text table that is not UTF-8 and too large to transcode in memory: read with "
                       "polars' utf8-lossy", backend.uri(keys[0]))
        return None
    frames = [pl.read_csv(io.BytesIO(as_utf8(backend.read_bytes(k))), **kw) for k in keys]
    return (frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")).lazy()
