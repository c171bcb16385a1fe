"""The command line: ``storescope ls|info|cat|cp|mv|rm|find|compare`` (also ``python -m storecore``).

Every subcommand takes local paths and URIs (``s3://bucket/key``,
``memory://store/key``, ``run.h5::/entry/data`` for container nodes).  Exit
codes: 0 success, 1 runtime error (one readable line on stderr, never a
traceback), 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from .logs import describe

logger = logging.getLogger(__name__)

COMMANDS: set[str] = {"ls", "info", "cat", "cp", "mv", "rm", "find", "compare"}

PROG = "storescope"

S3_HELP = """\
S3-compatible endpoints:
  s3://bucket/key uses the usual AWS chain for credentials (AWS_ACCESS_KEY_ID /
  AWS_SECRET_ACCESS_KEY, ~/.aws, --profile).  For MinIO, SeaweedFS, Ceph... give
  the endpoint with --endpoint-url URL (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL
  in the environment), or name it: --scheme minio=http://127.0.0.1:9000 then use
  minio://bucket/key.  Put these options after the command name, e.g.
  storescope ls --endpoint-url http://127.0.0.1:9000 s3://bucket/
"""


class UsageError(Exception):
    """A bad command line detected after parsing (exit code 2)."""


# -- parser --------------------------------------------------------------------------------
def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("S3 options")
    g.add_argument("--endpoint-url", metavar="URL", default=argparse.SUPPRESS, help="endpoint for s3:// URIs (MinIO, SeaweedFS, ...)")
    g.add_argument("--profile", metavar="NAME", default=argparse.SUPPRESS, help="AWS profile for credentials")
    g.add_argument("--region", metavar="NAME", default=argparse.SUPPRESS, help="S3 region")
    g.add_argument(
        "--scheme",
        metavar="NAME=URL",
        action="append",
        default=argparse.SUPPRESS,
        help="serve NAME://bucket/key from the S3 endpoint URL (repeatable)",
    )
    return p


#: adds one subcommand: (name, one-line help, description) -> its parser, which takes the arguments
_AddCommand = Callable[[str, str, str], argparse.ArgumentParser]


def build_parser() -> argparse.ArgumentParser:
    """The ``storescope`` subcommand parser."""
    common = _common()
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Browse and move data on local disks, S3-compatible stores, Zarr and HDF5 from the shell.",
        epilog=S3_HELP + "\nRun 'storescope COMMAND --help' for each command; 'storescope [URI...]' opens the window.",
        formatter_class=fmt,
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=description, epilog=S3_HELP, formatter_class=fmt, parents=[common])

    for add_command in (
        _add_ls_command,
        _add_info_command,
        _add_cat_command,
        _add_transfer_commands,
        _add_rm_command,
        _add_find_command,
        _add_compare_command,
    ):
        add_command(add)
    return parser


def _add_ls_command(add: _AddCommand) -> None:
    """``ls``: list a folder, prefix or container group."""
    p = add("ls", "list a folder, prefix or container group", "List a folder/prefix (size, date, name) or the nodes of a container group (kind, shape, dtype).")
    p.add_argument("uri", help="folder, prefix, container or container node")
    p.add_argument("-r", "--recursive", action="store_true", help="list every file below (paths relative to URI)")
    p.add_argument("-H", "--human", action="store_true", help="sizes as 1.5K, 23M, 4.0G")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--inventory", metavar="URI", help="list from this S3 Inventory (newest manifest) instead of the bucket; folders get du totals")
    p.set_defaults(func=cmd_ls)


def _add_info_command(add: _AddCommand) -> None:
    """``info``: show what a URI is."""
    p = add("info", "show what a URI is", "Show a file's size, date and ETag; for containers and their nodes also kind, shape, dtype, chunks, compressor and attributes.")
    p.add_argument("uri")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)


def _add_cat_command(add: _AddCommand) -> None:
    """``cat``: write a file's bytes or a dataset's values to stdout."""
    p = add("cat", "write a file's bytes, or a dataset's values, to stdout",
            "Write the bytes of a file/object to standard output; for a dataset inside a container "
            "(FILE::/path) print its values as text: a scalar as its value, an array as rows (the last axis "
            "across), at most --limit rows (the count left out goes to stderr).")
    p.add_argument("uri")
    p.add_argument("--format", choices=("text", "npy", "csv"), default="text",
                   help="for datasets: text rows (default), .npy bytes or CSV")
    p.add_argument("--limit", type=int, default=None, metavar="ROWS",
                   help=f"rows printed (text: {CAT_TEXT_ROWS} by default; 0 = all; npy/csv: all by default)")
    p.set_defaults(func=cmd_cat)


def _add_transfer_commands(add: _AddCommand) -> None:
    """``cp`` and ``mv``: copy/move between any locations."""
    for name, verb in (("cp", "copy"), ("mv", "move")):
        p = add(
            name,
            f"{verb} files and folders between any locations",
            f"{verb.capitalize()} SRC to DST (DST becomes the {verb}; an existing folder or a DST ending in '/' receives "
            f"SRC inside it).  Several SRC need a folder DST.  Files are verified after transfer; a progress bar shows on a terminal.",
        )
        p.add_argument("src", nargs="+", metavar="SRC")
        p.add_argument("dst", metavar="DST")
        if name == "cp":
            p.add_argument("-r", "--recursive", action="store_true", help="copy folders/prefixes (as POSIX cp -r)")
        p.add_argument("-n", "--no-clobber", action="store_true", help="do not overwrite existing files")
        p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
        p.add_argument("--cluster", metavar="ADDRESS",
                       help="run on a dask cluster (scheduler address, e.g. tcp://scheduler:8786; storescope[cluster])")
        p.set_defaults(func=cmd_transfer, op=verb)


def _add_rm_command(add: _AddCommand) -> None:
    """``rm``: delete files and folders."""
    p = add("rm", "delete files (and folders with -r)", "Delete files; folders/prefixes need -r.")
    p.add_argument("uris", nargs="+", metavar="URI")
    p.add_argument("-r", "--recursive", action="store_true", help="delete folders/prefixes and everything below")
    p.add_argument("-f", "--force", action="store_true", help="ignore missing files")
    p.set_defaults(func=cmd_rm)


def _add_find_command(add: _AddCommand) -> None:
    """``find``: search by name, size, shape, dtype and attributes."""
    p = add(
        "find",
        "search by name, size, shape, dtype and attributes",
        "Search below URI, inside Zarr stores and HDF5 files too (their metadata only).  Criteria combine with AND; "
        "prints one URI per line (or --long / --json).",
    )
    p.add_argument("uri")
    p.add_argument("--name", action="append", metavar="GLOB", help="base name glob, e.g. '*.h5' (repeat: any)")
    p.add_argument("--path", action="append", metavar="GLOB", help="relative path glob, e.g. '*/entry/data'")
    p.add_argument("--kind", action="append", choices=("file", "dir", "group", "array"), help="kind (repeat: any)")
    p.add_argument("--min-size", metavar="SIZE", help="at least SIZE bytes (10k, 5M, 1G)")
    p.add_argument("--max-size", metavar="SIZE", help="at most SIZE bytes")
    p.add_argument("--newer", metavar="DATE", help="modified after DATE (ISO 8601, e.g. 2024-05-01)")
    p.add_argument("--dtype", action="append", metavar="DTYPE", help="array dtype: float32, '<u2', 'int*'")
    p.add_argument("--shape", metavar="PATTERN", help="array shape: '...,2048,2048', '*,3' ('*' one axis, '...' any)")
    p.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE", help="attribute equals VALUE (JSON or glob); KEY alone: present")
    p.add_argument("--no-containers", action="store_true", help="do not look inside Zarr stores and HDF5 files")
    p.add_argument("--max-depth", type=int, metavar="N", help="descend at most N levels")
    p.add_argument("--no-cache", action="store_true", help="list again even if a fresh listing is cached")
    p.add_argument("--inventory", metavar="URI", help="search this S3 Inventory (newest manifest) instead of listing the bucket")
    p.add_argument("--etag", action="append", metavar="ETAG", help="object ETag (needs --inventory; repeat: any)")
    p.add_argument("--storage-class", action="append", metavar="CLASS", help="storage class, e.g. GLACIER (needs --inventory)")
    p.add_argument("-l", "--long", action="store_true", help="kind, size, shape, dtype and matching attributes too")
    p.add_argument("--json", action="store_true", help="one JSON object per match and line")
    p.set_defaults(func=cmd_find)


def _add_compare_command(add: _AddCommand) -> None:
    """``compare``: compare two folders/prefixes."""
    p = add(
        "compare",
        "compare two folders/prefixes (rclone check style)",
        "Pair the files below A and B by relative path: only_a, only_b, differ (size; checksum with --deep).  "
        "Prints the differences; a summary goes to stderr.",
    )
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--deep", action="store_true", help="compare equal-size files by ETag/checksum")
    p.add_argument("--all", action="store_true", help="also print files that are the same")
    p.add_argument("--json", action="store_true", help="one JSON object per path and line")
    p.add_argument("--exit-code", action="store_true", help="exit with 3 when differences are found")
    p.add_argument("--inventory", "--inventory-a", dest="inventory_a", metavar="URI", help="list A from this S3 Inventory")
    p.add_argument("--inventory-b", metavar="URI", help="list B from this S3 Inventory")
    p.set_defaults(func=cmd_compare)


# -- S3 set-up -----------------------------------------------------------------------------
def configure_s3(args: argparse.Namespace, environ: dict[str, str] | None = None) -> None:
    """Register endpoints given by options or the environment (``--scheme``, ``--endpoint-url``...)."""
    import storecore

    env = os.environ if environ is None else environ
    extra: dict[str, Any] = {}
    if getattr(args, "profile", None):
        extra["profile_name"] = args.profile
    if getattr(args, "region", None):
        extra["region_name"] = args.region
    endpoint = getattr(args, "endpoint_url", None) or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint or extra:
        storecore.register_scheme("s3", "s3", **({"endpoint_url": endpoint} if endpoint else {}), **extra)
    for item in getattr(args, "scheme", None) or []:
        name, sep, url = item.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise UsageError(f"--scheme wants NAME=http(s)://host:port, not {item!r}")
        storecore.register_scheme(name, "s3", endpoint_url=url, **extra)


# -- helpers -------------------------------------------------------------------------------
def human(n: int | None) -> str:
    """Bytes as ``1.5K``, ``23M``... (``-`` for unknown)."""
    if n is None:
        return "-"
    size = float(n)
    for unit in ("", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            return f"{int(size)}" if unit == "" else f"{size:.1f}{unit}"
        size /= 1024
    return str(n)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``, ``\\n``...): a key or file name must not drive the
    terminal or break a line.  Only text output uses it; ``--json`` keeps names exact."""
    return _CONTROL.sub(_escape, text)


