"""Listings from an S3 Inventory instead of the bucket: find, compare, ls and totals over millions of keys.

AWS writes an inventory of ``source-bucket`` below a destination prefix as::

    <prefix>/<source-bucket>/<config-id>/<YYYY-MM-DDTHH-MMZ>/manifest.json   (fileFormat, fileSchema, files)
    <prefix>/<source-bucket>/<config-id>/data/<uuid>.parquet | .csv.gz | .orc
    <prefix>/<source-bucket>/<config-id>/hive/dt=YYYY-MM-DD-HH-MM/symlink.txt

:func:`open_inventory` takes any of these levels (the destination prefix, the
config folder, one dated folder, a ``manifest.json`` or a hive ``dt=`` folder)
and finds the newest complete manifest.  :meth:`Inventory.scan` is a polars
``LazyFrame`` over the inventory files (Parquet scanned in place with predicate
and projection pushdown; gzipped, headerless CSV with the manifest's column
names; ORC through pyarrow when it is installed) with normalised columns
``key, size, last_modified, etag, storage_class``.  Only current versions are
kept (``is_latest``, no delete markers).  The find, compare and ls built on it
never send a request to the source bucket; results are "as of"
:attr:`Inventory.date`.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import io
import json
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from ..backends.base import Backend, Entry
from ..backends.registry import backend_for
from ..errors import Cancelled, CorruptData, FormatError, InvalidArgument, MissingDependency, NotFound
from ..location import Location

#: rows handed out at once when streaming matches
BATCH_ROWS = 50_000
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}-\d{2}Z)?$")
_HIVE_DIR = re.compile(r"^dt=(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z][a-z])")
#: the normalised columns (and where they come from in an AWS schema, snake-cased)
_COLUMNS = {
    "key": "key",
    "size": "size",
    "last_modified_date": "last_modified",
    "e_tag": "etag",
    "storage_class": "storage_class",
}


def _pl() -> Any:
    import polars as pl

    return pl


def snake(name: str) -> str:
    """An AWS inventory field name (``LastModifiedDate``, ``ETag``) as its Parquet column name."""
    return _CAMEL.sub("_", name.strip()).lower()


def parse_schema(text: str, file_format: str) -> list[str]:
    """The column names of a manifest's ``fileSchema`` (CSV list, Parquet message or ORC struct), snake-cased."""
    text = (text or "").strip()
    if file_format == "parquet" or text.startswith("message"):
        return [snake(m) for m in re.findall(r"(?:required|optional|repeated)\s+\w+\s+(\w+)", text)]
    if file_format == "orc" or text.startswith("struct<"):
        return [snake(m) for m in re.findall(r"[<,]\s*(\w+)\s*:", text)]
    return [snake(c) for c in text.split(",") if c.strip()]


def _bucket_of(arn: str | None) -> str | None:
    if not arn:
        return None
    return arn.rsplit(":", 1)[-1] or None


