"""Read a Go CPU profile (``pprof`` format, as ``weed -cpuprofile`` writes it) without Go's tools.

The benchmarks use it to show where the test S3 server spends its CPU: on a
2-core machine the server shares the cores with the client, and for uploads
its own work sets the pace whatever the client does.  The format is a
gzipped ``perftools.profiles.Profile`` protocol buffer; only the fields
needed to name each sample's stack are decoded (samples, locations,
functions, the string table), by hand, so no protobuf package is needed.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

#: (category, function-name prefixes): a sample's leaf function puts it in the first category that matches
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("MD5", ("crypto/md5.",)),
    ("SHA-256", ("crypto/sha256.", "crypto/internal/fips140/sha256.")),
    ("CRC32", ("hash/crc32.",)),
    ("system calls", ("syscall.", "internal/runtime/syscall", "runtime/internal/syscall")),
    ("memory copy and clear", ("runtime.memmove", "runtime.memclr")),
    ("allocation and garbage collection", ("runtime.mallocgc", "runtime.gc", "runtime.scanobject", "runtime.scanObject",
                                           "runtime.greyobject", "runtime.markBits", "runtime.(*mspan)",
                                           "runtime.(*mheap)", "runtime.(*gcWork)", "runtime.nextFreeFast")),
)


class ProfileError(ValueError):
    """The bytes are not a readable Go CPU profile."""


def _varint(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(data):
            raise ProfileError("a varint runs past the end of the profile")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i
        if shift > 63:
            raise ProfileError("a varint longer than 10 bytes")


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of one message: ints for varints, bytes for the rest."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise ProfileError("a field runs past the end of the profile")
            value, i = data[i:i + size], i + size
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ProfileError(f"wire type {wire} is not in the protobuf format")
        yield number, wire, value


def _ints(value: int | bytes) -> list[int]:
    """A repeated integer field's values, packed or not."""
    if isinstance(value, int):
        return [value]
    out, i = [], 0
    while i < len(value):
        v, i = _varint(value, i)
        out.append(v)
    return out


@dataclass
class Profile:
    """A CPU profile's samples: each a stack of function names (leaf first) and its CPU nanoseconds."""

    stacks: list[tuple[tuple[str, ...], int]]

    @property
    def total_seconds(self) -> float:
        """The CPU time all samples stand for."""
        return sum(ns for _, ns in self.stacks) / 1e9

    def categories(self) -> list[tuple[str, float]]:
        """``[(category, share of all CPU)]``, largest first, by each sample's leaf function (:data:`CATEGORIES`;
        the rest is ``other``)."""
        shares: Counter[str] = Counter()
        for stack, ns in self.stacks:
            leaf = stack[0] if stack else ""
            shares[next((name for name, prefixes in CATEGORIES if leaf.startswith(prefixes)), "other")] += ns
        total = sum(shares.values()) or 1
        return [(name, ns / total) for name, ns in shares.most_common()]

    def callers(self, prefix: str, depth: int = 2, skip: tuple[str, ...] = ("io.", "bytes.", "bufio.")) -> list[
            tuple[str, float]]:
        """Where samples whose leaf starts with ``prefix`` come from: the first ``depth`` frames above the leaf
        that are neither in ``prefix`` nor in ``skip`` (readers that only pass bytes on), as ``a < b``, with their
        share of all CPU, largest first."""
        found: Counter[str] = Counter()
        total = sum(ns for _, ns in self.stacks) or 1
        for stack, ns in self.stacks:
            if stack and stack[0].startswith(prefix):
                above = [f for f in stack if not f.startswith((prefix, *skip))][:depth]
                found[" < ".join(above) or "(none)"] += ns
        return [(where, ns / total) for where, ns in found.most_common()]


def read_profile(path: str) -> Profile:
    """The samples of the Go CPU profile at ``path`` (gzipped or not); :class:`ProfileError` if unreadable."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise ProfileError(f"{path}: empty (the process did not stop cleanly, so it never wrote its profile)")
    try:
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise ProfileError(f"{path}: not a gzip stream ({exc})") from None
    try:
        return _decode(data)
    except ProfileError as exc:
        raise ProfileError(f"{path}: {exc}") from None


def _decode(data: bytes) -> Profile:
    """The profile in the protobuf ``data``: each sample's function names, innermost first, and its nanoseconds."""
    samples: list[tuple[list[int], list[int]]] = []
    locations: dict[int, list[int]] = {}
    functions: dict[int, int] = {}
    strings: list[str] = []
    for number, _, value in _fields(data):
        if number == 2 and isinstance(value, bytes):  # Sample: location_id = 1, value = 2
            ids: list[int] = []
            values: list[int] = []
            for n, _, v in _fields(value):
                if n == 1:
                    ids += _ints(v)
                elif n == 2:
                    values += _ints(v)
            samples.append((ids, values))
        elif number == 4 and isinstance(value, bytes):  # Location: id = 1, line = 4 (function_id = 1)
            loc_id, funcs = 0, []
            for n, _, v in _fields(value):
                if n == 1 and isinstance(v, int):
                    loc_id = v
                elif n == 4 and isinstance(v, bytes):
                    funcs += [fv for fn, _, fv in _fields(v) if fn == 1 and isinstance(fv, int)]
            # a location's lines run from the inlined callee out: the innermost first, as a stack is
            locations[loc_id] = funcs
        elif number == 5 and isinstance(value, bytes):  # Function: id = 1, name = 2 (a string index)
            fields = {n: v for n, _, v in _fields(value)}
            fid, name_index = fields.get(1, 0), fields.get(2, 0)
            if isinstance(fid, int) and isinstance(name_index, int):
                functions[fid] = name_index
        elif number == 6 and isinstance(value, bytes):
            strings.append(value.decode("utf-8", "replace"))

    def function_name(fid: int) -> str:
        index = functions.get(fid, -1)
        return strings[index] if 0 <= index < len(strings) else f"?{fid}"

    stacks = [(tuple(function_name(f) for loc in ids for f in locations.get(loc, [])), values[-1] if values else 0)
              for ids, values in samples]
    return Profile(stacks)


__all__ = ["CATEGORIES", "Profile", "ProfileError", "read_profile"]