def _date(ts: float | None) -> str:
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _out() -> IO[str]:
    return sys.stdout


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, default=str), file=_out())


def _is_container_uri(uri: str) -> bool:
    from .detect import detect_format
    from .location import Location

    loc = Location.parse(uri)
    return loc.inner is not None or detect_format(loc) is not None


# -- commands ------------------------------------------------------------------------------
def _ls_rel(backend: Any, loc: Any, entry: Any) -> str:
    """An entry's path relative to the listed folder.  Object keys are data: a key with '.', '..' or empty
    segments is shown as it is stored (normalising it would name another object, or fail)."""
    if loc.is_local:
        return os.path.relpath(entry.path, loc.path).replace(os.sep, "/")
    root = loc.path.rstrip("/")
    return entry.path[len(root) + 1 :] if root and entry.path.startswith(root + "/") else entry.path


def _ls_suffix(node: Any) -> str:
    """What follows a container member's name in ``ls``: ``/`` for a group, a link's target, why it is broken."""
    if node.kind == "group":
        return "/"
    if node.kind != "link":
        return ""
    broken = node.broken
    error = getattr(node, "error", None) if broken else None  # why: a missing file, unreadable metadata...
    why = f": {printable(str(error).splitlines()[0])}" if error else ""
    target = node.link_target
    if not target:
        return f"  (unreadable{why})" if broken else ""
    return f" -> {printable(str(target))}" + (f" (broken{why})" if broken else "")


