"""Every backend method, the same tests on local disk, memory and the real S3 server."""

from __future__ import annotations

import io
import os

import pytest

import storecore
from storecore.errors import AlreadyExists, InvalidLocation, IsADirectory, NotADirectory, NotFound


def backend(root):
    b, loc = storecore.backend_for(root)
    return b, loc.path


def p(base, *parts):
    return "/".join([base.rstrip("/"), *parts]) if base else "/".join(parts)


def test_write_read_stat_round_trip(any_root):
    b, base = backend(any_root)
    key = p(base, "dir", "hello.txt")
    b.write_bytes(key, b"hello world")
    assert b.read_bytes(key) == b"hello world"
    st = b.stat(key)
    assert st.size == 11 and not st.is_dir and st.name == "hello.txt" and st.etag
    assert st.mtime is not None
    assert b.exists(key) and b.is_file(key) and not b.is_dir(key)
    assert b.is_dir(p(base, "dir")) and not b.is_file(p(base, "dir"))
    assert b.stat(p(base, "dir")).is_dir


def test_ranged_reads_are_end_exclusive(any_root):
    b, base = backend(any_root)
    key = p(base, "r.bin")
    data = bytes(range(256)) * 4
    b.write_bytes(key, data)
    assert b.read_bytes(key, 10, 20) == data[10:20]
    assert b.read_bytes(key, 1000) == data[1000:]
    assert b.read_bytes(key, None, 5) == data[:5]
    assert b.read_bytes(key, 5, 5) == b""
    assert b.read_bytes(key, 2000, 3000) == b""
    assert b.read_bytes(key, -4) == data[-4:]


def test_open_is_lazy_and_seekable(any_root):
    b, base = backend(any_root)
    key = p(base, "big.bin")
    data = os.urandom(3 * 1024 * 1024 + 17)
    b.write_bytes(key, data)
    with b.open(key) as f:
        assert f.seekable()
        f.seek(1024 * 1024)
        assert f.read(10) == data[1024 * 1024 : 1024 * 1024 + 10]
        f.seek(-7, io.SEEK_END)
        assert f.read() == data[-7:]
        assert f.tell() == len(data)
        f.seek(0)
        assert f.read() == data
    if hasattr(f, "bytes_fetched"):
        assert f.requests >= 2


def test_open_write_is_atomic(any_root):
    b, base = backend(any_root)
    key = p(base, "atomic.bin")
    b.write_bytes(key, b"old")
    with pytest.raises(RuntimeError):
        with b.open(key, "wb") as f:
            f.write(b"new half")
            raise RuntimeError("writer died")
    assert b.read_bytes(key) == b"old"
    with b.open(key, "wb") as f:
        f.write(b"new")
    assert b.read_bytes(key) == b"new"


def test_write_from_streams_with_progress(any_root):
    b, base = backend(any_root)
    key = p(base, "stream.bin")
    data = os.urandom(2 * 1024 * 1024)
    seen = []
    b.write_from(key, io.BytesIO(data), progress=lambda done, total: seen.append((done, total)), size=len(data))
    assert b.read_bytes(key) == data
    assert seen and seen[-1][0] == len(data)
    out = io.BytesIO()
    got = []
    assert b.read_to(key, out, progress=lambda d, t: got.append(d)) == len(data)
    assert out.getvalue() == data and got[-1] == len(data)


def test_ls_lists_files_and_dirs_and_filters(any_root):
    b, base = backend(any_root)
    for name in ("a.npy", "b.npy", "c.json", "sub/d.npy", "sub/deeper/e.txt"):
        b.write_bytes(p(base, "tree", name), b"x" * 3)
    names = sorted((e.name, e.is_dir) for e in b.ls(p(base, "tree")))
    assert names == [("a.npy", False), ("b.npy", False), ("c.json", False), ("sub", True)]
    rec = sorted(e.name for e in b.ls(p(base, "tree"), recursive=True))
    assert rec == ["a.npy", "b.npy", "c.json", "d.npy", "e.txt"]
    assert sorted(e.name for e in b.ls(p(base, "tree"), pattern="*.npy")) == ["a.npy", "b.npy"]
    assert sorted(e.name for e in b.ls(p(base, "tree"), recursive=True, extensions={".npy"})) == ["a.npy", "b.npy", "d.npy"]
    # entries give back paths the backend accepts
    for e in b.ls(p(base, "tree")):
        assert b.stat(e.path).is_dir == e.is_dir


def test_ls_missing_prefix_and_file_prefix(any_root):
    b, base = backend(any_root)
    with pytest.raises(NotFound):
        list(b.ls(p(base, "nope")))
    b.write_bytes(p(base, "f.txt"), b"1")
    with pytest.raises(NotADirectory):
        list(b.ls(p(base, "f.txt")))


