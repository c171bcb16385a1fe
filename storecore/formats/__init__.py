"""Format handlers: read and write Python objects by file extension or by type, on every backend.

Built in: ``.npy``, ``.npz``, ``.sparse.npz`` (scipy), ``.json``, ``.jsonl``,
``.csv``/``.tsv`` (Windows-1252/Latin-1 read as such) and ``.parquet`` (polars, with lazy scans of files and datasets),
Arrow IPC (``.arrow``, Feather v2 ``.feather``, streams ``.arrows``),
``.txt/.md/.html``, ``.yaml/.yml``, images (``.png/.jpg/.tif`` as numpy),
``.pt/.pth`` (torch), ``.bin`` (raw bytes) and ``.pkl`` (pickle, read only with
``allow_pickle=True``).  Optional libraries are imported when first needed.
"""

from __future__ import annotations

from . import arrays, images, optional, pickles, tables, text
from .api import load, resolve_key, save, scan, target_for
from .registry import REGISTRY, Handler, Registry, get_handler, normalize_extension, register_handler

for _module in (pickles, text, tables, arrays, images, optional):
    for _handler in _module.HANDLERS:
        REGISTRY.register(_handler)
del _module, _handler

__all__ = [
    "Handler",
    "Registry",
    "REGISTRY",
    "register_handler",
    "get_handler",
    "load",
    "save",
    "scan",
    "resolve_key",
    "target_for",
    "normalize_extension",
]
