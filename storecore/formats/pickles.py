"""The pickle handler (``.pkl``): writes any object, reads only with ``allow_pickle=True``."""

from __future__ import annotations

import pickle
from typing import IO, Any

from ..errors import PickleNotAllowed
from .registry import Handler

REFUSAL = (
    "loading a pickle can run arbitrary code, so storecore reads .pkl files only when asked: "
    "pass allow_pickle=True for files you trust"
)


def _read_pickle(f: IO[bytes], *, allow_pickle: bool = False, **_kw: Any) -> Any:
    if not allow_pickle:
        raise PickleNotAllowed(REFUSAL)
    return pickle.load(f)


def _write_pickle(obj: Any, f: IO[bytes], *, protocol: int = pickle.HIGHEST_PROTOCOL, **_kw: Any) -> None:
    pickle.dump(obj, f, protocol=protocol)


HANDLERS = [
    # The fallback for objects no other handler writes (lowest priority).
    Handler("pickle", [".pkl", ".pickle"], [object], -100, read=_read_pickle, write=_write_pickle),
]