@dataclass
class Inventory:
    """One inventory snapshot: where its files are, their format and columns, and its date."""

    uri: str  #: the folder of the manifest (or hive ``dt=`` folder) used
    source_bucket: str | None
    date: _dt.datetime  #: when AWS took the snapshot (UTC)
    file_format: str  #: ``"csv"``, ``"parquet"`` or ``"orc"``
    columns: list[str]  #: snake-case column names (the CSV column order)
    files: list[str]  #: URIs of the data files

    @property
    def as_of(self) -> str:
        """The snapshot date as text, ``"2026-12-02"`` (with the time when it is not midnight)."""
        if (self.date.hour, self.date.minute) == (0, 0):
            return self.date.strftime("%Y-%m-%d")
        return self.date.strftime("%Y-%m-%d %H:%M UTC")

    # -- scanning --------------------------------------------------------------------
    def scan(self) -> Any:
        """A polars ``LazyFrame`` with ``key, size, last_modified, etag, storage_class`` (current versions)."""
        pl = _pl()
        if not self.files:
            return pl.LazyFrame(schema=_empty_schema())
        if self.file_format == "orc":
            return _normalise(_scan_orc(self.files), self.file_format)
        if self.file_format == "csv":
            lf = _scan_files(self.files, "csv", columns=self.columns)
        else:
            lf = _scan_files(self.files, "parquet")
        return _normalise(lf, self.file_format)

    def below(self, prefix: str) -> Any:
        """:meth:`scan` limited to keys below ``prefix`` (a folder key, with or without ``/``) plus a ``rel`` column."""
        pl = _pl()
        prefix = prefix.strip("/")
        lf = self.scan()
        if not prefix:
            return lf.with_columns(rel=pl.col("key"))
        head = prefix + "/"
        return lf.filter(pl.col("key").str.starts_with(head)).with_columns(rel=pl.col("key").str.slice(len(head)))

    def totals(self, prefix: str = "") -> dict[str, Any]:
        """``{"files", "bytes", "newest", "as_of"}`` below ``prefix`` (du -s)."""
        pl = _pl()
        row = (
            self.below(prefix)
            .select(files=pl.len(), bytes=pl.col("size").sum(), newest=pl.col("last_modified").max())
            .collect()
            .row(0, named=True)
        )
        return {"files": row["files"], "bytes": int(row["bytes"] or 0), "newest": row["newest"], "as_of": self.as_of}

    def children(self, prefix: str = "") -> Any:
        """One level below ``prefix`` (du): a DataFrame of ``name, is_dir, size, files, last_modified``."""
        pl = _pl()
        lf = self.below(prefix).with_columns(
            name=pl.col("rel").str.split_exact("/", 1).struct.field("field_0"),
            is_dir=pl.col("rel").str.contains("/", literal=True),
        )
        return (
            lf.group_by("name", "is_dir")
            .agg(size=pl.col("size").sum(), files=pl.len(), last_modified=pl.col("last_modified").max())
            .sort("name")
            .collect()
        )


def _empty_schema() -> dict[str, Any]:
    pl = _pl()
    return {
        "key": pl.String,
        "size": pl.Int64,
        "last_modified": pl.Datetime("ms", "UTC"),
        "etag": pl.String,
        "storage_class": pl.String,
    }


def _sources(files: list[str]) -> tuple[list[Any], dict[str, str] | None]:
    """What polars scans for these URIs: local paths, ``s3://`` URIs with storage options, or in-memory bytes."""
    from ..formats.tables import polars_storage_options

    sources: list[Any] = []
    options: dict[str, str] | None = None
    for uri in files:
        backend, loc = backend_for(uri)
        if loc.is_local:
            sources.append(loc.path)
        elif loc.base_scheme == "s3":
            options = options or polars_storage_options(backend)
            sources.append(f"s3://{backend.bucket}/{backend.key(loc.path)}")
        else:
            sources.append(io.BytesIO(backend.read_bytes(loc.path)))
    return sources, options


def _scan_files(files: list[str], fmt: str, columns: list[str] | None = None) -> Any:
    pl = _pl()
    sources, options = _sources(files)
    kw: dict[str, Any] = {"storage_options": options} if options else {}
    if fmt == "parquet":
        if all(isinstance(s, str) for s in sources):
            return pl.scan_parquet(sources, **kw)
        return pl.concat([pl.scan_parquet(s) for s in sources], how="vertical_relaxed")
    # CSV inventory files: gzipped, no header, every field quoted text; columns from fileSchema.
    assert columns is not None
    schema = dict.fromkeys(columns, pl.String)

    def one(src: Any, **extra: Any) -> Any:
        return pl.scan_csv(src, has_header=False, schema=schema, **extra)

    if all(isinstance(s, str) for s in sources):
        return one(sources, **kw)
    return pl.concat([one(s) for s in sources], how="vertical_relaxed")


