"""raygent-style Savers: append / overwrite / update results to ``.npy``, HDF5 and Zarr.

``Saver`` is the strategy interface (one ``save(data, indices=None, **kwargs)``
method); ``NumpySaver``, ``HDF5Saver`` and ``ZarrSaver`` implement it with
three approaches:

* ``append``    add ``data`` along axis 0 (creates the array when missing);
* ``overwrite`` replace the array with ``data``;
* ``update``    write ``data`` at ``indices`` (a list of integers or a slice)
  of an existing array (a missing file/array raises ``FileNotFoundError``).

Differences from raygent, chosen for safety:

* ``NumpySaver`` appends in place: the new rows are written after the
  existing data and the ``.npy`` header is rewritten in its padding, so the
  existing data is never loaded.  When the new header does not fit, the
  dtype must widen or the file is Fortran-ordered, the file is rewritten
  chunk by chunk into a temporary file that replaces it (bounded memory).
* A failing save (bad data, a write error) leaves the previous data intact:
  data is converted before anything is touched, new content goes to a
  temporary file/array that replaces the old one only once complete, and
  in-place appends/updates are rolled back when a write raises.  HDF5 files
  are modified in place by the HDF5 library, so a *killed process* may still
  damage an HDF5 file; ``.npy`` and local Zarr survive it.

Paths are local files.  ``ZarrSaver`` also accepts any zarr 3 store object
(e.g. one reaching S3) instead of a path.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backends.local import AtomicLocalFile
from ..errors import InvalidArgument, NotFound, ShapeMismatch
from ..logs import suppress_logged

logger = logging.getLogger(__name__)

log = logging.getLogger(__name__)

APPROACHES = ("append", "overwrite", "update")
#: rows copied per step when a ``.npy`` file has to be rewritten
_REWRITE_BYTES = 16 * 1024 * 1024

Indices = Sequence[int] | slice | np.ndarray | None


class ConversionError(InvalidArgument, TypeError):
    """The data cannot be converted to a numpy array (also a ``TypeError``, as raygent documents)."""


class MissingDataset(NotFound, ValueError):
    """``update`` on an array that does not exist: a ``FileNotFoundError`` and, as raygent's HDF5Saver documents, a ``ValueError``."""


def check_approach(approach: str) -> str:
    """Normalise ``approach``; raise ``InvalidArgument`` (a ``ValueError``) when it is not known."""
    value = str(approach).strip().lower()
    if value not in APPROACHES:
        raise InvalidArgument(f"unknown approach {approach!r}: use one of {', '.join(APPROACHES)}")
    return value


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert ``data`` to a numpy array, raising :class:`ConversionError` on failure."""
    try:
        arr = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise ConversionError(f"cannot convert the data to a numpy array: {e}") from e
    if arr.dtype == object:
        raise ConversionError("the data converts only to an object array (ragged or mixed types); it cannot be saved")
    return arr


def _need_indices(indices: Indices) -> Any:
    if indices is None:
        raise InvalidArgument("approach 'update' needs indices (a list of integers or a slice)")
    if isinstance(indices, slice):
        return indices
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise InvalidArgument(f"indices must be integers or a slice, got {indices!r}")
    return idx


def _check_tail(existing: tuple[int, ...], new: tuple[int, ...], where: str) -> None:
    if len(existing) == 0 or len(new) == 0 or existing[1:] != new[1:]:
        raise ShapeMismatch(
            f"{where}: cannot append data of shape {new} to an array of shape {existing} "
            f"(all but the first dimension must agree)"
        )


@contextlib.contextmanager
def _folder_lock(path: str) -> Any:
    """Hold an exclusive ``flock`` on the folder of ``path`` (several processes saving to one file wait their turn).

    The folder, not the file, is locked: an append that must rewrite the file replaces it (a new inode), and a
    first save creates it, so a lock on the file itself would not exclude the next writer.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:  # a file system without locks: go on unlocked, as before
            log.warning("%s: cannot lock the folder for saving (%s)", path, e)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Saver(ABC):
    """Abstract base class: persist a batch of results somewhere.

    Subclasses implement :meth:`save`; one instance is called repeatedly, so
    implementations create the destination on first use and extend or update
    it afterwards.
    """

    @abstractmethod
    def save(self, data: Any, indices: Indices = None, **kwargs: Any) -> None:
        """Save ``data``; ``indices`` locate it for the ``update`` approach."""


