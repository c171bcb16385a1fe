"""Every example of the polystore FileManager document (polystore-filemanager.txt), run against storecore.

Only the import line differs from the document.  The examples run on the
disk backend (in a temporary working directory), and those that apply also on
the memory backend and on S3 (a registry entry ``"s3"`` rooted in a fresh
bucket of the test server).  Test names: polystore_filemanager_<section>.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from storecore import BackendRegistry, FileManager
from storecore.backends import MemoryBackend, S3StorageBackend


@pytest.fixture(autouse=True)
def _cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["disk", "memory", "s3"])
def setup(request):
    """(fm, backend name) — the document's set-up, with an S3 entry when needed."""
    registry = BackendRegistry()
    if request.param == "s3":
        registry["s3"] = S3StorageBackend(request.getfixturevalue("s3_root"))
    fm = FileManager(registry)
    return fm, request.param


def test_polystore_filemanager_constructor():
    registry = BackendRegistry()
    fm = FileManager(registry)
    assert fm.registry is registry
    assert set(registry) >= {"disk", "memory"}


def test_polystore_filemanager_save(setup, tmp_path):
    fm, backend = setup
    data = np.array([1, 2, 3])
    fm.save(data, "output.npy", backend=backend)
    assert fm.exists("output.npy", backend=backend)
    if backend == "disk":
        assert np.load(tmp_path / "output.npy").tolist() == [1, 2, 3]


def test_polystore_filemanager_load(setup):
    fm, backend = setup
    fm.save(np.array([1, 2, 3]), "output.npy", backend=backend)
    data = fm.load("output.npy", backend=backend)
    assert isinstance(data, np.ndarray) and data.tolist() == [1, 2, 3]


def test_polystore_filemanager_save_batch(setup):
    fm, backend = setup
    data_list = [np.array([1, 2]), np.array([3, 4])]
    paths = ["data1.npy", "data2.npy"]
    fm.save_batch(data_list, paths, backend=backend)
    assert all(fm.exists(p, backend=backend) for p in paths)


def test_polystore_filemanager_load_batch(setup):
    fm, backend = setup
    fm.save_batch([np.array([1, 2]), np.array([3, 4])], ["data1.npy", "data2.npy"], backend=backend)
    paths = ["data1.npy", "data2.npy"]
    data_list = fm.load_batch(paths, backend=backend)
    assert [d.tolist() for d in data_list] == [[1, 2], [3, 4]]


def test_polystore_filemanager_list_files(setup):
    fm, backend = setup
    fm.ensure_directory("data/sub", backend=backend)
    fm.save(np.array([1]), "data/a.npy", backend=backend)
    fm.save(np.array([2]), "data/sub/b.npy", backend=backend)
    fm.save({"x": 1}, "data/c.json", backend=backend)
    # List all .npy files recursively
    files = fm.list_files("data", backend=backend, extensions={".npy"}, recursive=True)
    assert [f.rsplit("/", 1)[-1] for f in files] == ["a.npy", "b.npy"]
    assert files[0].endswith("data/a.npy") and files[1].endswith("data/sub/b.npy")
    assert len(fm.list_files("data", backend=backend)) == 2
    assert [f.rsplit("/", 1)[-1] for f in fm.list_files("data", backend=backend, pattern="*.json")] == ["c.json"]


def test_polystore_filemanager_ensure_directory(setup):
    fm, backend = setup
    path = fm.ensure_directory("data/experiment1", backend=backend)
    assert isinstance(path, str) and path.endswith("data/experiment1")
    assert fm.is_dir("data/experiment1", backend=backend)
    assert fm.ensure_directory("data/experiment1", backend=backend) == path  # idempotent


def test_polystore_filemanager_exists(setup):
    fm, backend = setup
    assert fm.exists("nothing.npy", backend) is False
    fm.save(np.array([1]), "x.npy", backend)
    exists = fm.exists("x.npy", backend)
    assert exists is True


def test_polystore_filemanager_is_file_and_is_dir(setup):
    fm, backend = setup
    fm.ensure_directory("d", backend)
    fm.save(np.array([1]), "d/x.npy", backend)
    is_file = fm.is_file("d/x.npy", backend)
    is_dir = fm.is_dir("d", backend)
    assert is_file is True and is_dir is True
    assert fm.is_file("d", backend) is False and fm.is_dir("d/x.npy", backend) is False
    assert fm.is_file("missing", backend) is False and fm.is_dir("missing", backend) is False


def test_polystore_filemanager_thread_safety_one_manager_per_thread(setup):
    fm, backend = setup
    registry = fm.registry
    errors = []

    def work(i):
        try:
            own = FileManager(registry)  # one manager per thread, shared registry
            own.save(np.array([i]), f"t{i}.npy", backend=backend)
            assert own.load(f"t{i}.npy", backend=backend).tolist() == [i]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(fm.list_files(".", backend) if backend == "disk" else fm.list_files("/" if backend == "memory" else "", backend)) == 4


def test_polystore_filemanager_disk_backend_metadata(tmp_path):
    fm = FileManager(BackendRegistry())
    data = np.array([1, 2, 3])
    # Save with metadata
    fm.save(data, "output.npy", backend="disk", metadata={"key": "value"})
    assert fm.get_metadata("output.npy", "disk") == {"key": "value"}
    assert fm.list_files(".", "disk") == ["./output.npy"]  # the sidecar is not listed
    assert fm.load("output.npy", "disk").tolist() == [1, 2, 3]
    fm.save(data, "output.npy", backend="disk")  # new content without metadata drops the old metadata
    assert fm.get_metadata("output.npy", "disk") is None


def test_polystore_filemanager_memory_backend_shared_dict():
    # Use shared dictionary for multiprocessing
    from multiprocessing import Manager

    manager = Manager()
    try:
        shared_dict = manager.dict()

        backend = MemoryBackend(shared_dict=shared_dict)
        registry = {"memory": backend}
        fm = FileManager(registry)

        fm.ensure_directory("/results", backend="memory")
        fm.save(np.array([4, 5]), "/results/a.npy", backend="memory")
        # a second backend over the same shared dict (as another process would build) sees it
        other = FileManager({"memory": MemoryBackend(shared_dict=shared_dict)})
        assert other.load("/results/a.npy", backend="memory").tolist() == [4, 5]
        assert "/results/a.npy" in shared_dict.keys()
    finally:
        manager.shutdown()
