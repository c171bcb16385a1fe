"""polystore-style backends and FileManager behaviour beyond the README (what polystore's own suite exercises).

Disk and Zarr on real temporary folders, memory with POSIX semantics, S3 on the
test server; plus errors: unknown backends, batch length mismatches, missing
paths, non-empty folders, symlink overwrites.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import storecore
from storecore import BackendRegistry, FileManager, StorecoreError
from storecore.apis.polystore_backends import FileFormatRegistry, natural_sort
from storecore.backends import DiskBackend, MemoryBackend, S3StorageBackend, StorageBackend, ZarrBackend
from storecore.errors import InvalidArgument


# ---------------------------------------------------------------------------- FileManager
def test_version_and_exports():
    assert storecore.__version__
    assert issubclass(DiskBackend, StorageBackend) and issubclass(MemoryBackend, StorageBackend)


def test_none_registry_raises_value_error():
    with pytest.raises(ValueError, match="Registry must be provided"):
        FileManager(None)


def test_registry_is_what_was_passed_dict_or_registry():
    d = {"disk": DiskBackend(), "memory": MemoryBackend()}
    assert FileManager(d).registry is d
    r = BackendRegistry()
    assert FileManager(r).registry is r
    assert isinstance(r["zarr"], ZarrBackend) and isinstance(r["s3"], S3StorageBackend)  # built on first use


def test_backend_names_are_case_insensitive():
    fm = FileManager(BackendRegistry())
    assert fm._get_backend("DISK") is fm._get_backend("disk") is fm._get_backend("Disk")
    assert fm._get_backend("memory")._backend_type == "memory"


@pytest.mark.parametrize("call", ["save", "load", "save_batch", "load_batch", "list_files", "exists"])
def test_unknown_backend_raises_storecore_error(tmp_path, call):
    fm = FileManager(BackendRegistry())
    p = tmp_path / "x.npy"
    calls = {
        "save": lambda: fm.save(np.zeros(2), p, backend="nope"),
        "load": lambda: fm.load(p, backend="nope"),
        "save_batch": lambda: fm.save_batch([np.zeros(1)], [p], backend="nope"),
        "load_batch": lambda: fm.load_batch([p], backend="nope"),
        "list_files": lambda: fm.list_files(tmp_path, backend="nope"),
        "exists": lambda: fm.exists(p, backend="nope"),
    }
    with pytest.raises(StorecoreError, match="not found in registry"):
        calls[call]()
    assert not p.exists()


@pytest.mark.parametrize("backend", ["disk", "memory", "zarr"])
def test_save_batch_length_mismatch_touches_nothing(tmp_path, backend):
    fm = FileManager(BackendRegistry())
    base = str(tmp_path) if backend != "memory" else "/x"
    fm.ensure_directory(base, backend)
    paths = [f"{base}/one.npy", f"{base}/two.npy"]
    with pytest.raises(StorecoreError) as info:
        fm.save_batch([np.array([1])], paths, backend=backend)
    assert isinstance(info.value, ValueError)
    assert fm.list_files(base, backend) == []
    with pytest.raises(ValueError):
        fm._get_backend(backend).save_batch([np.array([1])], paths)  # the backends check too
    assert fm.list_files(base, backend) == []


def test_save_batch_length_mismatch_on_s3_touches_nothing(s3_root):
    fm = FileManager({"s3": S3StorageBackend(s3_root)})
    with pytest.raises(ValueError) as info:
        fm.save_batch([1, 2, 3], ["a.json", "b.json"], "s3")
    assert isinstance(info.value, StorecoreError)
    assert fm.list_files("", "s3") == []


@pytest.mark.parametrize("backend", ["disk", "memory"])
def test_round_trips_and_pathlike_paths(tmp_path, backend):
    fm = FileManager(BackendRegistry())
    base = tmp_path if backend == "disk" else PurePosixPath("/test")
    fm.ensure_directory(base, backend)
    payloads = {"arr.npy": np.arange(6).reshape(2, 3), "hello.txt": "hello world", "data.json": {"a": 1, "b": "two"}}
    for name, value in payloads.items():
        fm.save(value, base / name, backend=backend)
        out = fm.load(str(base / name), backend=backend)
        assert np.array_equal(out, value) if name.endswith(".npy") else out == value


def test_list_dir_find_and_delete_on_disk(tmp_path):
    fm = FileManager(BackendRegistry())
    fm.save(np.zeros((5, 5)), tmp_path / "file1.npy", backend="disk")
    fm.save(np.ones((5, 5)), tmp_path / "file2.npy", backend="disk")
    fm.ensure_directory(tmp_path / "subdir", backend="disk")
    fm.save(np.ones(1), tmp_path / "subdir" / "target.npy", backend="disk")
    assert fm.list_dir(tmp_path, backend="disk") == ["file1.npy", "file2.npy", "subdir"]
    found = fm.find_file_recursive(tmp_path, "target.npy", backend="disk")
    assert found is not None and found.endswith("subdir/target.npy")
    assert fm.find_file_recursive(tmp_path, "nope.npy", backend="disk") is None
    with pytest.raises(IsADirectoryError):
        fm.delete(tmp_path / "subdir", backend="disk")
    assert fm.delete_all(tmp_path / "subdir", backend="disk") is True
    fm.ensure_directory(tmp_path / "empty", backend="disk")
    assert fm.delete(tmp_path / "empty", backend="disk") is True and not (tmp_path / "empty").exists()
    fm.delete(tmp_path / "file1.npy", backend="disk")
    assert not (tmp_path / "file1.npy").exists()
    with pytest.raises(FileNotFoundError):
        fm.delete(tmp_path / "file1.npy", backend="disk")


def test_load_missing_raises_file_not_found(tmp_path):
    fm = FileManager(BackendRegistry())
    for backend, path in (("disk", tmp_path / "missing.npy"), ("memory", "/missing.npy"), ("zarr", tmp_path / "m.zarr")):
        with pytest.raises(FileNotFoundError) as info:
            fm.load(path, backend=backend)
        assert isinstance(info.value, StorecoreError)


def test_unknown_extension_raises_value_error(tmp_path):
    fm = FileManager(BackendRegistry())
    with pytest.raises(ValueError):
        fm.save(object(), tmp_path / "x.unknownext", backend="disk")
    assert not (tmp_path / "x.unknownext").exists()


@pytest.mark.parametrize("backend", ["disk", "memory"])
def test_list_image_files_natural_sort_pattern_recursive(tmp_path, backend):
    fm = FileManager(BackendRegistry())
    base = str(tmp_path / "imgs") if backend == "disk" else "/imgs"
    fm.ensure_directory(base + "/sub", backend)
    for i in (20, 1, 10, 2):
        fm.save(np.zeros((4, 4), dtype=np.uint8), f"{base}/image_{i}.tif", backend=backend)
    fm.save(np.zeros(3), f"{base}/data.npy", backend=backend)
    fm.save(np.zeros((4, 4), dtype=np.uint8), f"{base}/sub/nested.tif", backend=backend)
    files = fm.list_image_files(base, backend=backend)
    assert [f.rsplit("/", 1)[-1] for f in files] == ["image_1.tif", "image_2.tif", "image_10.tif", "image_20.tif"]
    assert len(fm.list_image_files(base, backend=backend, recursive=True)) == 5
    assert len(fm.list_image_files(base, backend=backend, pattern="image_1*")) == 2
    fm.save("x", f"{base}/img2.txt", backend=backend)
    fm.save("x", f"{base}/img10.txt", backend=backend)
    txt = fm.list_image_files(base, backend=backend, extensions={".txt"})
    assert txt[0].endswith("img2.txt") and txt[1].endswith("img10.txt")


def test_disk_tif_written_from_numpy_round_trips(tmp_path):
    fm = FileManager(BackendRegistry())
    for dtype in ("uint8", "uint16", "float32", "int64"):
        arr = np.arange(12, dtype=dtype).reshape(3, 4)
        fm.save(arr, tmp_path / f"{dtype}.tif", backend="disk")
        out = fm.load(tmp_path / f"{dtype}.tif", backend="disk")
        np.testing.assert_array_equal(out, arr)


def test_symlinks_through_filemanager(tmp_path):
    fm = FileManager(BackendRegistry())
    fm.save(np.zeros((5, 5)), tmp_path / "source.npy", backend="disk")
    assert fm.create_symlink(tmp_path / "source.npy", tmp_path / "links" / "link.npy", backend="disk")
    assert fm.is_symlink(tmp_path / "links" / "link.npy", backend="disk")
    assert not fm.is_symlink(tmp_path / "source.npy", backend="disk")
    assert fm.load(tmp_path / "links" / "link.npy", backend="disk").shape == (5, 5)
    with pytest.raises(FileExistsError):
        fm.create_symlink(tmp_path / "source.npy", tmp_path / "links" / "link.npy", backend="disk")
    assert fm.create_symlink(tmp_path / "source.npy", tmp_path / "links" / "link.npy", backend="disk", overwrite=True)


# ---------------------------------------------------------------------------- DiskBackend
def test_disk_text_json_csv(tmp_path: Path):
    disk = DiskBackend()
    disk.ensure_directory(tmp_path)
    disk.save("hello", tmp_path / "a.txt")
    assert disk.load(tmp_path / "a.txt") == "hello"
    disk.save({"x": 1, "y": "two"}, tmp_path / "data.json")
    assert disk.load(tmp_path / "data.json") == {"x": 1, "y": "two"}
    rows = [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    disk.save(rows, tmp_path / "rows.csv")
    assert disk.load(tmp_path / "rows.csv") == rows
    disk.save({"k": "v"}, tmp_path / "one.csv")
    assert disk.load(tmp_path / "one.csv") == [{"k": "v"}]


def test_disk_breadth_first_and_filters(tmp_path):
    disk = DiskBackend()
    base = tmp_path / "root2"
    disk.ensure_directory(base / "a" / "b")
    disk.save("d", base / "a" / "b" / "deep.txt")
    disk.save("r", base / "zz_rootfile.txt")
    disk.save("r", base / "a" / "mid.npy.txt")
    files = disk.list_files(base, recursive=True)
    assert [os.path.basename(f) for f in files] == ["zz_rootfile.txt", "mid.npy.txt", "deep.txt"]
    assert disk.list_files(base) == [str(base / "zz_rootfile.txt")]
    assert disk.list_files(base, pattern="deep*", recursive=True) == [str(base / "a" / "b" / "deep.txt")]
    with pytest.raises(NotADirectoryError):
        disk.list_files(base / "zz_rootfile.txt")
    with pytest.raises(FileNotFoundError):
        disk.list_files(base / "missing")


def test_disk_is_file_is_dir_raise_on_wrong_kind(tmp_path):
    disk = DiskBackend()
    disk.save("x", tmp_path / "f.txt")
    assert disk.is_dir(tmp_path) and disk.is_file(tmp_path / "f.txt")
    with pytest.raises(IsADirectoryError):
        disk.is_file(tmp_path)
    with pytest.raises(NotADirectoryError):
        disk.is_dir(tmp_path / "f.txt")
    with pytest.raises(FileNotFoundError):
        disk.is_file(tmp_path / "nope")


def test_disk_nonempty_delete_and_delete_all(tmp_path):
    disk = DiskBackend()
    base = tmp_path / "root"
    disk.save("y", base / "sub" / "g.txt")  # parents are created
    with pytest.raises(IsADirectoryError):
        disk.delete(base)
    assert (base / "sub" / "g.txt").exists()
    disk.delete_all(base)
    assert not base.exists()
    with pytest.raises(FileNotFoundError):
        disk.delete_all(base)


def test_disk_save_is_atomic_on_encoding_failure(tmp_path):
    disk = DiskBackend()
    disk.save({"a": 1}, tmp_path / "cfg.json")
    with pytest.raises(ValueError):
        disk.save({"a": object()}, tmp_path / "cfg.json")
    assert disk.load(tmp_path / "cfg.json") == {"a": 1}
    assert os.listdir(tmp_path) == ["cfg.json"]


def test_disk_move_copy_stat(tmp_path):
    disk = DiskBackend()
    disk.save("x", tmp_path / "a.txt")
    disk.copy(tmp_path / "a.txt", tmp_path / "b.txt")
    with pytest.raises(FileExistsError):
        disk.copy(tmp_path / "a.txt", tmp_path / "b.txt")
    disk.move(tmp_path / "b.txt", tmp_path / "d" / "c.txt")
    assert disk.load(tmp_path / "d" / "c.txt") == "x" and not (tmp_path / "b.txt").exists()
    assert disk.stat(tmp_path / "a.txt")["type"] == "file" and disk.stat(tmp_path / "zz")["type"] == "missing"


def test_file_format_registry_api():
    registry = FileFormatRegistry()

    def writer(path, data):
        path.write_text(str(data))

    def reader(path):
        return path.read_text()

    registry.register(".foo", writer, reader)
    assert registry.is_registered(".foo") and registry.get_reader(".foo") is reader and registry.get_writer(".foo") is writer
    with pytest.raises(ValueError):
        registry.register(".foo", writer, reader)


# ---------------------------------------------------------------------------- MemoryBackend
@pytest.fixture
def mem():
    b = MemoryBackend()
    b.ensure_directory("/test/sub")
    return b


def test_memory_init_and_shared_dict():
    assert isinstance(MemoryBackend()._memory_store, dict)
    shared = {"existing": "data"}
    b = MemoryBackend(shared_dict=shared)
    assert b._memory_store is shared and "existing" in b._memory_store


def test_memory_posix_save_rules(mem):
    mem.save(np.array([1, 2, 3]), "/test/data.npy")
    assert mem.load("/test/data.npy").tolist() == [1, 2, 3]
    assert mem.load("test/data.npy").tolist() == [1, 2, 3]  # normalised
    with pytest.raises(FileNotFoundError):
        mem.save(np.array([1]), "/nonexistent/data.npy")
    with pytest.raises(FileExistsError):
        mem.save(np.array([1]), "/test/data.npy")
    with pytest.raises(FileNotFoundError):
        mem.load("/test/missing.npy")
    with pytest.raises(IsADirectoryError):
        mem.load("/test")
    with pytest.raises(NotADirectoryError):
        mem.save(1, "/test/data.npy/inner.npy")


def test_memory_is_file_is_dir_raise(mem):
    mem.save("data", "/test/file.txt")
    assert mem.is_file("/test/file.txt") is True and mem.is_dir("/test") is True
    with pytest.raises(IsADirectoryError):
        mem.is_file("/test")
    with pytest.raises(NotADirectoryError):
        mem.is_dir("/test/file.txt")
    with pytest.raises(FileNotFoundError):
        mem.is_dir("/missing")


def test_memory_ensure_directory_returns_normalised_path(mem):
    assert str(mem.ensure_directory("/new/nested/dir")) == "/new/nested/dir"
    assert str(mem.ensure_directory("new//nested/dir/")) == "/new/nested/dir"
    assert mem.exists("/new/nested") and mem.is_dir("/new/nested/dir")
    mem.save("x", "/new/f.txt")
    with pytest.raises(NotADirectoryError):
        mem.ensure_directory("/new/f.txt/below")


def test_memory_listing(mem):
    for i in range(3):
        mem.save(np.array([i]), f"/test/file{i}.npy")
    mem.save("text", "/test/data2.txt")
    mem.save("deep", "/test/sub/deep.txt")
    assert len(mem.list_files("/test")) == 4
    assert len(mem.list_files("/test", extensions={".npy"})) == 3
    assert mem.list_files("/test", pattern="data*") == ["/test/data2.txt"]
    rec = mem.list_files("/test", recursive=True)
    assert rec[-1] == "/test/sub/deep.txt" and len(rec) == 5
    assert mem.list_dir("/test") == ["data2.txt", "file0.npy", "file1.npy", "file2.npy", "sub"]
    with pytest.raises(FileNotFoundError):
        mem.list_files("/nonexistent")
    with pytest.raises(NotADirectoryError):
        mem.list_dir("/test/data2.txt")


def test_memory_delete_rules(mem):
    mem.save(np.array([1]), "/test/file.npy")
    with pytest.raises(IsADirectoryError):
        mem.delete("/test")
    mem.delete("/test/file.npy")
    assert not mem.exists("/test/file.npy")
    with pytest.raises(FileNotFoundError):
        mem.delete("/test/missing.npy")
    mem.delete("/test/sub")  # empty
    mem.save("a", "/test/x.txt")
    mem.delete_all("/test")
    assert not mem.exists("/test")
    with pytest.raises(FileNotFoundError):
        mem.delete_all("/test")


def test_memory_move_copy_symlink_stat(mem):
    data = np.array([1, 2, 3])
    mem.save(data, "/test/source.npy")
    mem.copy("/test/source.npy", "/test/sub/copy.npy")
    mem._memory_store[mem._normalize("/test/source.npy")] = np.array([99])
    assert mem.load("/test/sub/copy.npy").tolist() == [1, 2, 3]  # independent copy
    with pytest.raises(FileNotFoundError, match="Destination parent"):
        mem.move("/test/source.npy", "/nonexistent/dest.npy")
    with pytest.raises(FileNotFoundError, match="Source not found"):
        mem.copy("/test/nope.npy", "/test/x.npy")
    with pytest.raises(FileExistsError):
        mem.move("/test/source.npy", "/test/sub/copy.npy")
    mem.move("/test/sub", "/test/moved")
    assert mem.is_file("/test/moved/copy.npy") and not mem.exists("/test/sub")
    mem.create_symlink("/test/source.npy", "/test/link.npy")
    assert mem.is_symlink("/test/link.npy") and mem.load("/test/link.npy").tolist() == [99]
    assert mem.stat("/test/link.npy") == {"type": "symlink", "path": "/test/link.npy", "target": "/test/source.npy", "exists": True}
    with pytest.raises(FileExistsError):
        mem.create_symlink("/test/source.npy", "/test/link.npy")
    mem.create_symlink("/test/source.npy", "/test/link.npy", overwrite=True)
    with pytest.raises(FileNotFoundError):
        mem.create_symlink("/test/nonexistent.npy", "/test/l2.npy")
    mem.delete("/test/source.npy")
    assert mem.stat("/test/link.npy")["exists"] is False and mem.stat("/test/zz")["type"] == "missing"
    mem.clear_files_only()
    assert mem.is_dir("/test/moved") and not mem.exists("/test/link.npy")


# ---------------------------------------------------------------------------- ZarrBackend
def test_zarr_backend_arrays(tmp_path):
    z = ZarrBackend()
    assert z._backend_type == "zarr"
    for dtype in (np.uint8, np.uint16, np.int32, np.float32, np.float64):
        data = np.arange(100, dtype=dtype).reshape(10, 10)
        z.save(data, tmp_path / f"t_{dtype.__name__}.zarr")
        out = z.load(tmp_path / f"t_{dtype.__name__}.zarr")
        assert out.dtype == dtype and np.array_equal(out, data)
    nested = tmp_path / "new" / "nested" / "t.zarr"
    assert not z.exists(nested)
    z.save(np.zeros((5, 6, 7)), nested, chunks=(5, 3, 7))
    assert z.exists(nested) and z.load(nested, lazy=True).chunks == (5, 3, 7)
    z.save(np.ones((2, 2)), nested)  # replace
    assert z.load(nested).tolist() == [[1, 1], [1, 1]]
    assert [os.path.basename(p) for p in z.list_files(tmp_path / "new", recursive=True)] == ["t.zarr"]
    with pytest.raises(FileNotFoundError):
        z.load(tmp_path / "nonexistent.zarr")
    z.save({"a": 1}, tmp_path / "meta.json")  # passthrough to disk
    assert z.load(tmp_path / "meta.json") == {"a": 1}


# ---------------------------------------------------------------------------- S3StorageBackend


@pytest.mark.s3
def test_s3_backend_through_filemanager(s3_root):
    fm = FileManager({"s3": S3StorageBackend()})
    base = s3_root + "/exp"
    fm.ensure_directory(base, "s3")
    data = [np.full(4, i) for i in range(20)]
    paths = [f"{base}/run/{i:02d}.npy" for i in range(20)]
    fm.save_batch(data, paths, "s3")
    fm.save({"k": 1}, f"{base}/cfg.json", "s3")
    loaded = fm.load_batch(paths, "s3")
    assert [int(a[0]) for a in loaded] == list(range(20))
    assert fm.list_files(base, "s3") == [f"{base}/cfg.json"]
    rec = fm.list_files(base, "s3", recursive=True, extensions={".npy"})
    assert rec == paths
    assert fm.is_dir(f"{base}/run", "s3") and fm.is_file(f"{base}/cfg.json", "s3")
    assert not fm.is_file(f"{base}/run", "s3") and not fm.is_dir(f"{base}/cfg.json", "s3")
    assert fm.list_dir(base, "s3") == ["cfg.json", "run"]
    with pytest.raises(IsADirectoryError):
        fm.delete(f"{base}/run", "s3")
    fm.delete_all(f"{base}/run", "s3")
    assert not fm.exists(f"{base}/run/00.npy", "s3")
    with pytest.raises(FileNotFoundError):
        fm.load(f"{base}/run/00.npy", "s3")


@pytest.mark.s3
def test_s3_backend_relative_keys_need_a_root(s3_root):
    with pytest.raises(InvalidArgument):
        S3StorageBackend().save(1, "relative.json")
    b = S3StorageBackend(s3_root)
    b.save([{"a": "1"}], "t/rows.csv")
    assert b.load("t/rows.csv") == [{"a": "1"}]
    assert b.load(s3_root + "/t/rows.csv") == [{"a": "1"}]


def test_natural_sort_helper():
    assert natural_sort(["img10", "img2", "img1"]) == ["img1", "img2", "img10"]


# ---------------------------------------------------------------------------- properties
@settings(max_examples=15, deadline=None)
@given(
    arr=hnp.arrays(dtype=st.sampled_from(["int16", "float64", "bool", "complex64"]), shape=hnp.array_shapes(max_dims=3, max_side=4)),
    obj=st.dictionaries(st.text(max_size=5), st.one_of(st.integers(-(10**9), 10**9), st.text(max_size=5), st.booleans()), max_size=4),
)
def test_filemanager_round_trip_property(tmp_path_factory, arr, obj):
    d = tmp_path_factory.mktemp("fm")
    fm = FileManager(BackendRegistry())
    fm.ensure_directory("/p", "memory")
    for backend, base in (("disk", str(d)), ("memory", "/p")):
        fm.save(arr, f"{base}/a.npy", backend)
        fm.save(obj, f"{base}/o.json", backend)
        out = fm.load(f"{base}/a.npy", backend)
        assert out.dtype == arr.dtype and np.array_equal(out, arr, equal_nan=True)
        assert fm.load(f"{base}/o.json", backend) == obj
        fm.delete(f"{base}/a.npy", backend)
        fm.delete(f"{base}/o.json", backend)


def test_disk_durable_false_is_still_atomic(tmp_path, monkeypatch):
    disk = DiskBackend(durable=False)
    disk.save({"a": 1}, tmp_path / "sub" / "cfg.json", metadata={"m": 2})
    assert disk.load(tmp_path / "sub" / "cfg.json") == {"a": 1} and disk.load_metadata(tmp_path / "sub" / "cfg.json") == {"m": 2}

    def boom(*a, **k):
        raise OSError("rename failed (simulated)")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        disk.save({"a": 2}, tmp_path / "sub" / "cfg.json")
    monkeypatch.undo()
    assert disk.load(tmp_path / "sub" / "cfg.json") == {"a": 1}
    assert disk.list_dir(tmp_path / "sub") == ["cfg.json"]  # no temporary left behind


def test_filemanager_delete_recursive_and_symlink_flags(tmp_path):
    fm = FileManager(BackendRegistry())
    fm.save("x", tmp_path / "d" / "a.txt", "disk")
    assert fm.delete(tmp_path / "d", "disk", recursive=True) and not (tmp_path / "d").exists()
    fm.save("s", tmp_path / "src.txt", "disk")
    fm.save("plain", tmp_path / "plain.txt", "disk")
    with pytest.raises(FileExistsError):
        fm.create_symlink(tmp_path / "src.txt", tmp_path / "plain.txt", "disk", overwrite_symlinks_only=True)
    assert fm.load(tmp_path / "plain.txt", "disk") == "plain"
    fm.create_symlink(tmp_path / "plain.txt", tmp_path / "ln.txt", "disk")
    fm.create_symlink(tmp_path / "src.txt", tmp_path / "ln.txt", "disk", overwrite_symlinks_only=True)
    assert fm.load(tmp_path / "ln.txt", "disk") == "s"


def test_remote_batches_run_concurrently(memory_root, monkeypatch):
    import threading

    import storecore.backends.registry as reg

    backend, _ = reg.backend_for(memory_root)
    original_write, original_read = backend.write_bytes, backend.read_bytes

    def gated(fn):
        # The first two calls meet at a barrier: that only happens when two calls are in flight at once.
        barrier = threading.Barrier(2, timeout=10)
        count = iter(range(10**6))
        lock = threading.Lock()

        def call(*a, **k):
            with lock:
                n = next(count)
            if n < 2:
                barrier.wait()
            return fn(*a, **k)

        return call

    monkeypatch.setattr(backend, "write_bytes", gated(original_write))
    monkeypatch.setattr(backend, "read_bytes", gated(original_read))
    fm = FileManager({"remote": S3StorageBackend(memory_root)})
    paths = [f"b/{i}.json" for i in range(16)]
    fm.save_batch([{"i": i} for i in range(16)], paths, "remote")
    assert fm.load_batch(paths, "remote") == [{"i": i} for i in range(16)]
