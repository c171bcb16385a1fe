"""Lazy slicing of container arrays, display-sized overviews and colour-level statistics.

Selections are tuples of ints and slices, as in numpy basic indexing, with any
step (negative too) and negative indices.  They are normalised here to what
both zarr and h5py accept (non-negative ints, positive-step slices), and the
axes read with a negative step are flipped afterwards, so the libraries read
only the chunks the selection touches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidArgument

MiB = 1024 * 1024


def normalize_selection(selection: Any, shape: tuple[int, ...]) -> tuple[tuple, list[int], tuple[int, ...]]:
    """Normalise ``selection`` for ``shape``.

    Returns ``(selection, flip_axes, out_shape)``: the selection with one
    non-negative int or positive-step slice per dimension; the result axes to
    reverse afterwards; the shape of the result.  Raises ``InvalidArgument``
    for out-of-range indices, too many indices or unsupported items.
    """
    if not isinstance(selection, tuple):
        selection = (selection,)
    n_ellipsis = sum(1 for s in selection if s is Ellipsis)
    if n_ellipsis > 1:
        raise InvalidArgument("a selection may hold only one Ellipsis (...)")
    explicit = len(selection) - n_ellipsis
    if explicit > len(shape):
        raise InvalidArgument(f"too many indices ({explicit}) for an array of {len(shape)} dimension(s)")
    if n_ellipsis:
        i = next(k for k, s in enumerate(selection) if s is Ellipsis)
        selection = selection[:i] + (slice(None),) * (len(shape) - explicit) + selection[i + 1 :]
    else:
        selection = selection + (slice(None),) * (len(shape) - explicit)
    out: list[Any] = []
    flips: list[int] = []
    out_shape: list[int] = []
    for axis, (item, n) in enumerate(zip(selection, shape, strict=True)):
        if isinstance(item, bool | np.bool_):
            raise InvalidArgument(f"boolean index on axis {axis} is not supported; use ints and slices")
        if isinstance(item, int | np.integer):
            i = int(item)
            if not -n <= i < n:
                raise InvalidArgument(f"index {i} is out of range for axis {axis} of size {n}")
            out.append(i + n if i < 0 else i)
            continue
        if not isinstance(item, slice):
            raise InvalidArgument(f"unsupported index {item!r} on axis {axis}: use ints and slices")
        try:
            start, stop, step = item.indices(n)
        except (TypeError, ValueError) as e:
            raise InvalidArgument(f"invalid slice {item!r} on axis {axis}: {e}") from e
        r = range(start, stop, step)
        length = len(r)
        if step > 0:
            out.append(slice(start, start + (length - 1) * step + 1 if length else start, step))
        elif length == 0:
            out.append(slice(0, 0, 1))
        else:
            first, last = r[0], r[-1]
            out.append(slice(last, first + 1, -step))
            flips.append(len(out_shape))
        out_shape.append(length)
    return tuple(out), flips, tuple(out_shape)


def read_slice(node: Any, selection: Any = (), *, cache: bool = True) -> np.ndarray:
    """Read ``selection`` from an array node (or any array-like) as a numpy array.

    ``read_slice(node, (10, slice(None), slice(-100, None, 2)))`` equals
    ``numpy_array[10, :, -100::2]`` but reads only the chunks it touches.  ``cache=False``: a container
    node keeps no copy of the slice (see ``Node.read_slice``).
    """
    if callable(getattr(node, "target", None)) and hasattr(node, "_read"):  # a container Node
        target = node.target()
        if target.kind == "array" and target.shape is None:
            # An empty dataspace (h5py.Empty) has no values at all: an empty array of its type.
            return np.empty((0,), dtype=target.dtype if target.dtype is not None else float)
        if target.kind != "array" or target.shape is None:
            raise InvalidArgument(f"{node.uri} is a {target.kind}, not an array", path=node.uri)
        shape, dtype = target.shape, target.dtype

        def reader(sel: tuple) -> np.ndarray:
            return target._read(sel, cache)
    else:
        shape, dtype = tuple(node.shape), node.dtype

        def reader(sel: tuple) -> np.ndarray:
            return np.asarray(node[sel])

    sel, flips, out_shape = normalize_selection(selection, tuple(shape))
    if 0 in out_shape:
        return np.empty(out_shape, dtype=dtype if dtype is not None else float)
    data = np.asarray(reader(sel))
    if flips:
        data = np.flip(data, axis=tuple(flips))
    return data


def _chunks_touched(n: int, chunk: int, step: int) -> int:
    """How many chunks of size ``chunk`` the indices ``0, step, 2*step... < n`` fall into."""
    if step >= chunk:
        return len(range(0, n, step))
    return math.ceil(n / chunk)


def display_selection(
    shape: Sequence[int],
    axes: Sequence[int] = (-2, -1),
    index: Sequence[int] | Mapping[int, int] | None = None,
    target: Sequence[int] = (1024, 1024),
    max_bytes: int = 64 * MiB,
    itemsize: int = 4,
    *,
    chunks: Sequence[int] | None = None,
    max_chunks: int | None = None,
) -> tuple:
    """A selection showing a display-sized overview of the plane spanned by ``axes``.

    The other axes are fixed at ``index`` (a sequence over all axes, or a
    ``{axis: i}`` mapping; the middle when missing).  The displayed axes get a
    stride so the result has at most ``target`` pixels per axis and at most
    ``max_bytes`` bytes; when ``chunks`` is given, the stride also grows until
    the chunks touched (which zarr/h5py read whole) total at most ``max_bytes``,
    and, with ``max_chunks``, number at most that many (a 10^12 x 10^12 array
    of 1 x 1 chunks is a million store requests at 1024 x 1024 samples,
    however few bytes they hold).  Planning costs O(log n) steps, whatever
    the shape: chunks are counted, never enumerated.
    """
    shape = tuple(int(n) for n in shape)
    ndim = len(shape)
    if ndim == 0:
        return ()
    disp = sorted({a % ndim for a in axes if -ndim <= a < ndim})
    if not disp:
        raise InvalidArgument(f"axes {tuple(axes)} do not fit an array of {ndim} dimension(s)")
    if isinstance(index, Mapping):
        fixed = {int(k) % ndim: int(v) for k, v in index.items()}
    elif index is not None:
        fixed = {k: int(v) for k, v in enumerate(index) if k < ndim and v is not None}
    else:
        fixed = {}
    targets = list(target) if len(target) >= len(disp) else [target[-1]] * len(disp)
    steps = {a: max(1, math.ceil(shape[a] / max(1, int(t)))) for a, t in zip(disp, targets, strict=False)}
    itemsize = max(1, int(itemsize))
    chunks = tuple(max(1, int(c)) for c in chunks) if chunks is not None else None
    chunk_bytes = itemsize * math.prod(chunks) if chunks is not None else 0
    max_chunks = None if chunks is None or max_chunks is None else max(1, int(max_chunks))

    def cost() -> tuple[int, int, int]:
        out = itemsize * math.prod(len(range(0, shape[a], steps[a])) for a in disp)
        if chunks is None:
            return out, 0, 0
        touched = math.prod(_chunks_touched(shape[a], chunks[a], steps[a]) for a in disp)
        return out, touched * chunk_bytes, touched

    while True:
        out_bytes, read_bytes, touched = cost()
        if out_bytes <= max_bytes and read_bytes <= max_bytes and (max_chunks is None or touched <= max_chunks):
            break
        if all(steps[a] >= shape[a] for a in disp):
            break  # a single pixel: nothing smaller to offer
        # Grow the stride of the axis that still has the most samples.
        a = max(disp, key=lambda k: len(range(0, shape[k], steps[k])))
        too_many = read_bytes > max_bytes or (max_chunks is not None and touched > max_chunks)
        if chunks is not None and too_many and steps[a] < chunks[a]:
            steps[a] = chunks[a]  # below one chunk a stride saves no reading
        else:
            steps[a] = steps[a] * 2
    sel: list[Any] = []
    for k in range(ndim):
        if k in steps:
            sel.append(slice(None, None, steps[k]) if steps[k] > 1 else slice(None))
        else:
            i = fixed.get(k, shape[k] // 2)
            if not -shape[k] <= i < shape[k]:
                raise InvalidArgument(f"index {i} is out of range for axis {k} of size {shape[k]}")
            sel.append(i % shape[k] if shape[k] else 0)
    return tuple(sel)


def slice_stats(a: Any, fill_value: Any = None, *, max_samples: int = 4_000_000) -> dict[str, Any]:
    """Colour-level statistics of the data shown: ``min``, ``max``, ``p1``, ``p99``, ``mean``, ``count_nan``.

    NaNs and ``fill_value`` elements are ignored (``count`` says how many
    values were used).  Complex data uses magnitudes; booleans count as 0/1.
    Percentiles of very large slices are taken on an even subsample.
    Values are plain Python floats, ``None`` when nothing is left.
    """
    arr = np.asarray(a)
    if arr.dtype.kind == "c":
        arr = np.abs(arr)
    elif arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    elif arr.dtype.kind not in "iuf":
        raise InvalidArgument(f"cannot compute statistics of {arr.dtype} data")
    flat = arr.ravel()
    count_nan = 0
    if flat.dtype.kind == "f":
        nan = np.isnan(flat)
        count_nan = int(nan.sum())
        if count_nan:
            flat = flat[~nan]
    if fill_value is not None:
        try:
            fv = np.asarray(fill_value).astype(flat.dtype, casting="unsafe")
        except (TypeError, ValueError):
            fv = None
        if fv is not None and not (fv.dtype.kind == "f" and np.isnan(fv)):
            flat = flat[flat != fv]
    result: dict[str, Any] = {"min": None, "max": None, "p1": None, "p99": None, "mean": None,
                              "count_nan": count_nan, "count": int(flat.size)}
    if flat.size == 0:
        return result
    finite = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
    if finite.size == 0:
        finite = flat
    sample = finite[:: max(1, finite.size // max_samples)]
    p1, p99 = np.percentile(sample, [1, 99])
    result.update(
        min=float(flat.min()),
        max=float(flat.max()),
        p1=float(p1),
        p99=float(p99),
        mean=float(finite.mean(dtype=np.float64)),
    )
    return result