def cmd_ls(args: argparse.Namespace) -> int:
    """List a folder/prefix, or the children of a container group."""
    import storecore

    size = human if args.human else (lambda n: "-" if n is None else str(n))
    if getattr(args, "inventory", None):
        from .search.inventory import cli_ls

        return cli_ls(args, _out(), sys.stderr, size, _date, printable)
    if _is_container_uri(args.uri) and not args.recursive:
        with storecore.open_container(args.uri) as node:
            if node.kind != "group":
                node_list = [node]
            else:
                node_list = sorted(node.children(), key=lambda n: n.name)
            for child in node_list:
                info = child.info()
                if args.json:
                    _print_json(info)
                    continue
                shape = "x".join(str(s) for s in child.shape) if child.shape is not None else ""
                dtype = str(child.dtype) if child.dtype is not None else ""
                print(f"{child.kind:<6} {shape:>16} {dtype:<10} {printable(child.name)}{_ls_suffix(child)}",
                      file=_out())
        return 0
    backend, loc = storecore.backend_for(args.uri)
    entry = backend.stat(loc.path)
    if not entry.is_dir:
        entries = [(loc.name, entry)]
    elif args.recursive:
        entries = ((_ls_rel(backend, loc, e), e) for e in backend.ls(loc.path, recursive=True))
    else:
        entries = sorted(((e.name, e) for e in backend.ls(loc.path)), key=lambda t: t[0])
    for name, e in entries:
        if args.json:
            _print_json({"name": name, "uri": backend.uri(e.path) if not loc.is_local else e.path, "is_dir": e.is_dir,
                         "size": e.size, "mtime": e.mtime, "etag": e.etag})
        else:
            print(f"{size(e.size):>12}  {_date(e.mtime):<16}  {printable(name)}{'/' if e.is_dir else ''}", file=_out())
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Stat a URI; describe containers and container nodes from their metadata."""
    import storecore

    loc = storecore.Location.parse(args.uri)
    backend, _ = storecore.backend_for(loc.outer)
    entry = backend.stat(loc.path)
    info: dict[str, Any] = {
        "uri": str(loc),
        "kind": "dir" if entry.is_dir else "file",
        "size": entry.size,
        "mtime": entry.mtime,
        "modified": _dt.datetime.fromtimestamp(entry.mtime).isoformat(timespec="seconds") if entry.mtime else None,
        "etag": entry.etag,
    }
    if _is_container_uri(args.uri):
        with storecore.open_container(args.uri) as node:
            info["container"] = node.info()
            info["container"]["attrs"] = node.attrs
            if node.kind == "group":
                info["container"]["children"] = sorted(c.name for c in node.children())
            if loc.inner is not None:
                info["uri"], info["kind"] = node.uri, node.kind
    if args.json:
        _print_json(info)
        return 0
    out = _out()
    for key in ("uri", "kind", "size", "modified", "etag"):
        if info.get(key) is not None:
            print(f"{key + ':':<12}{info[key]}", file=out)
    cont = info.get("container")
    if cont:
        for key in ("kind", "shape", "dtype", "chunks", "compressor", "filters", "fill_value", "nbytes", "link_target"):
            if cont.get(key) not in (None, [], ""):
                print(f"{'node ' + key + ':':<12}{cont[key]}" if key == "kind" else f"{key + ':':<12}{cont[key]}", file=out)
        for warning in cont.get("warnings") or []:
            print(f"{'warning:':<12}{printable(warning)}", file=out)
        if cont.get("children"):
            print(f"{'children:':<12}{', '.join(cont['children'])}", file=out)
        for k, v in (cont.get("attrs") or {}).items():
            print(f"{'@' + k + ':':<12}{json.dumps(v, default=str)}", file=out)
    return 0


#: rows ``storescope cat FILE::/dataset`` prints as text unless --limit says otherwise
CAT_TEXT_ROWS = 1000
#: values across printed per row by default as text (the last axis; a wider array's rest is left out, and said)
CAT_TEXT_COLUMNS = 1000
#: bytes read at once for ``cat``'s rows: the leading axis is read in whole slabs while they fit, row by row beyond
CAT_READ_BYTES = 64 * 1024 * 1024


def _cat_rows(node: Any, limit: int | None, columns: int | None = None) -> tuple[Any, int]:
    """The first ``limit`` rows of ``node`` (a 2-d view: the last axis across, its first ``columns`` values) and how
    many rows it has in all.

    Only what those rows hold is read: whole leading slabs while one fits in :data:`CAT_READ_BYTES`, else the rows
    of each slab, so that a few rows of a huge sparse array stay a few rows.
    """
    import math

    import numpy as np

    shape = tuple(node.shape)
    if len(shape) <= 1:
        total = shape[0] if shape else 1
        take = total if limit is None else min(limit, total)
        data = np.asarray(node.read_slice((slice(0, take),)) if shape else node.read_slice(()))
        return data.reshape(-1, 1), total
    across = shape[-1] if columns is None else min(columns, shape[-1])
    itemsize = max(1, np.dtype(node.dtype).itemsize) if getattr(node, "dtype", None) is not None else 8
    total = math.prod(shape[:-1])
    take = total if limit is None else min(limit, total)

    def first_rows(prefix: tuple[int, ...], lead: tuple[int, ...], n: int) -> list[Any]:
        """The first ``n`` rows below index ``prefix`` (``lead``: the leading axes still to walk)."""
        per = math.prod(lead[1:])
        slabs = math.ceil(n / per) if per else 0
        if len(lead) == 1 or slabs * per * across * itemsize <= CAT_READ_BYTES:
            where = (*prefix, slice(0, slabs), *(slice(None) for _ in lead[1:]), slice(0, across))
            return [np.asarray(node.read_slice(where)).reshape(-1, across)[:n]]
        out: list[Any] = []
        for i in range(slabs):
            out += first_rows((*prefix, i), lead[1:], min(per, n - i * per))
        return out

    pieces = first_rows((), shape[:-1], take) if take else []
    data = np.concatenate(pieces) if pieces else np.empty((0, across), dtype=node.dtype)
    return data, total


def _cat_node(loc: Any, args: argparse.Namespace) -> int:
    """``cat FILE::/dataset``: the values as text rows, CSV or .npy bytes."""
    import csv

    import numpy as np

    from .containers import open_container
    from .containers.values import format_value
    from .errors import InvalidArgument

    node = open_container(str(loc))
    if node.kind == "link":
        if node.broken:
            raise InvalidArgument(f"{loc}: a broken link (to {node.link_target})")
        node = node.target()
    if node.kind != "array":
        raise InvalidArgument(f"{loc}: a group has no values; use 'storescope ls' or 'storescope info'")
    labels = node.enum_labels
    if args.format == "npy":
        data = np.asarray(node.read_slice(()) if not node.shape else
                          (node.read_slice((slice(0, args.limit),)) if args.limit else node.read_slice()))
        # Built in memory, then written: np.save asks a pipe for its position, which fails on some streams.
        buf = io.BytesIO()
        np.save(buf, data, allow_pickle=False)
        sys.stdout.buffer.write(buf.getbuffer())
        sys.stdout.buffer.flush()
        return 0
    limit = args.limit if args.limit is not None else (None if args.format == "csv" else CAT_TEXT_ROWS)
    limit = None if limit == 0 else limit
    if node.shape is not None and 0 in tuple(node.shape):
        print(f"{loc}: empty ({'×'.join(map(str, node.shape))})", file=sys.stderr)
        return 0
    if not node.shape:  # a scalar: its value
        value = node.read_slice(())
        print(format_value(value, enum_labels=labels))
        return 0
    columns = CAT_TEXT_COLUMNS if args.format == "text" and limit is not None and len(node.shape) > 1 else None
    rows, total = _cat_rows(node, limit, columns)
    names = rows.dtype.names
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        if names:
            writer.writerow(names)
        for row in rows:
            cells = [v[n] for v in row for n in names] if names else list(row)
            writer.writerow([format_value(c, enum_labels=labels) for c in cells])
    else:
        for row in rows:
            print("\t".join(format_value(v, enum_labels=labels) for v in row))
    left = total - len(rows)
    if left > 0:
        print(f"… {left:,} more row{'s' if left != 1 else ''} left out (of {total:,}); "
              f"--limit 0 prints all, --format npy writes the whole array", file=sys.stderr)
    if columns is not None and node.shape[-1] > columns:
        print(f"… {node.shape[-1] - columns:,} more values across left out of each row (of {node.shape[-1]:,}); "
              f"--format csv or npy writes them", file=sys.stderr)
    return 0


def cmd_cat(args: argparse.Namespace) -> int:
    """Stream a file's bytes to stdout; print a container dataset's values."""
    import storecore

    from .errors import InvalidArgument

    backend, loc = storecore.backend_for(args.uri)
    if loc.inner is not None:
        return _cat_node(loc, args)
    if args.format != "text":
        raise InvalidArgument(f"{loc}: --format is for datasets inside containers (FILE::/path)")
    out = sys.stdout.buffer
    backend.read_to(loc.path, out)
    out.flush()
    return 0


class ProgressBar:
    """A one-line progress bar on stderr: percentage, bytes, rate and files."""

    def __init__(self, stream: IO[str], enabled: bool) -> None:
        self.stream, self.enabled = stream, enabled
        self.start = time.monotonic()
        self.shown = False

    def update(self, done: int, total: int | None, files_done: int = 0, files_total: int | None = None) -> None:
        """Redraw the bar (call as often as you like: it is cheap)."""
        if not self.enabled:
            return
        width = 30
        frac = (done / total) if total else None
        bar = "#" * int(width * frac) if frac is not None else ""
        pct = f"{100 * frac:5.1f}%" if frac is not None else "  ...  "
        rate = done / max(1e-6, time.monotonic() - self.start)
        files = f"  {files_done}/{files_total if files_total is not None else '?'} files"
        text = f"\r[{bar:<{width}}] {pct} {human(done)}/{human(total)} {human(int(rate))}/s{files}"
        self.stream.write(text)
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """End the line."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _destination(src_loc: Any, dst: str, many: bool) -> str:
    """POSIX cp/mv naming: into an existing folder (or 'dst/'), else DST becomes the copy."""
    import storecore

    from .errors import NotADirectory, NotFound

    dbackend, dloc = storecore.backend_for(dst)
    try:
        dentry = dbackend.stat(dloc.path)
    except NotFound:
        dentry = None
    into = dst.endswith("/") or (dentry is not None and dentry.is_dir)
    if many and not into:
        raise NotADirectory(f"{dst}: target is not a folder (several sources given)", path=dst)
    return str(dloc.join(src_loc.name)) if into else str(dloc)