def _scan_orc(files: list[str]) -> Any:
    try:
        import pyarrow.orc as orc  # noqa: F401
    except ImportError:
        raise MissingDependency(
            "ORC inventories are not supported without pyarrow (pip install pyarrow); "
            "or configure the inventory to write Parquet or CSV"
        ) from None
    pl = _pl()
    frames = []
    for uri in files:
        backend, loc = backend_for(uri)
        table = orc.read_table(io.BytesIO(backend.read_bytes(loc.path)))
        frames.append(pl.from_arrow(table).lazy())
    return pl.concat(frames, how="vertical_relaxed")


def _decode_keys(s: Any) -> Any:
    """CSV inventories URL-encode keys: decode the ones that need it (most do not)."""
    pl = _pl()
    mask = s.str.contains(r"[%+]")
    if not mask.any():
        return s
    values = s.to_list()
    for i in mask.arg_true().to_list():
        values[i] = unquote_plus(values[i])
    return pl.Series(s.name, values, dtype=pl.String)


def _normalise(lf: Any, file_format: str) -> Any:
    """Rename to the normalised columns, parse types, keep current versions only."""
    pl = _pl()
    names = lf.collect_schema().names()
    lower = {snake(n): n for n in names}
    if "key" not in lower:
        raise CorruptData(f"inventory files have no key column (columns: {', '.join(names)})")
    filters = []
    if "is_latest" in lower:
        filters.append(pl.col(lower["is_latest"]).cast(pl.String).str.to_lowercase() != "false")
    if "is_delete_marker" in lower:
        filters.append(
            pl.col(lower["is_delete_marker"]).cast(pl.String).str.to_lowercase().fill_null("false") != "true"
        )
    if filters:
        lf = lf.filter(*filters)
    exprs = []
    for src, dst in _COLUMNS.items():
        if src not in lower:
            exprs.append(pl.lit(None, dtype=_empty_schema()[dst]).alias(dst))
            continue
        col = pl.col(lower[src])
        if dst == "key" and file_format == "csv":
            col = col.map_batches(_decode_keys, return_dtype=pl.String)
        elif dst == "size":
            col = col.cast(pl.Int64, strict=False)
        elif dst == "last_modified":
            col = _to_utc(col, lf.collect_schema()[lower[src]])
        elif dst in ("etag", "storage_class"):
            col = col.cast(pl.String)
        exprs.append(col.alias(dst))
    return lf.select(exprs)


def _to_utc(col: Any, dtype: Any) -> Any:
    pl = _pl()
    if isinstance(dtype, pl.Datetime):
        col = col.dt.replace_time_zone("UTC") if dtype.time_zone is None else col.dt.convert_time_zone("UTC")
        return col.dt.cast_time_unit("ms")
    if dtype.is_integer():  # epoch milliseconds
        return col.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    text = col.cast(pl.String).str.replace(r"Z$", "+00:00")
    return text.str.to_datetime(time_zone="UTC", strict=False, time_unit="ms")


# -- finding the newest manifest ---------------------------------------------------------
def _dirs(backend: Backend, path: str) -> list[str]:
    try:
        return sorted(e.name for e in backend.ls(path) if e.is_dir)
    except NotFound:
        return []


def _join(path: str, name: str) -> str:
    return f"{path.rstrip('/')}/{name}" if path.strip("/") else name


def open_inventory(uri: str | Location, source_bucket: str | None = None) -> Inventory:
    """The newest inventory snapshot at ``uri`` (any level of the AWS destination layout).

    ``source_bucket`` picks that bucket's folder below a destination prefix
    and is checked against the manifest's ``sourceBucket``.  Raises
    ``NotFound`` when no manifest is there.
    """
    loc = Location.parse(uri)
    if loc.inner is not None:
        raise InvalidArgument(f"{loc}: an inventory is a folder of the S3 Inventory destination, not a container node")
    backend, loc = backend_for(loc)
    path = loc.path.rstrip("/")
    name = posixpath.basename(path)
    if name == "manifest.json":
        inv = _read_manifest(backend, loc, path)
    elif name == "symlink.txt":
        inv = _read_hive(backend, loc, posixpath.dirname(path))
    elif _HIVE_DIR.match(name):
        inv = _read_hive(backend, loc, path)
    else:
        inv = _resolve(backend, loc, path, source_bucket, depth=0)
    if source_bucket and inv.source_bucket and inv.source_bucket != source_bucket:
        raise InvalidArgument(f"{uri}: the inventory lists bucket {inv.source_bucket!r}, not {source_bucket!r}")
    return inv