# --------------------------------------------------------------------------- numpy
class NumpySaver(Saver):
    """Results in one ``.npy`` file, appended in place without loading it."""

    def __init__(self, file_path: str | os.PathLike[str], approach: str = "append") -> None:
        self.file_path = os.fspath(file_path)
        self.approach = check_approach(approach)

    def save(self, data: Any, indices: Indices = None, **kwargs: Any) -> None:
        """Save ``data`` with the configured approach (``dtype=`` converts it first)."""
        approach = check_approach(self.approach)
        arr = to_array(data, kwargs.get("dtype"))
        path = self.file_path
        if approach == "update":
            if not os.path.isfile(path):
                raise NotFound(f"{path}: no such file to update", path=path)
            idx = _need_indices(indices)
        with _folder_lock(path):
            if approach == "update":
                self._update(arr, idx)
            elif approach == "overwrite" or not os.path.exists(path):
                self._write_new(arr)
            else:
                self._append(arr)

    # -- helpers ------------------------------------------------------------------
    def _write_new(self, arr: np.ndarray) -> None:
        with AtomicLocalFile(self.file_path) as out:
            np.lib.format.write_array(out, arr, allow_pickle=False)

    def _read_header(self, f: Any) -> tuple[tuple[int, int], tuple[int, ...], bool, np.dtype, int]:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        return version, shape, fortran, dtype, f.tell()

    def _append(self, arr: np.ndarray) -> None:
        path = self.file_path
        with open(path, "rb") as f:
            version, shape, fortran, dtype, offset = self._read_header(f)
        _check_tail(shape, arr.shape, path)
        new_shape = (shape[0] + arr.shape[0], *shape[1:])
        target = np.result_type(dtype, arr.dtype)
        if dtype.hasobject or arr.dtype.hasobject:
            raise ConversionError(f"{path}: object arrays need pickle and cannot be appended")
        header = self._header_bytes(version, dtype, new_shape, offset)
        if target != dtype or (fortran and len(shape) > 1) or header is None:
            self._rewrite(shape, dtype, fortran, offset, arr, target, new_shape)
            return
        data = np.ascontiguousarray(arr, dtype=dtype).tobytes()
        old_size = offset + dtype.itemsize * int(np.prod(shape))
        with open(path, "r+b") as f:
            try:
                # Data first, header last: until the header names the new shape,
                # readers see exactly the old array (trailing bytes are ignored).
                f.seek(old_size)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
                f.seek(0)
                f.write(header)
                f.flush()
                os.fsync(f.fileno())
            except BaseException:
                with contextlib.suppress(OSError):
                    f.truncate(old_size)
                raise

    @staticmethod
    def _header_bytes(version: tuple[int, int], dtype: np.dtype, shape: tuple[int, ...], offset: int) -> bytes | None:
        """The full preamble for ``shape`` in exactly ``offset`` bytes, or None when it does not fit."""
        d = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
        text = "{" + "".join(f"{k!r}: {d[k]!r}, " for k in sorted(d)) + "}"
        magic = np.lib.format.magic(*version)
        len_size = 2 if version == (1, 0) else 4
        room = offset - len(magic) - len_size
        encoded = text.encode("utf8" if version >= (3, 0) else "latin1")
        if len(encoded) + 1 > room:
            return None
        body = encoded + b" " * (room - len(encoded) - 1) + b"\n"
        return magic + room.to_bytes(len_size, "little") + body

    def _rewrite(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype,
        fortran: bool,
        offset: int,
        arr: np.ndarray,
        target: np.dtype,
        new_shape: tuple[int, ...],
    ) -> None:
        old = np.memmap(self.file_path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
        try:
            row_bytes = max(1, target.itemsize * int(np.prod(shape[1:])))
            step = max(1, _REWRITE_BYTES // row_bytes)
            with AtomicLocalFile(self.file_path) as out:
                header = {"descr": np.lib.format.dtype_to_descr(target), "fortran_order": False, "shape": new_shape}
                try:
                    np.lib.format.write_array_header_1_0(out, header)
                except ValueError:  # header too long for format 1.0
                    np.lib.format.write_array_header_2_0(out, header)
                for start in range(0, shape[0], step):
                    out.write(np.ascontiguousarray(old[start : start + step], dtype=target).tobytes())
                out.write(np.ascontiguousarray(arr, dtype=target).tobytes())
        finally:
            del old

    def _update(self, arr: np.ndarray, idx: Any) -> None:
        # Copy, modify, replace: a failure at any point leaves the original file as it was.
        path = self.file_path
        with open(path, "rb") as f:
            _, shape, fortran, dtype, offset = self._read_header(f)
        try:
            view_shape = np.broadcast_to(np.empty((), np.bool_), shape)[idx].shape
        except IndexError as e:
            raise InvalidArgument(f"{path}: indices {idx!r} are out of range for an array of shape {shape}") from e
        try:
            value = np.broadcast_to(arr, view_shape)
        except ValueError as e:
            raise ShapeMismatch(f"{path}: cannot write data of shape {arr.shape} into indices selecting shape {view_shape}") from e
        tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.{uuid.uuid4().hex}.storecore-tmp")
        try:
            shutil.copyfile(path, tmp)
            mm = np.memmap(tmp, dtype=dtype, mode="r+", offset=offset, shape=shape, order="F" if fortran else "C")
            mm[idx] = value
            mm.flush()
            del mm
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


# --------------------------------------------------------------------------- hdf5
def _dataset_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: kwargs[k] for k in ("compression", "compression_opts", "chunks", "shuffle", "fletcher32", "fillvalue") if k in kwargs}


def _sorted_indices(idx: Any, arr: np.ndarray, view_len: int) -> tuple[Any, np.ndarray]:
    """h5py needs increasing index lists: sort them and the rows of ``arr`` alike."""
    if isinstance(idx, slice):
        return idx, arr
    flat = np.asarray(idx).ravel()
    order = np.argsort(flat, kind="stable")
    if np.any(np.diff(flat[order]) == 0):
        raise InvalidArgument("indices must not repeat")
    if arr.ndim and arr.shape[0] == len(flat):
        arr = arr[order]
    return flat[order].tolist(), arr


class HDF5Saver(Saver):
    """Results in a dataset of an HDF5 file; ``dataset_name`` may be a slash path of groups."""

    def __init__(self, file_path: str | os.PathLike[str], dataset_name: str = "dataset", approach: str = "append") -> None:
        self.file_path = os.fspath(file_path)
        self.dataset_name = dataset_name
        self.approach = check_approach(approach)

    def save(self, data: Any, indices: Indices = None, **kwargs: Any) -> None:
        """Save ``data``; kwargs: ``dtype``, ``compression``, ``compression_opts``, ``chunks``."""
        import h5py

        approach = check_approach(self.approach)
        arr = to_array(data, kwargs.get("dtype"))
        path, name = self.file_path, self.dataset_name
        if approach == "update":
            if not os.path.isfile(path):  # before the indices, as raygent: a missing file is FileNotFoundError
                raise MissingDataset(f"{path}: no such file to update", path=path)
            idx = _need_indices(indices)
        elif os.path.dirname(os.path.abspath(path)):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with h5py.File(path, "a") as h5:
            exists = name in h5
            if approach == "update":
                if not exists:
                    raise MissingDataset(f"{path}::{name}: no such dataset to update", path=f"{path}::{name}")
                self._update(h5[name], arr, idx)
            elif approach == "overwrite" or not exists:
                self._replace(h5, name, arr, kwargs, exists)
            else:
                self._append(h5[name], arr)

    def _replace(self, h5: Any, name: str, arr: np.ndarray, kwargs: dict[str, Any], exists: bool) -> None:
        # Build the new dataset under a temporary name, then swap: a failure keeps the old one.
        tmp = f"{name}.__storecore_tmp_{uuid.uuid4().hex[:8]}" if exists else name
        opts = _dataset_kwargs(kwargs)
        opts.setdefault("chunks", True if arr.ndim else None)
        try:
            dset = h5.create_dataset(tmp, shape=arr.shape, dtype=arr.dtype, maxshape=(None, *arr.shape[1:]) if arr.ndim else None, **opts)
            if arr.size:
                dset[...] = arr
        except BaseException:
            with suppress_logged(logger, "_replace"):
                del h5[tmp]
            raise
        if exists:
            del h5[name]
            h5.move(tmp, name)

    def _append(self, dset: Any, arr: np.ndarray) -> None:
        where = f"{self.file_path}::{self.dataset_name}"
        _check_tail(dset.shape, arr.shape, where)
        if dset.maxshape[0] is not None:
            raise InvalidArgument(f"{where}: the dataset is not resizable (it was not created for appending)")
        old = dset.shape[0]
        dset.resize(old + arr.shape[0], axis=0)
        try:
            dset[old:] = arr
        except BaseException:
            dset.resize(old, axis=0)
            raise

    def _update(self, dset: Any, arr: np.ndarray, idx: Any) -> None:
        idx, arr = _sorted_indices(idx, arr, dset.shape[0] if dset.shape else 0)
        _write_restoring(dset, idx, arr, f"{self.file_path}::{self.dataset_name}")


def _write_restoring(target: Any, idx: Any, arr: np.ndarray, where: str, dtype: Any = None) -> None:
    """``target[idx] = arr`` (broadcast, cast to ``dtype`` if given); what was there is put back on failure."""
    before = target[idx]
    try:
        value = np.broadcast_to(arr if dtype is None else arr.astype(dtype, copy=False), before.shape)
    except ValueError as e:
        raise ShapeMismatch(f"{where}: cannot write data of shape {arr.shape} into a selection of shape {before.shape}") from e
    try:
        target[idx] = value
    except BaseException:
        target[idx] = before
        raise


# --------------------------------------------------------------------------- zarr
def _zarr_codecs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Translate raygent/zarr-2 style kwargs (``compressor=numcodecs.X``) for zarr 3's ``create_array``."""
    out = {k: kwargs[k] for k in ("chunks", "shards", "filters", "fill_value", "attributes", "dimension_names", "zarr_format") if k in kwargs}
    comp = kwargs.get("compressors", kwargs.get("compressor", "auto"))
    if comp is None or (isinstance(comp, str) and comp == "auto"):
        out["compressors"] = comp
    else:
        out["compressors"] = [_zarr3_codec(c) for c in (comp if isinstance(comp, list | tuple) else [comp])]
    return out


def _zarr3_codec(codec: Any) -> Any:
    import zarr

    if isinstance(codec, zarr.abc.codec.BytesBytesCodec) or isinstance(codec, dict):
        return codec
    cfg = dict(codec.get_config()) if hasattr(codec, "get_config") else {}
    kind = cfg.pop("id", type(codec).__name__).lower()
    if kind == "blosc":
        shuffle = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle", -1: "shuffle"}.get(cfg.get("shuffle", 1), "shuffle")
        return zarr.codecs.BloscCodec(cname=cfg.get("cname", "zstd"), clevel=cfg.get("clevel", 5), shuffle=shuffle)
    if kind == "zstd":
        return zarr.codecs.ZstdCodec(level=cfg.get("level", 0))
    if kind in ("gzip", "zlib"):
        return zarr.codecs.GzipCodec(level=cfg.get("level", 5))
    import numcodecs.zarr3 as nz3

    wrapper = getattr(nz3, type(codec).__name__, None)
    if wrapper is None:
        raise InvalidArgument(f"compressor {codec!r} has no zarr 3 equivalent")
    return wrapper(**cfg)


class ZarrSaver(Saver):
    """Results in an array of a Zarr (v3) store; reopen with ``zarr.open_array(LocalStore(path), path=dataset_name)``.

    ``file_path`` is a local directory or a zarr 3 store object (any
    ``zarr.abc.store.Store``, for instance one reaching S3).  Overwrites of a
    local store build the new array beside the old one and swap directories.
    """

    def __init__(self, file_path: Any, dataset_name: str = "dataset", approach: str = "append") -> None:
        self.file_path = os.fspath(file_path) if isinstance(file_path, str | os.PathLike) else file_path
        self.dataset_name = dataset_name
        self.approach = check_approach(approach)

    @property
    def _local(self) -> bool:
        return isinstance(self.file_path, str)

    def _store(self, create: bool) -> Any:
        import zarr

        if not self._local:
            return self.file_path
        if not create and not os.path.isdir(self.file_path):
            raise MissingDataset(f"{self.file_path}: no such Zarr store", path=self.file_path)
        return zarr.storage.LocalStore(self.file_path)

    def _open(self, store: Any) -> Any:
        import zarr

        try:
            return zarr.open_array(store, path=self.dataset_name, mode="r+")
        except FileNotFoundError:
            return None

    def save(self, data: Any, indices: Indices = None, **kwargs: Any) -> None:
        """Save ``data``; kwargs go to ``zarr.create_array`` (``chunks``, ``compressor(s)``, ``dtype``...)."""
        approach = check_approach(self.approach)
        arr = to_array(data, kwargs.get("dtype"))
        where = f"{self.file_path}::{self.dataset_name}"
        if approach == "update":
            # Existence first, as raygent: a missing store or array is a FileNotFoundError whatever the indices.
            z = self._open(self._store(create=False))
            if z is None:
                raise MissingDataset(f"{where}: no such array to update", path=where)
            self._update(z, arr, _need_indices(indices), where)
            return
        store = self._store(create=True)
        z = self._open(store)
        if z is None or approach == "overwrite":
            self._replace(store, arr, kwargs, exists=z is not None)
            return
        _check_tail(z.shape, arr.shape, where)
        old = z.shape[0]
        z.resize((old + arr.shape[0], *z.shape[1:]))
        try:
            z[old:] = arr.astype(z.dtype, copy=False)
        except BaseException:
            z.resize((old, *z.shape[1:]))
            raise

    def _create(self, store: Any, name: str, arr: np.ndarray, kwargs: dict[str, Any], overwrite: bool = False) -> Any:
        import zarr

        z = zarr.create_array(store, name=name, shape=arr.shape, dtype=arr.dtype, overwrite=overwrite, **_zarr_codecs(kwargs))
        if arr.size:
            z[...] = arr
        return z

    def _replace(self, store: Any, arr: np.ndarray, kwargs: dict[str, Any], exists: bool) -> None:
        name = self.dataset_name.strip("/")
        if not (exists and self._local):
            self._create(store, name, arr, kwargs, overwrite=exists)
            return
        parent, _, leaf = name.rpartition("/")
        tmp_name = f"{parent + '/' if parent else ''}.{leaf}.{uuid.uuid4().hex[:8]}.storecore-tmp"
        tmp_dir = os.path.join(self.file_path, *tmp_name.split("/"))
        target = os.path.join(self.file_path, *name.split("/"))
        try:
            self._create(store, tmp_name, arr, kwargs)
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        trash = tmp_dir + ".old"
        os.replace(target, trash)
        os.replace(tmp_dir, target)
        shutil.rmtree(trash, ignore_errors=True)

    def _update(self, z: Any, arr: np.ndarray, idx: Any, where: str) -> None:
        sel = z.oindex if not isinstance(idx, slice) else z
        _write_restoring(sel, idx, arr, where, dtype=z.dtype)


__all__ = ["Saver", "NumpySaver", "HDF5Saver", "ZarrSaver", "ConversionError", "MissingDataset", "check_approach"]
