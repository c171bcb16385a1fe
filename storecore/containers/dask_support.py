"""Container arrays on Dask: ``node.to_dask()`` (and :mod:`~storecore.containers.xarray_support` for xarray).

``to_dask`` wraps an array node in a ``dask.array.Array`` chunked like the
store (Zarr chunks, or shards when sharded; HDF5 dataset chunks; contiguous
datasets in blocks of about 64 MiB).  Each block reads only the chunks it
covers (numeric Zarr arrays straight through zarr, others with
``node.read_slice``), locally, from memory stores or S3.  Nodes pickle as what
reopens them (the container's location and backend, credentials only as the
backend holds them), so the graph runs on a ``dask.distributed`` cluster: each
worker reopens the container once per task graph and reads its blocks itself.

Dask and xarray are the optional ``storescope[cluster]`` extra, imported only here.
"""

from __future__ import annotations

import importlib
import logging
import math
import uuid
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument, MissingDependency
from ..logs import describe

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .node import Node

#: target bytes of one block of a contiguous (unchunked) dataset
CONTIGUOUS_BLOCK_BYTES = 64 * 1024 * 1024


def require(module: str, package: str | None = None) -> Any:
    """Import ``module`` or raise :class:`MissingDependency` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        name = package or module.split(".")[0]
        raise MissingDependency(
            f"{name} is needed for this: pip install 'storescope[cluster]' (dask[distributed] and xarray)"
        ) from e


def contiguous_chunks(shape: tuple[int, ...], itemsize: int, target: int = CONTIGUOUS_BLOCK_BYTES) -> tuple[int, ...]:
    """Blocks of about ``target`` bytes for a contiguous C-order array: whole trailing axes, split leading ones."""
    chunks = list(shape)
    for ax in range(len(shape)):
        inner = math.prod(shape[ax + 1 :]) * max(1, itemsize)
        if inner * max(1, shape[ax]) <= target:
            break  # the rest of this axis fits in one block
        if inner <= target:
            chunks[ax] = max(1, target // inner)
            break
        chunks[ax] = 1  # one index of this axis is already too big: split the next axis too
    return tuple(max(1, c) if s else 0 for c, s in zip(chunks, shape, strict=True))


def store_chunks(node: Node) -> tuple[int, ...]:
    """The chunk shape dask uses for ``node``: shards, chunks, or blocks of a contiguous dataset."""
    lazy = None
    try:
        lazy = node.lazy()
    except Exception as exc:  # noqa: BLE001 - no library object: use the node's metadata
        logger.debug("store_chunks: caught %s", describe(exc))
        lazy = None
    shards = getattr(lazy, "shards", None) if node.container.format == "zarr" else None
    chunks = tuple(shards) if shards else node.chunks
    if chunks:
        return tuple(int(c) for c in chunks)
    return contiguous_chunks(tuple(node.shape or ()), node.dtype.itemsize if node.dtype is not None else 8)


class NodeArray:
    """The array protocol dask's ``from_array`` needs (shape, dtype, ndim, ``[]``), reading through a node.

    Pickles with its node, so it travels to worker processes.  HDF5 reads take
    the container's lock (h5py serialises them anyway); Zarr reads run in parallel.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        self.shape = tuple(node.shape or ())
        self.dtype = node.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> Any:
        container = self.node.container
        if container.format == "hdf5":
            with container._lock:
                return self.node.read_slice(key)
        # dask asks for whole blocks once each: no copy of a block in the slice caches
        return self.node.read_slice(key, cache=False)

    def __repr__(self) -> str:
        return f"NodeArray({self.node.uri!r}, shape={self.shape}, dtype={self.dtype})"


def to_dask(node: Node, chunks: Any = None) -> Any:
    """A ``dask.array.Array`` over an array node, chunked like the store unless ``chunks`` is given."""
    da = require("dask.array", "dask")
    import numpy as np

    target = node.target()
    if target.kind != "array" or target.shape is None:
        raise InvalidArgument(f"{node.uri} is a {target.kind}, not an array", path=node.uri)
    src = NodeArray(target)
    if chunks is None:
        chunks = store_chunks(target) if src.ndim else ()
    name = f"storecore-{uuid.uuid4().hex}"
    meta = np.empty((0,) * src.ndim, dtype=src.dtype)
    return da.from_array(src, chunks=chunks, name=name, lock=False, asarray=True, fancy=False, meta=meta)