def test_mkdir_delete_copy_move(any_root):
    b, base = backend(any_root)
    b.mkdir(p(base, "empty"))
    assert b.is_dir(p(base, "empty"))
    assert [e.name for e in b.ls(p(base, "empty"))] == []
    with pytest.raises(AlreadyExists):
        b.mkdir(p(base, "empty"), exist_ok=False)
    b.write_bytes(p(base, "src", "one.txt"), b"1")
    b.write_bytes(p(base, "src", "two", "three.txt"), b"333")
    b.copy(p(base, "src"), p(base, "dst"))
    assert b.read_bytes(p(base, "dst", "two", "three.txt")) == b"333"
    assert b.read_bytes(p(base, "src", "one.txt")) == b"1"
    b.copy(p(base, "src", "one.txt"), p(base, "copy.txt"))
    assert b.read_bytes(p(base, "copy.txt")) == b"1"
    b.move(p(base, "copy.txt"), p(base, "moved.txt"))
    assert not b.exists(p(base, "copy.txt")) and b.read_bytes(p(base, "moved.txt")) == b"1"
    b.move(p(base, "dst"), p(base, "dst2"))
    assert not b.exists(p(base, "dst")) and b.read_bytes(p(base, "dst2", "one.txt")) == b"1"
    with pytest.raises(AlreadyExists):
        b.delete(p(base, "src"), recursive=False)
    b.delete(p(base, "src"))
    assert not b.exists(p(base, "src"))
    b.delete(p(base, "moved.txt"))
    assert not b.exists(p(base, "moved.txt"))
    with pytest.raises(NotFound):
        b.delete(p(base, "moved.txt"))


def test_missing_paths_raise_not_found_naming_them(any_root):
    b, base = backend(any_root)
    key = p(base, "missing", "file.bin")
    for call in (lambda: b.stat(key), lambda: b.read_bytes(key), lambda: b.open(key)):
        with pytest.raises(NotFound) as info:
            call()
        assert "missing/file.bin" in str(info.value)
        assert isinstance(info.value, FileNotFoundError)
    assert not b.exists(key) and not b.is_file(key) and not b.is_dir(key)


def test_reading_a_directory_raises(any_root):
    b, base = backend(any_root)
    b.write_bytes(p(base, "d", "x"), b"1")
    with pytest.raises(IsADirectory):
        b.read_bytes(p(base, "d"))
    with pytest.raises(IsADirectory):
        b.open(p(base, "d"))


def test_path_traversal_in_keys_is_refused(any_root):
    b, base = backend(any_root)
    with pytest.raises(InvalidLocation):
        b.write_bytes("../../outside.txt", b"x")
    with pytest.raises(InvalidLocation):
        b.read_bytes("a/../../etc/passwd")


def test_local_root_scoping_refuses_escape(tmp_path):
    from storecore.backends.local import LocalBackend

    inner = tmp_path / "mount"
    inner.mkdir()
    (tmp_path / "secret.txt").write_text("s")
    b = LocalBackend(str(inner))
    with pytest.raises(InvalidLocation):
        b.read_bytes("../secret.txt")
    b.write_bytes("ok/x.txt", b"1")
    assert (inner / "ok" / "x.txt").read_bytes() == b"1"
    assert [e.path for e in b.ls("ok")] == ["ok/x.txt"]


def test_local_atomic_write_leaves_no_visible_partial_file(local_root):
    from storecore.backends.local import TMP_SUFFIX

    b, base = backend(local_root)
    target = p(base, "f.bin")

    class Exploding(io.RawIOBase):
        def __init__(self):
            self.n = 0

        def readable(self):
            return True

        def readinto(self, buf):
            self.n += 1
            if self.n > 2:
                raise OSError("source died")
            buf[:4] = b"abcd"
            return 4

    with pytest.raises((OSError, storecore.StorecoreError)):
        b.write_from(target, Exploding())
    assert not os.path.exists(target)
    assert not [n for n in os.listdir(local_root) if n.endswith(TMP_SUFFIX)]


def test_local_listing_hides_temp_files_of_killed_writers(local_root):
    from storecore.backends.local import TMP_SUFFIX

    open(os.path.join(local_root, ".x.bin.abc" + TMP_SUFFIX), "wb").close()
    open(os.path.join(local_root, "x.bin"), "wb").close()
    b, base = backend(local_root)
    assert [e.name for e in b.ls(base)] == ["x.bin"]


def test_memory_backend_wraps_a_caller_mapping():
    from storecore.backends.memory import InMemoryBackend

    shared: dict = {}
    b = InMemoryBackend("shared", mapping=shared)
    b.write_bytes("a/b.txt", b"hi")
    assert shared["a/b.txt"][0] == b"hi"
    other = InMemoryBackend("shared", mapping=shared)
    assert other.read_bytes("a/b.txt") == b"hi"


def test_memory_backend_is_thread_safe():
    from concurrent.futures import ThreadPoolExecutor

    from storecore.backends.memory import InMemoryBackend

    b = InMemoryBackend("threads")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: b.write_bytes(f"k/{i}.bin", str(i).encode()), range(500)))
    assert len(list(b.ls("k"))) == 500
    assert b.read_bytes("k/77.bin") == b"77"


def test_memory_uri_is_one_store_per_name(memory_root):
    b1, loc = storecore.backend_for(memory_root + "/x")
    b2, _ = storecore.backend_for(memory_root + "/y")
    assert b1 is b2
    b1.write_bytes(loc.path, b"1")
    assert b2.read_bytes("x") == b"1"