def _resolve(backend: Backend, loc: Location, path: str, source_bucket: str | None, depth: int) -> Inventory:
    if depth > 3:
        raise NotFound(f"{backend.uri(path)}: no S3 Inventory manifest found here", path=backend.uri(path))
    if backend.is_file(_join(path, "manifest.json")):
        return _read_manifest(backend, loc, _join(path, "manifest.json"))
    subdirs = _dirs(backend, path)
    dated = [d for d in subdirs if _DATE_DIR.match(d)]
    for d in sorted(dated, reverse=True):  # ISO names sort by date; an unfinished one has no manifest yet
        if backend.is_file(_join(path, f"{d}/manifest.json")):
            return _read_manifest(backend, loc, _join(path, f"{d}/manifest.json"))
    if "hive" in subdirs:
        hive = [d for d in _dirs(backend, _join(path, "hive")) if _HIVE_DIR.match(d)]
        if hive:
            return _read_hive(backend, loc, _join(path, f"hive/{max(hive)}"))
    if source_bucket and source_bucket in subdirs:
        return _resolve(backend, loc, _join(path, source_bucket), source_bucket, depth + 1)
    # A folder of configurations (or of source buckets): the newest snapshot among them.
    found: list[Inventory] = []
    for d in subdirs:
        try:
            found.append(_resolve(backend, loc, _join(path, d), source_bucket, depth + 1))
        except NotFound:
            continue
    if source_bucket:
        found = [i for i in found if i.source_bucket in (None, source_bucket)]
    if not found:
        raise NotFound(f"{backend.uri(path)}: no S3 Inventory manifest found here", path=backend.uri(path))
    return max(found, key=lambda i: i.date)


def _data_uri(loc: Location, bucket: str | None, key: str) -> str:
    if loc.is_local:
        return str(Location(loc.scheme, "", "/" + key.lstrip("/")))
    return str(Location(loc.scheme, bucket or loc.bucket, key.lstrip("/")))


def _read_manifest(backend: Backend, loc: Location, path: str) -> Inventory:
    uri = backend.uri(path)
    try:
        manifest = json.loads(backend.read_bytes(path))
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptData(f"{uri}: not a readable inventory manifest ({e})", path=uri) from e
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise CorruptData(f"{uri}: an inventory manifest needs a 'files' list", path=uri)
    fmt = str(manifest.get("fileFormat") or "").lower()
    if fmt not in ("csv", "parquet", "orc"):
        raise FormatError(f"{uri}: unknown inventory fileFormat {manifest.get('fileFormat')!r}", path=uri)
    columns = parse_schema(str(manifest.get("fileSchema") or ""), fmt)
    if fmt == "csv" and "key" not in columns:
        raise CorruptData(f"{uri}: the CSV fileSchema names no Key column", path=uri)
    dest = _bucket_of(manifest.get("destinationBucket"))
    if loc.is_local:
        files = [str(Location(loc.scheme, "", _local_data(path, f["key"]))) for f in manifest["files"]]
    else:
        # Data files live in the destination bucket, reached under the manifest's scheme (endpoint, credentials).
        files = [_data_uri(loc, dest or loc.bucket, f["key"]) for f in manifest["files"]]
    stamp = manifest.get("creationTimestamp")
    if stamp:
        date = _dt.datetime.fromtimestamp(int(stamp) / 1000, _dt.UTC)
    else:
        date = _date_from_dir(posixpath.basename(posixpath.dirname(path)))
    return Inventory(posixpath.dirname(uri), manifest.get("sourceBucket"), date, fmt, columns, files)


