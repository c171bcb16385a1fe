"""NumPy handlers: ``.npy`` (one array), ``.npz`` (named arrays) and ``.sparse.npz`` (scipy, optional)."""

from __future__ import annotations

import io
from typing import IO, Any

from ..errors import FormatError, MissingDependency, PickleNotAllowed
from .registry import Handler


def _read_npy(f: IO[bytes], *, allow_pickle: bool = False, mmap_mode: Any = None, **_kw: Any) -> Any:
    import numpy as np

    try:
        return np.load(f, allow_pickle=allow_pickle)
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise PickleNotAllowed(
                "this .npy holds Python objects, which load through pickle and can run arbitrary code; "
                "pass allow_pickle=True only for files you trust"
            ) from e
        raise


def _write_npy(obj: Any, f: IO[bytes], *, allow_pickle: bool = False, **_kw: Any) -> None:
    import numpy as np

    arr = np.asanyarray(obj)
    if arr.dtype.hasobject and not allow_pickle:
        raise FormatError("an object array can only be stored with pickle; pass allow_pickle=True to do so")
    np.save(f, arr, allow_pickle=allow_pickle)


def _read_npz(f: IO[bytes], *, allow_pickle: bool = False, **_kw: Any) -> dict[str, Any]:
    """All arrays of the archive as a plain dict (the archive is closed afterwards)."""
    import numpy as np

    try:
        with np.load(f, allow_pickle=allow_pickle) as npz:
            return {name: npz[name] for name in npz.files}
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise PickleNotAllowed(
                "this .npz holds Python objects, which load through pickle; pass allow_pickle=True "
                "only for files you trust"
            ) from e
        raise


def _write_npz(obj: Any, f: IO[bytes], *, compress: bool = True, **_kw: Any) -> None:
    import numpy as np

    save = np.savez_compressed if compress else np.savez
    if isinstance(obj, dict):
        save(f, **{str(k): np.asanyarray(v) for k, v in obj.items()})
    elif isinstance(obj, (list, tuple)):
        save(f, *[np.asanyarray(v) for v in obj])
    else:
        save(f, np.asanyarray(obj))


def _is_array_dict(obj: Any) -> bool:
    import sys

    np = sys.modules.get("numpy")
    return (
        np is not None
        and isinstance(obj, dict)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items())
    )


def _scipy_sparse() -> Any:
    try:
        import scipy.sparse as sp
    except ImportError as e:
        raise MissingDependency("sparse matrices (.sparse.npz) need scipy: pip install scipy") from e
    return sp


def _read_sparse(f: IO[bytes], **_kw: Any) -> Any:
    sp = _scipy_sparse()
    # load_npz wants a seekable file; a remote reader is one, but buffer small ones for speed.
    return sp.load_npz(io.BytesIO(f.read()))


def _write_sparse(obj: Any, f: IO[bytes], *, compressed: bool = True, **_kw: Any) -> None:
    sp = _scipy_sparse()
    if not sp.issparse(obj):
        raise FormatError(f"expected a scipy sparse matrix, got {type(obj).__name__}")
    sp.save_npz(f, obj, compressed=compressed)


def _is_sparse(obj: Any) -> bool:
    import sys

    sp = sys.modules.get("scipy.sparse")
    return sp is not None and bool(sp.issparse(obj))


HANDLERS = [
    Handler("npy", [".npy"], ["numpy:ndarray", "numpy:generic"], 10, read=_read_npy, write=_write_npy),
    Handler("npz", [".npz"], [], 15, read=_read_npz, write=_write_npz, accepts=_is_array_dict),
    Handler("sparse", [".sparse.npz", ".sparse"], [], 10, read=_read_sparse, write=_write_sparse, accepts=_is_sparse),
]
