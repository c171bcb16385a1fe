"""Every public name that outside code relies on resolves, from the module the docs name."""

from __future__ import annotations

import importlib

import pytest

import storecore

REFERENCE_IMPORTS = [
    ("storecore", ["FileManager", "BackendRegistry", "AutoStore", "AutoPath", "Options", "Saver", "NumpySaver",
                   "HDF5Saver", "ZarrSaver", "Store", "MemoryBackend", "DiskBackend", "Location", "register_scheme",
                   "backend_for", "open_container", "read_slice", "find", "compare", "__version__"]),
    ("storecore.backends", ["DiskBackend", "MemoryBackend", "ZarrBackend"]),
    ("storecore.s3", ["S3Options"]),
    ("storecore.autostore", ["DataHandler", "AutoStore", "AutoPath"]),
    ("storecore.transfer", ["TransferQueue", "copy", "move"]),
    ("storecore.errors", ["StorecoreError", "NotFound", "PermissionDenied", "InvalidLocation"]),
]


@pytest.mark.parametrize("name", sorted(storecore._LAZY))
def test_every_lazy_export_resolves(name):
    assert getattr(storecore, name) is not None


@pytest.mark.parametrize(("module", "names"), REFERENCE_IMPORTS)
def test_reference_import_lines_work(module, names):
    mod = importlib.import_module(module)
    missing = [n for n in names if not hasattr(mod, n)]
    assert missing == []


def test_import_storecore_stays_light():
    import subprocess
    import sys

    code = "import sys, storecore; print(sorted(m for m in ('zarr', 'h5py', 'polars', 'boto3', 'PySide6') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