def cmd_transfer(args: argparse.Namespace) -> int:
    """cp / mv through the transfer queue (verified, parallel, with progress)."""
    import storecore
    from storecore.transfer import TransferQueue

    from .errors import IsADirectory

    plans: list[tuple[str, str]] = []
    for src in args.src:
        sbackend, sloc = storecore.backend_for(src)
        sentry = sbackend.stat(sloc.path) if sloc.inner is None else None
        if args.op == "copy" and sentry is not None and sentry.is_dir and not args.recursive:
            raise IsADirectory(f"{src}: is a folder (use cp -r)", path=src)
        plans.append((str(sloc), _destination(sloc, args.dst, len(args.src) > 1)))
    bar = ProgressBar(sys.stderr, (sys.stderr.isatty() or args.progress) and not args.quiet)
    queue = TransferQueue(history=False, cluster=getattr(args, "cluster", None))
    started = time.monotonic()
    try:
        jobs = [queue.submit(s, d, op=args.op, conflict="skip" if args.no_clobber else "overwrite") for s, d in plans]

        def redraw(_job: Any = None) -> None:
            snaps = [j.progress for j in jobs]
            totals = [p.bytes_total for p in snaps]
            ftotals = [p.files_total for p in snaps]
            bar.update(
                sum(p.bytes_done for p in snaps),
                None if None in totals else sum(t or 0 for t in totals),
                sum(p.files_done for p in snaps),
                None if None in ftotals else sum(t or 0 for t in ftotals),
            )

        queue.add_listener(on_progress=redraw)
        for job in jobs:
            job.wait()
        redraw()
    except KeyboardInterrupt:
        queue.cancel_all()
        raise
    finally:
        bar.close()
        queue.close(timeout=5)
    failed = [j for j in jobs if j.state.value != "done"]
    counts = [j.summary() for j in jobs]
    if not args.quiet:
        nbytes = sum(c.get("bytes", 0) for c in counts)
        files = sum(c.get("verified", 0) for c in counts)  # files that failed were not copied
        verb = "copied" if args.op == "copy" else "moved"
        line = f"{verb} {files} file(s), {human(nbytes)}B in {time.monotonic() - started:.1f} s"
        skipped, nfailed = sum(c.get("skipped", 0) for c in counts), sum(c.get("failed", 0) for c in counts)
        if skipped:
            line += f"; {skipped} skipped"
        if nfailed:
            line += f"; {nfailed} FAILED"
        print(line, file=sys.stderr)
        for j in jobs:  # what was skipped for a reason (a link, a name the destination cannot hold) says why
            for r in j.report():
                if r.status == "skipped" and r.error:
                    print(f"{PROG}: skipped {printable(r.source)}: {printable(r.error)}", file=sys.stderr)
    if failed:
        for j in failed:
            why = printable(j.error or j.state.value)
            print(f"{PROG}: {args.op} failed: {printable(j.source)} -> {printable(j.destination)}: {why}",
                  file=sys.stderr)
        return 1
    return 0