def _local_data(manifest_path: str, key: str) -> str:
    """A data file of a local copy of the layout: keys are relative to the destination bucket's root."""
    config = posixpath.dirname(posixpath.dirname(manifest_path))
    key_config = posixpath.dirname(posixpath.dirname(key.strip("/")))  # <prefix>/<source>/<config> of the key
    if key_config and (config == key_config or config.endswith("/" + key_config)):
        return config[: len(config) - len(key_config)].rstrip("/") + "/" + key.strip("/")
    return f"{config}/data/{posixpath.basename(key)}"


def _date_from_dir(name: str) -> _dt.datetime:
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})-(\d{2})Z)?$", name)
    if m:
        y, mo, d, h, mi = (int(x) if x else 0 for x in m.groups())
        return _dt.datetime(y, mo, d, h, mi, tzinfo=_dt.UTC)
    m = _HIVE_DIR.match(name)
    if m:
        return _dt.datetime(*(int(x) for x in m.groups()), tzinfo=_dt.UTC)
    return _dt.datetime.fromtimestamp(0, _dt.UTC)


def _read_hive(backend: Backend, loc: Location, folder: str) -> Inventory:
    """A hive ``dt=`` folder: ``symlink.txt`` lists the data files (Parquet/ORC: self-describing)."""
    uri = backend.uri(_join(folder, "symlink.txt"))
    text = backend.read_bytes(_join(folder, "symlink.txt")).decode("utf-8")
    files = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        target = Location.parse(line)
        files.append(str(Location(loc.scheme, target.bucket, target.path)) if not loc.is_local else line)
    exts = {posixpath.basename(f).lower().rsplit(".", 2)[-1] for f in files}
    if exts & {"gz", "csv"}:
        raise FormatError(f"{uri}: CSV inventories need their manifest.json (it holds the column names)", path=uri)
    fmt = "orc" if exts == {"orc"} else "parquet"
    # <config>/hive/dt=... : the source bucket is two folders up from the config folder
    config = posixpath.dirname(posixpath.dirname(folder))
    source = posixpath.basename(posixpath.dirname(config)) or None
    return Inventory(backend.uri(folder), source, _date_from_dir(posixpath.basename(folder)), fmt, [], files)


