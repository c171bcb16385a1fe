"""Handlers for optional libraries, imported only when a file of theirs is used: torch ``.pt/.pth``."""

from __future__ import annotations

import io
import pickle
from typing import IO, Any

from ..errors import MissingDependency, PickleNotAllowed
from .registry import Handler


def _torch() -> Any:
    try:
        import torch
    except ImportError as e:
        raise MissingDependency("PyTorch files (.pt, .pth) need torch: pip install torch") from e
    return torch


def _read_torch(f: IO[bytes], *, allow_pickle: bool = False, map_location: Any = "cpu", **kw: Any) -> Any:
    """Tensors and state dicts load with ``weights_only=True``; whole modules need ``allow_pickle=True``."""
    torch = _torch()
    kw.pop("extension", None)
    try:
        return torch.load(io.BytesIO(f.read()), map_location=map_location, weights_only=not allow_pickle, **kw)
    except pickle.UnpicklingError as e:
        if allow_pickle:
            raise
        raise PickleNotAllowed(
            "this file holds more than tensors (e.g. a whole module), which loads through pickle and can run "
            "arbitrary code; pass allow_pickle=True only for files you trust"
        ) from e


def _write_torch(obj: Any, f: IO[bytes], **kw: Any) -> None:
    kw.pop("allow_pickle", None)
    _torch().save(obj, f, **kw)


HANDLERS = [
    Handler("torch", [".pt", ".pth"], ["torch:Tensor", "torch.nn:Module"], 10, read=_read_torch, write=_write_torch),
]