def _dot_segment(uri: str) -> bool:
    """True when ``uri`` has a ``..`` segment or ends in ``.``: ``rm -r dir/..`` must not delete the parent."""
    body = uri.split("://", 1)[1] if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", uri) else uri
    parts = body.split("::", 1)[0].replace(os.sep, "/").split("/")
    named = [p for p in parts if p]
    return ".." in parts or (bool(named) and named[-1] == ".")


def cmd_rm(args: argparse.Namespace) -> int:
    """Delete files, and folders with -r."""
    import storecore

    from .errors import InvalidArgument, IsADirectory, NotFound

    for uri in args.uris:  # every URI is checked before anything is deleted
        if _dot_segment(uri):
            raise InvalidArgument(f"{uri}: refusing to remove a path with a '.' or '..' segment", path=uri)
    status = 0
    for uri in args.uris:
        backend, loc = storecore.backend_for(uri)
        if loc.inner is not None:
            raise InvalidArgument(f"{uri}: rm deletes files and folders, not container nodes")
        try:
            entry = backend.stat(loc.path)
        except NotFound:
            if args.force:
                continue
            raise
        if entry.is_dir and not args.recursive:
            print(f"{PROG}: {IsADirectory(f'{uri}: is a folder (use rm -r)')}", file=sys.stderr)
            status = 1
            continue
        backend.delete(loc.path, recursive=True)
    return status


