"""RemoteCache: ETag validation with one small request, refetch on change, expiry, LRU, atomic fills."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

import storecore
from storecore.cache import RemoteCache, cleanup_cache
from storecore.errors import BackendUnavailable, ChecksumMismatch, InvalidArgument, IsADirectory, NotFound


@pytest.fixture
def cache(tmp_path):
    return RemoteCache(directory=str(tmp_path / "cache"))


class RequestCounter:
    """Counts HTTP requests a boto3 client sends (and which operations)."""

    def __init__(self, client):
        self.client = client
        self.ops: list[str] = []

    def __enter__(self):
        self.client.meta.events.register("before-send.s3", self._hook)
        return self

    def _hook(self, request, **_kw):
        self.ops.append(request.method)

    def __exit__(self, *exc):
        self.client.meta.events.unregister("before-send.s3", self._hook)


def test_local_paths_are_returned_as_is(cache, local_root):
    path = os.path.join(local_root, "f.txt")
    with open(path, "w") as f:
        f.write("x")
    assert cache.local_path(path) == path
    assert cache.entries() == []


@pytest.mark.s3
def test_s3_reopen_unchanged_costs_one_small_request_and_change_refetches(cache, s3_root):
    backend, loc = storecore.backend_for(f"{s3_root}/d/obj.bin")
    backend.write_bytes(loc.path, b"a" * 100_000)
    uri = f"{s3_root}/d/obj.bin"
    first = cache.local_path(uri)
    assert open(first, "rb").read() == b"a" * 100_000
    assert (cache.misses, cache.hits) == (1, 0)
    with RequestCounter(backend.client) as counter:
        again = cache.local_path(uri)
    assert again == first and counter.ops == ["GET"]  # one conditional GET answered 304, no body
    assert (cache.misses, cache.hits, cache.validations) == (1, 1, 1)
    backend.write_bytes(loc.path, b"changed")
    with RequestCounter(backend.client) as counter:
        changed = cache.local_path(uri)
    assert open(changed, "rb").read() == b"changed" and counter.ops == ["GET"]
    assert not os.path.exists(first)  # the old version's file is gone
    assert [e.size for e in cache.entries()] == [7]
    backend.delete(loc.path)
    with pytest.raises(NotFound):
        cache.local_path(uri)
    assert cache.entries() == []  # a deleted object's copy is not kept


@pytest.mark.s3
def test_s3_empty_object(cache, s3_root):
    storecore.backend_for(s3_root)[0].write_bytes("empty.bin", b"")
    path = cache.local_path(f"{s3_root}/empty.bin")
    assert os.path.getsize(path) == 0
    assert cache.local_path(f"{s3_root}/empty.bin") == path and cache.hits == 1


@pytest.mark.s3
def test_s3_missing_object_and_directory(cache, s3_root):
    with pytest.raises(NotFound):
        cache.local_path(f"{s3_root}/nothing.bin")
    storecore.backend_for(s3_root)[0].write_bytes("dir/x.bin", b"1")
    with pytest.raises(IsADirectory):
        cache.local_path(f"{s3_root}/dir")
    assert cache.entries() == []


def test_memory_backend_validated_by_stat(cache, memory_root):
    backend, _ = storecore.backend_for(memory_root)
    backend.write_bytes("k.bin", b"one")
    uri = f"{memory_root}/k.bin"
    assert open(cache.local_path(uri), "rb").read() == b"one"
    assert open(cache.local_path(uri), "rb").read() == b"one"
    assert (cache.misses, cache.hits) == (1, 1)
    backend.write_bytes("k.bin", b"two!")
    assert open(cache.local_path(uri), "rb").read() == b"two!"
    assert cache.misses == 2
    backend.delete("k.bin")
    with pytest.raises(NotFound):
        cache.local_path(uri)
    assert cache.entries() == []


def test_entries_persist_across_instances_and_refresh(tmp_path, memory_root):
    storecore.backend_for(memory_root)[0].write_bytes("k.bin", b"v")
    uri = f"{memory_root}/k.bin"
    RemoteCache(tmp_path / "c").local_path(uri)
    second = RemoteCache(tmp_path / "c")
    second.local_path(uri)
    assert (second.misses, second.hits) == (0, 1)
    second.local_path(uri, refresh=True)
    assert second.misses == 1


def test_expiry_refetches_and_zero_never_expires(tmp_path, memory_root):
    storecore.backend_for(memory_root)[0].write_bytes("k.bin", b"v")
    uri = f"{memory_root}/k.bin"
    never = RemoteCache(tmp_path / "c", expiry_hours=0)
    never.local_path(uri)
    meta = [p for p in never._files() if p.endswith(".json")][0]
    # age the entry by rewriting its fetch time (plain JSON metadata) ten hours into the past
    data = json.loads(open(meta).read())
    data["fetched"] = time.time() - 10 * 3600
    with open(meta, "w") as f:
        json.dump(data, f)
    never.local_path(uri)
    assert (never.misses, never.hits) == (1, 1)
    hourly = RemoteCache(tmp_path / "c", expiry_hours=1)
    hourly.local_path(uri)
    assert (hourly.misses, hourly.hits) == (1, 0)  # 10 h old > 1 h: fetched again


def test_lru_eviction_keeps_recently_used(tmp_path, memory_root):
    backend, _ = storecore.backend_for(memory_root)
    for name in "abc":
        backend.write_bytes(f"{name}.bin", name.encode() * 100)
    cache = RemoteCache(tmp_path / "c", max_bytes=250)
    pa = cache.local_path(f"{memory_root}/a.bin")
    pb = cache.local_path(f"{memory_root}/b.bin")
    os.utime(pb, (time.time() - 100, time.time() - 100))  # b is the least recently used
    os.utime(pa, (time.time() - 10, time.time() - 10))
    cache.local_path(f"{memory_root}/c.bin")
    assert sorted(os.path.basename(e.uri) for e in cache.entries()) == ["a.bin", "c.bin"]
    assert cache.total_bytes() == 200


def test_concurrent_fills_of_one_entry_are_safe(tmp_path, memory_root):
    backend, _ = storecore.backend_for(memory_root)
    payload = os.urandom(3 * 1024 * 1024)
    backend.write_bytes("big.bin", payload)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def fill():
        try:
            # separate instances, as two processes would have
            path = RemoteCache(tmp_path / "c").local_path(f"{memory_root}/big.bin", refresh=True)
            with open(path, "rb") as f:
                results.append(f.read())
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=fill) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 6 and all(r == payload for r in results)
    cache = RemoteCache(tmp_path / "c")
    assert len(cache.entries()) == 1
    assert not [p for p in cache._files() if p.endswith(".part")]


def test_partial_download_is_never_served(cache, memory_root):
    class Broken:
        def __init__(self):
            self.n = 0

        def read(self, _size):
            self.n += 1
            if self.n > 2:
                raise ConnectionError("connection reset")
            return b"x" * 10

    with pytest.raises(ConnectionError):
        cache._store(f"{memory_root}/p.bin", "etag", Broken())
    with pytest.raises(ChecksumMismatch, match="not cached"):
        cache._store(f"{memory_root}/p.bin", "etag", _Body(b"x" * 5), expected=10)
    assert list(cache._files()) == []


class _Body:
    def __init__(self, data):
        self.data = data

    def read(self, _size):
        data, self.data = self.data, b""
        return data


def test_cleanup_removes_expired_orphans_and_stale_parts(tmp_path, memory_root):
    storecore.backend_for(memory_root)[0].write_bytes("k.bin", b"v")
    directory = tmp_path / "c"
    cache = RemoteCache(directory)
    path = cache.local_path(f"{memory_root}/k.bin")
    folder = os.path.dirname(path)
    stale = os.path.join(folder, "x.part")
    fresh = os.path.join(folder, "y.part")
    orphan = os.path.join(folder, "z.data")
    for p in (stale, fresh, orphan):
        open(p, "wb").close()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert cleanup_cache(directory) == 2  # stale part + orphan; the live entry and a fresh part stay
    assert os.path.exists(path) and os.path.exists(fresh)
    assert cleanup_cache(directory, expiry_hours=1e-9) >= 2  # everything is "expired" now
    assert RemoteCache(directory).entries() == []


def test_invalidate_and_clear(cache, memory_root):
    backend, _ = storecore.backend_for(memory_root)
    backend.write_bytes("a.bin", b"a")
    backend.write_bytes("b.bin", b"b")
    cache.local_path(f"{memory_root}/a.bin")
    cache.local_path(f"{memory_root}/b.bin")
    cache.invalidate(f"{memory_root}/a.bin")
    assert [os.path.basename(e.uri) for e in cache.entries()] == ["b.bin"]
    cache.clear()
    assert cache.entries() == []


def test_bad_arguments(tmp_path):
    with pytest.raises(InvalidArgument):
        RemoteCache(tmp_path, max_bytes=0)
    with pytest.raises(ValueError):
        RemoteCache(tmp_path, expiry_hours=-1)


def test_default_directory_is_the_user_cache_dir(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    directory = RemoteCache().directory
    assert directory.startswith(platformdirs.user_cache_dir("storescope")) and directory.startswith(str(tmp_path))
    assert os.path.isdir(directory)


@pytest.mark.s3
def test_unreachable_endpoint_is_a_clear_error(cache, s3_bucket):
    storecore.register_scheme(
        "deads3", "s3", endpoint_url="http://127.0.0.1:9", aws_access_key_id="k", aws_secret_access_key="s",
        max_attempts=1, connect_timeout=1,
    )
    try:
        with pytest.raises(BackendUnavailable):
            cache.local_path(f"deads3://{s3_bucket}/x.bin")
    finally:
        storecore.unregister_scheme("deads3")


@pytest.mark.s3
def test_large_object_parallel_fill_pinned_to_one_version(cache, s3_server, s3_bucket):
    from storecore.cache import _EngineFill

    storecore.register_scheme("bigs3", "s3", **s3_server.options(multipart_threshold=1 << 20, multipart_chunksize=1 << 20))
    try:
        payload = os.urandom(3 * (1 << 20) + 5)
        backend, _ = storecore.backend_for(f"bigs3://{s3_bucket}/x")
        backend.write_bytes("big.bin", payload)
        path = cache.local_path(f"bigs3://{s3_bucket}/big.bin")
        assert open(path, "rb").read() == payload
        # A version that is no longer current (the object changed mid-download) is refused, nothing kept.
        stale = _EngineFill(backend, "big.bin", "0" * 32, len(payload))
        with pytest.raises(Exception, match="412|Precondition"):
            cache._store(f"bigs3://{s3_bucket}/other.bin", "0" * 32, stale)
        assert [e.uri for e in cache.entries()] == [f"bigs3://{s3_bucket}/big.bin"]
        assert not [p for p in cache._files() if p.endswith(".part")]
    finally:
        storecore.unregister_scheme("bigs3")


CHILD = """
import hashlib, os, sys
import storecore
from storecore.cache import RemoteCache
storecore.register_scheme("procs3", "s3", endpoint_url=os.environ["T_ENDPOINT"], region_name="us-east-1",
                          aws_access_key_id=os.environ["T_KEY"], aws_secret_access_key=os.environ["T_SECRET"])
