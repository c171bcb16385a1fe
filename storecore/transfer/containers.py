"""Cross-format transfers: files into Zarr/HDF5 groups and array nodes out to ``.npy`` files.

Dropping an ``.npy`` or ``.parquet`` file onto a group writes it there as an
array/dataset, a table as a group of column arrays (through
:func:`storecore.containers.write_array`); dropping an
array node onto a folder exports it as ``name.npy``.  Both are verified by
reading the result back and comparing the array bytes' MD5 with the source's.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument, MissingDependency
from ..location import Location

CONTAINER_EXTENSIONS = (".zarr", ".h5", ".hdf5", ".nc", ".he5")
IMPORTABLE = (".npy", ".parquet")


def _is_container(path: str) -> bool:
    return path.rstrip("/").lower().endswith(CONTAINER_EXTENSIONS)


def _containers_api() -> Any:
    try:
        from .. import containers
    except ImportError as e:
        raise MissingDependency(
            "container transfers need storecore.containers (Zarr/HDF5 support), which is not available"
        ) from e
    return containers


def _digest(arr: Any) -> str:
    """MD5 of an array's values (text arrays by their strings, so object and string dtypes agree; numbers in
    native byte order, as zarr v3 reads back a big-endian array written into it)."""
    import numpy as np

    arr = np.asarray(arr)
    if arr.dtype.kind in "OUT" or arr.dtype.kind == "S":
        data = json.dumps([str(x) for x in arr.ravel().tolist()]).encode()
    else:
        data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("=")).tobytes()  # (records field by field)
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _table_digest(columns: list[tuple[str, Any]]) -> str:
    return hashlib.md5("".join(f"{n}:{_digest(a)};" for n, a in columns).encode(), usedforsecurity=False).hexdigest()


@dataclass
class ContainerRoute:
    """How one container transfer runs: ``import`` a file into a group, or ``export`` a node to ``.npy``."""

    kind: str
    source: str
    destination: str
    overwrite: bool = False

    def existing(self) -> Any:
        """The :class:`~storecore.backends.base.Entry` of what is at the destination already, or None."""
        from ..backends.base import Entry
        from ..backends.registry import backend_for
        from ..errors import NotFound

        if self.kind == "export":
            db, dl = backend_for(self.destination)
            try:
                return db.stat(dl.path)
            except NotFound:
                return None
        try:
            node = _containers_api().open_container(self.destination)
        except NotFound:
            return None
        try:
            nbytes = getattr(node, "nbytes", None)
            return Entry(self.destination, node.name, int(nbytes) if nbytes is not None else None, None, None,
                         node.kind != "array")
        finally:
            node.close()

    def same_content(self) -> bool:
        """True when the destination holds the same values as the source would write."""
        import numpy as np

        from ..backends.registry import backend_for

        api = _containers_api()
        if self.kind == "export":
            db, dl = backend_for(self.destination)
            node = api.open_container(self.source)
            try:
                mine = _digest(api.read_slice(node, ()))
            finally:
                node.close()
            return _digest(np.load(io.BytesIO(db.read_bytes(dl.path)), allow_pickle=False)) == mine
        sb, sl = backend_for(self.source)
        obj = load_array(sb.read_bytes(sl.path), sl.path)
        node = api.open_container(self.destination)
        try:
            if hasattr(obj, "columns"):
                if node.kind != "group" or sorted(c.name for c in node.children()) != sorted(obj.columns):
                    return False
                back = [(n, api.read_slice(node.child(n), ())) for n in obj.columns]
                return _table_digest(back) == _table_digest([(n, obj[n].to_numpy()) for n in obj.columns])
            return node.kind == "array" and _digest(api.read_slice(node, ())) == _digest(obj)
        finally:
            node.close()

    def rename(self) -> None:
        """Point the destination at ``name (1)``, ``name (2)``... the first free name."""
        original = self.destination
        for i in range(1, 10_000):
            if self.kind == "export":
                loc = Location.parse(original)
                stem = posixpath.splitext(loc.path)[0]
                self.destination = str(Location(loc.scheme, loc.bucket, f"{stem} ({i}).npy"))
            else:
                loc = Location.parse(original)
                self.destination = str(loc.with_inner(f"{loc.inner} ({i})"))
            if self.existing() is None:
                return
        from ..errors import AlreadyExists

        raise AlreadyExists(f"{original}: no free name found", path=original)

    def run(self, job: Any) -> tuple[int, str, str]:
        """Do the transfer; return (array bytes, source checksum, destination checksum)."""
        self.overwrite = self.overwrite or str(job.conflict) == "overwrite"
        if self.kind == "export":
            if job.op == "move":
                raise InvalidArgument(f"{self.source}: a container node can be copied out, not moved")
            return self._export()
        return self._import()

    def _import(self) -> tuple[int, str, str]:
        from ..backends.registry import backend_for

        api = _containers_api()
        sb, sl = backend_for(self.source)
        data = sb.read_bytes(sl.path)
        obj = load_array(data, sl.path)
        api.write_array(self.destination, obj, overwrite=self.overwrite)
        node = api.open_container(self.destination)
        try:
            if node.kind == "group":  # a table: one array per column
                back = [(n, api.read_slice(node.child(n), ())) for n in obj.columns]
                src = [(n, obj[n].to_numpy()) for n in obj.columns]
                return int(obj.estimated_size()), _table_digest(src), _table_digest(back)
            back = api.read_slice(node, ())
        finally:
            node.close()
        return int(obj.nbytes), _digest(obj), _digest(back)

    def _export(self) -> tuple[int, str, str]:
        import numpy as np

        from ..backends.registry import backend_for

        api = _containers_api()
        node = api.open_container(self.source)
        try:
            if node.kind != "array":
                raise InvalidArgument(f"{self.source}: only array nodes can be exported (this is a {node.kind})")
            arr = npy_savable(np.asarray(api.read_slice(node, ())), self.source)
        finally:
            node.close()
        db, dl = backend_for(self.destination)
        with db.open(dl.path, "wb") as out:
            np.save(out, arr, allow_pickle=False)
        back = np.load(io.BytesIO(db.read_bytes(dl.path)), allow_pickle=False)
        return int(arr.nbytes), _digest(arr), _digest(back)

    def delete_source(self) -> None:
        """Delete the imported file (a move), after the destination was verified."""
        from ..backends.registry import backend_for

        if self.kind == "import":
            sb, sl = backend_for(self.source)
            sb.delete(sl.path, recursive=False)


def npy_savable(arr: Any, source: str) -> Any:
    """``arr`` as ``np.save`` can write it without pickles, or :class:`InvalidArgument` naming ``source``.

    Text arrays (storecore reads HDF5 strings and references as object arrays of ``str``: AnnData indices,
    netCDF string variables, MATLAB cell arrays) become fixed-width unicode; the dtype metadata h5py puts on enum
    and string types (which ``.npy`` cannot keep, and numpy warns about on stderr) is dropped.  Variable-length
    sequences have no ``.npy`` form.
    """
    import numpy as np

    if arr.dtype.hasobject:
        flat = arr.ravel().tolist()
        if arr.dtype.names or not all(isinstance(v, str) for v in flat):
            raise InvalidArgument(f"{source}: variable-length values (sequences, or in a compound's fields) "
                                  "have no .npy form", path=source)  # fmt: skip
        return np.array(flat, dtype=str).reshape(arr.shape)
    import warnings

    with warnings.catch_warnings():  # numpy's own .npy header round trip: the dtype as the file will hold it
        warnings.simplefilter("ignore", UserWarning)
        plain = np.lib.format.descr_to_dtype(np.lib.format.dtype_to_descr(arr.dtype))
    return arr.view(plain)


def load_array(data: bytes, name: str) -> Any:
    """Decode ``.npy`` bytes (no pickles) into a numpy array, or ``.parquet`` into a polars DataFrame.

    ``write_array`` stores a DataFrame as a group with one array per column.
    """
    import numpy as np

    lower = name.lower()
    if lower.endswith(".npy"):
        return np.load(io.BytesIO(data), allow_pickle=False)
    if lower.endswith(".parquet"):
        import polars as pl

        return pl.read_parquet(io.BytesIO(data))
    raise InvalidArgument(f"{name}: only .npy and .parquet files can be written into a container")


def route(src: str, dst: str) -> ContainerRoute | None:
    """The container route for a transfer, or None when it is a plain file/tree transfer.

    ``dst`` may name the new node directly (``run.zarr::/g/a``) or be a path
    inside a container given as a folder (``run.zarr/a.npy``, what a drop onto
    the container's row produces); the extension is dropped from node names.
    """
    sloc, dloc = Location.parse(src), Location.parse(dst)
    if sloc.inner is not None and sloc.inner != "/":
        if dloc.inner is not None:
            raise InvalidArgument(f"copying the node {src} into another container ({dst}) is not supported")
        target = dloc if dloc.path.lower().endswith(".npy") else Location(
            dloc.scheme, dloc.bucket, dloc.path + ".npy"
        )
        return ContainerRoute("export", src, str(target))
    if not sloc.path.lower().endswith(IMPORTABLE):
        return None
    if dloc.inner is not None:
        inner = dloc.inner
        if inner.lower().endswith(IMPORTABLE):
            inner = posixpath.splitext(inner)[0]
        if inner == "/":
            inner = "/" + posixpath.splitext(sloc.name)[0]
        return ContainerRoute("import", src, str(dloc.with_inner(inner)))
    parent = dloc.parent
    if parent.inner is None and _is_container(parent.path) and not _is_container(dloc.path):
        return ContainerRoute("import", src, str(parent.with_inner("/" + posixpath.splitext(dloc.name)[0])))
    return None


__all__ = ["ContainerRoute", "route", "load_array", "CONTAINER_EXTENSIONS"]