def _find_line(m: Any, long: bool) -> str:
    if not long:
        return printable(m.uri)
    shape = "x".join(str(s) for s in m.shape) if m.shape is not None else "-"
    attrs = " ".join(f"{printable(k)}={json.dumps(v, default=str)}" for k, v in m.attrs.items())
    dtype = str(m.dtype) if m.dtype is not None else "-"
    return f"{m.kind:<6} {human(m.size):>8} {shape:>14} {dtype:<8} {printable(m.uri)}  {attrs}".rstrip()


def cmd_find(args: argparse.Namespace) -> int:
    """Search and print matches as they are found."""
    from .errors import InvalidArgument
    from .search import FindStats, find, parse_attrs

    stats = FindStats()
    try:
        matches = find(
            args.uri,
            name=args.name,
            path=args.path,
            kind=args.kind,
            min_size=args.min_size,
            max_size=args.max_size,
            modified_after=args.newer,
            dtype=args.dtype,
            shape=args.shape,
            attrs=parse_attrs(args.attr),
            into_containers=not args.no_containers,
            max_depth=args.max_depth,
            stats=stats,
            use_cache=not args.no_cache,
            inventory=args.inventory,
            etag=args.etag,
            storage_class=args.storage_class,
        )
    except InvalidArgument as e:
        raise UsageError(str(e)) from e
    out = _out()
    for m in matches:
        if args.json:
            _print_json(m.to_dict())
        else:
            print(_find_line(m, args.long), file=out)
        out.flush()
    if stats.errors:
        print(f"{PROG}: warning: {len(stats.errors)} item(s) could not be read, e.g. {stats.errors[0]}", file=sys.stderr)
    if stats.inventory_date is not None:
        print(f"{stats.matches} match(es) from the inventory as of {stats.inventory_date:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Print what differs between A and B."""
    from .search import compare

    counts = {"only_a": 0, "only_b": 0, "differ": 0, "same": 0}
    out = _out()
    for e in compare(args.a, args.b, deep=args.deep, inventory_a=args.inventory_a, inventory_b=args.inventory_b):
        counts[e.status] += 1
        if e.status == "same" and not args.all:
            continue
        if args.json:
            _print_json(e.to_dict())
        else:
            why = f"  ({e.reason}: {e.a_size} vs {e.b_size})" if e.status == "differ" and e.reason == "size" else ""
            print(f"{e.status:<7} {e.path}{why}", file=out)
    diffs = counts["only_a"] + counts["only_b"] + counts["differ"]
    print(
        f"{diffs} difference(s): {counts['only_a']} only in A, {counts['only_b']} only in B, "
        f"{counts['differ']} differ; {counts['same']} same",
        file=sys.stderr,
    )
    return 3 if args.exit_code and diffs else 0


# -- entry point ---------------------------------------------------------------------------
def _error_line(exc: BaseException) -> str:
    text = printable(str(exc).strip()) or type(exc).__name__
    from .errors import StorecoreError

    return text if isinstance(exc, StorecoreError) or type(exc).__name__ in text else f"{type(exc).__name__}: {text}"


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; return the exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # --help (0) and usage errors (2)
        return int(e.code) if isinstance(e.code, int) else 2
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        configure_s3(args)
        return func(args)
    except UsageError as e:
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (| head): not an error; keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:  # noqa: BLE001 - every error is one readable line
        logger.debug("main: caught %s", describe(e))
        print(f"{PROG} {args.command}: {_error_line(e)}", file=sys.stderr)
        return 1