# -- find -----------------------------------------------------------------------------------
def _glob_regex(pattern: str, star: str) -> str:
    """A glob as a Rust-regex fragment (``star`` is what ``*`` becomes); everything else escaped."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(star)
        elif c == "?":
            out.append(star[:-1] if star.endswith("*") else ".")
        elif c == "[":
            j = i
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(r"\x{5B}")
                continue
            body = pattern[i:j]
            i = j + 1
            neg = body[:1] in ("!", "^")
            body = body[1:] if neg else body
            parts = []
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    parts.append(f"{_esc(body[k])}-{_esc(body[k + 2])}")
                    k += 3
                else:
                    parts.append(_esc(body[k]))
                    k += 1
            out.append("[" + ("^" if neg else "") + "".join(parts) + "]")
        else:
            out.append(_esc(c))
    return "".join(out)


def _esc(c: str) -> str:
    return c if c.isalnum() or c in "_/" or ord(c) > 127 else f"\\x{{{ord(c):X}}}"


def _any_of(values: Any, norm: Callable[[str], str]) -> list[str] | None:
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    if not items:
        raise InvalidArgument("an empty list of values matches nothing")
    return [norm(str(v)) for v in items]


def inventory_filter(
    crit: Any, prefix: str, *, etag: Any = None, storage_class: Any = None, max_depth: int | None = None
) -> Any:
    """The polars predicate for ``crit`` (a :class:`~storecore.search.criteria.Criteria`) on a ``below(prefix)`` frame."""
    pl = _pl()
    preds = []
    if crit.name:
        preds.append(
            pl.any_horizontal([pl.col("key").str.contains("(^|/)" + _glob_regex(p, "[^/]*") + "$") for p in crit.name])
        )
    if crit.path:
        preds.append(
            pl.any_horizontal([pl.col("rel").str.contains("^" + _glob_regex(p, "(?s:.*)") + "$") for p in crit.path])
        )
    if crit.min_size is not None:
        preds.append(pl.col("size") >= crit.min_size)
    if crit.max_size is not None:
        preds.append(pl.col("size") <= crit.max_size)
    if crit.modified_after is not None:
        when = _dt.datetime.fromtimestamp(crit.modified_after, _dt.UTC)
        preds.append(pl.col("last_modified") > pl.lit(when).dt.cast_time_unit("ms"))
    if max_depth is not None:
        preds.append(pl.col("rel").str.count_matches("/", literal=True) < max_depth)
    tags = _any_of(etag, lambda t: t.strip('"').lower())
    if tags is not None:
        preds.append(pl.col("etag").str.strip_chars('"').str.to_lowercase().is_in(tags))
    classes = _any_of(storage_class, str.upper)
    if classes is not None:
        preds.append(pl.col("storage_class").str.to_uppercase().is_in(classes))
    return pl.all_horizontal(preds) if preds else None


def find_in_inventory(
    inventory: str | Location | Inventory,
    loc: Location,
    crit: Any,
    *,
    etag: Any = None,
    storage_class: Any = None,
    max_depth: int | None = None,
    cancel: Callable[[], bool] | None = None,
    stats: Any = None,
    make_match: Callable[..., Any] = tuple,
) -> Iterator[Any]:
    """``find`` answered from an inventory: the files below ``loc`` that fit ``crit`` (no request to ``loc``'s bucket).

    Bad criteria raise at once; the inventory is opened on the first ``next()``.
    ``make_match(uri, kind, rel, size, mtime)`` builds each result (``find`` passes its ``Match``).
    """
    if loc.inner is not None:
        raise InvalidArgument(f"{loc}: an inventory lists objects; search inside containers without inventory=")
    if "file" not in crit.kinds:
        raise InvalidArgument("an inventory lists files (objects): use kind='file' or search without inventory=")
    if crit.attrs or crit.shape is not None or crit.dtype is not None:
        raise InvalidArgument(
            "an inventory answers names, paths, sizes, dates, ETags and storage classes; "
            "dtype, shape and attrs need a search without inventory="
        )
    if loc.is_local:
        raise InvalidArgument(f"{loc}: inventories describe S3 buckets, not local folders")
    pred = inventory_filter(crit, loc.path.strip("/"), etag=etag, storage_class=storage_class, max_depth=max_depth)
    return _stream_matches(inventory, loc, crit, pred, cancel, stats, make_match)


def _stream_matches(
    inventory: Any,
    loc: Location,
    crit: Any,
    pred: Any,
    cancel: Callable[[], bool] | None,
    stats: Any,
    make_match: Callable[..., Any],
) -> Iterator[Any]:
    pl = _pl()
    inv = inventory if isinstance(inventory, Inventory) else open_inventory(inventory, loc.bucket)
    if stats is not None:
        stats.inventory_date = inv.date
    root = loc.path.strip("/")
    lf = inv.below(root)
    if pred is not None:
        lf = lf.filter(pred)
    lf = lf.select("key", "rel", "size", "last_modified")
    for batch in lf.collect_batches(chunk_size=BATCH_ROWS):
        if cancel is not None and cancel():
            if stats is not None:
                stats.cancelled = True
            return
        if stats is not None:
            stats.pages += 1
            stats.entries += batch.height
        stamps = batch.get_column("last_modified").dt.epoch("ms").cast(pl.Float64) / 1000.0
        for key, rel, size, ts in zip(
            batch.get_column("key"), batch.get_column("rel"), batch.get_column("size"), stamps, strict=True
        ):
            name = key.rsplit("/", 1)[-1]
            if crit.name and not any(fnmatch.fnmatchcase(name, p) for p in crit.name):
                continue
            if stats is not None:
                stats.matches += 1
            yield make_match(str(Location(loc.scheme, loc.bucket, key)), "file", rel, size, ts)


# -- compare --------------------------------------------------------------------------------
def _side_frame(
    uri: str | Location, inventory: Any, cancel: Callable[[], bool] | None, list_files: Callable[..., Any]
) -> tuple[Any, Backend, Location, Inventory | None]:
    """``rel, size, etag, key, mtime`` of one side: from its inventory, or listed (when ``inventory`` is None)."""
    pl = _pl()
    loc = Location.parse(uri)
    if loc.inner is not None:
        raise InvalidArgument(f"{loc}: compare works on files and folders, not on container nodes")
    backend, loc = backend_for(loc)
    if inventory is not None:
        inv = inventory if isinstance(inventory, Inventory) else open_inventory(inventory, loc.bucket)
        lf = inv.below(loc.path.strip("/")).filter(pl.col("rel") != "")
        df = lf.select(
            "rel", "size", "etag", "key", mtime=pl.col("last_modified").dt.epoch("ms").cast(pl.Float64) / 1000.0
        ).collect()
        return df, backend, loc, inv
    rows: dict[str, list[Any]] = {"rel": [], "size": [], "etag": [], "key": [], "mtime": []}
    try:
        root = backend.stat(loc.path)
    except NotFound:
        root = None
    if root is not None and not root.is_dir:
        raise InvalidArgument(f"{loc}: comparing with an inventory works on folders/prefixes, not single files")
    if root is not None:
        for rel, e in list_files(backend, loc, cancel):
            rows["rel"].append(rel)
            rows["size"].append(e.size)
            rows["etag"].append(e.etag)
            rows["key"].append(e.path)
            rows["mtime"].append(e.mtime)
    schema = {"rel": pl.String, "size": pl.Int64, "etag": pl.String, "key": pl.String, "mtime": pl.Float64}
    return pl.DataFrame(rows, schema=schema), backend, loc, None


def compare_with_inventories(
    a_uri: Any,
    b_uri: Any,
    deep: bool = False,
    *,
    include_same: bool = True,
    cancel: Callable[[], bool] | None = None,
    inventory_a: Any = None,
    inventory_b: Any = None,
    make_entry: Callable[..., Any] = tuple,
    same_content: Callable[..., bool] | None = None,
    list_files: Callable[..., Any] | None = None,
) -> Iterator[Any]:
    """``compare`` with either side (or both) listed from an inventory: pairs joined in polars.

    Yields A's files in inventory/listing order, then B's leftovers sorted.
    With ``deep``, plain-MD5 ETags are compared from the inventories; other
    equal-size pairs are hashed from storage (the only requests made).  ``compare`` passes its
    ``CompareEntry`` (``make_entry``), ``same_content`` and the listing of a side without inventory.
    """
    pl = _pl()
    a, ab, al, ainv = _side_frame(a_uri, inventory_a, cancel, list_files)
    b, bb, bl, _ = _side_frame(b_uri, inventory_b, cancel, list_files)
    if a.height == 0:
        raise NotFound(f"{al}: nothing there" + (f" (inventory as of {ainv.as_of})" if ainv else ""), path=str(al))
    joined = (
        a.with_row_index("order")
        .join(b, on="rel", how="full", coalesce=True, suffix="_b")
        .with_columns(order=pl.col("order").fill_null(pl.len() + 1))
        .sort("order", "rel")
    )

    def child(loc: Location, rel: str) -> str:
        return str(loc.join(rel)) if rel else str(loc)

    for row in joined.iter_rows(named=True):
        if cancel is not None and cancel():
            raise Cancelled(f"compare of {al} and {bl} cancelled")
        rel = row["rel"]
        a_uri_s, b_uri_s = child(al, rel), child(bl, rel)
        if row["key"] is None:
            yield make_entry(rel, "only_b", a_uri_s, b_uri_s, None, row["size_b"])
            continue
        if row["key_b"] is None:
            yield make_entry(rel, "only_a", a_uri_s, b_uri_s, row["size"], None)
            continue
        if row["size"] != row["size_b"]:
            yield make_entry(rel, "differ", a_uri_s, b_uri_s, row["size"], row["size_b"], "size")
            continue
        if deep and not _same(row, ab, bb, same_content):  # type: ignore[arg-type]
            yield make_entry(rel, "differ", a_uri_s, b_uri_s, row["size"], row["size_b"], "checksum")
            continue
        if include_same:
            yield make_entry(rel, "same", a_uri_s, b_uri_s, row["size"], row["size_b"])


def _same(row: dict[str, Any], ab: Backend, bb: Backend, same_content: Callable[..., bool]) -> bool:
    ea = (row["etag"] or "").strip('"').lower()
    eb = (row["etag_b"] or "").strip('"').lower()
    if ea and ea == eb:
        return True
    if _MD5_RE.match(ea) and _MD5_RE.match(eb):
        return False
    a = Entry(row["key"], posixpath.basename(row["key"]), row["size"], row["mtime"], row["etag"], False)
    b = Entry(row["key_b"], posixpath.basename(row["key_b"]), row["size_b"], row["mtime_b"], row["etag_b"], False)
    return same_content(ab, a, bb, b)


# -- ls ---------------------------------------------------------------------------------------
def ls_rows(
    inventory: Any, uri: str | Location, *, recursive: bool = False
) -> tuple[Inventory, Iterable[dict[str, Any]]]:
    """Rows for ``ls`` from an inventory: ``name, is_dir, size, mtime, etag, files`` (folders carry du totals)."""
    pl = _pl()
    loc = Location.parse(uri)
    backend, loc = backend_for(loc)
    inv = inventory if isinstance(inventory, Inventory) else open_inventory(inventory, loc.bucket)
    root = loc.path.strip("/")

    def rows() -> Iterator[dict[str, Any]]:
        if recursive:
            lf = inv.below(root).select(
                "rel", "key", "size", "etag", mtime=pl.col("last_modified").dt.epoch("ms").cast(pl.Float64) / 1000.0
            )
            for batch in lf.collect_batches(chunk_size=BATCH_ROWS):
                for r in batch.iter_rows(named=True):
                    yield {
                        "name": r["rel"],
                        "uri": str(Location(loc.scheme, loc.bucket, r["key"])),
                        "is_dir": False,
                        "size": r["size"],
                        "mtime": r["mtime"],
                        "etag": r["etag"],
                        "files": 1,
                    }
            return
        df = inv.children(root)
        for r in df.iter_rows(named=True):
            if not r["name"]:
                continue
            mtime = r["last_modified"].timestamp() if r["last_modified"] is not None else None
            key = f"{root}/{r['name']}" if root else r["name"]
            yield {
                "name": r["name"],
                "uri": str(Location(loc.scheme, loc.bucket, key)),
                "is_dir": r["is_dir"],
                "size": r["size"],
                "mtime": mtime,
                "etag": None,
                "files": r["files"],
            }

    return inv, rows()


def cli_ls(
    args: Any,
    out: Any,
    err: Any,
    size: Callable[[Any], str],
    date: Callable[[Any], str],
    printable: Callable[[str], str] = str,
) -> int:
    """``storescope ls --inventory URI [-r] PREFIX``: keys (or one level with du totals) and an "as of" summary.

    ``printable`` escapes control characters in names (the command line's).
    """
    inv, rows = ls_rows(args.inventory, args.uri, recursive=args.recursive)
    files = total = 0
    for r in rows:
        files += r["files"]
        total += r["size"] or 0
        if args.json:
            print(json.dumps(r, default=str), file=out)
        else:
            print(
                f"{size(r['size']):>12}  {date(r['mtime']):<16}  {printable(r['name'])}{'/' if r['is_dir'] else ''}",
                file=out,
            )
    print(f"{files} file(s), {size(total)} bytes in total, from the inventory as of {inv.as_of}", file=err)
    return 0