uri = sys.argv[2]
cache = RemoteCache(sys.argv[1])
storecore.backend_for(uri)[0].client  # connect before the start signal
print("ready", flush=True)
sys.stdin.readline()
path = cache.local_path(uri, refresh=True)
with open(path, "rb") as f:
    print(hashlib.sha256(f.read()).hexdigest(), flush=True)
"""


@pytest.mark.s3
def test_two_processes_fill_the_same_entry(tmp_path, s3_server, s3_bucket):
    import hashlib
    import subprocess
    import sys

    payload = os.urandom(6 * 1024 * 1024)
    s3_server.client().put_object(Bucket=s3_bucket, Key="shared.bin", Body=payload)
    env = dict(os.environ, T_ENDPOINT=s3_server.endpoint, T_KEY=s3_server.access_key, T_SECRET=s3_server.secret_key)
    directory = str(tmp_path / "shared-cache")
    args = [sys.executable, "-c", CHILD, directory, f"procs3://{s3_bucket}/shared.bin"]
    procs = [subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True) for _ in range(2)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        for p in procs:  # both start downloading the same entry at once
            p.stdin.write("go\n")
            p.stdin.flush()
        digests = [p.stdout.readline().strip() for p in procs]
        assert [p.wait(60) for p in procs] == [0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert digests == [hashlib.sha256(payload).hexdigest()] * 2
    cache = RemoteCache(directory)
    assert len(cache.entries()) == 1 and cache.entries()[0].size == len(payload)
    assert not [p for p in cache._files() if p.endswith(".part")]
