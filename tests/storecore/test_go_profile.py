"""The test server's CPU profile: weed writes it on stop, and go_profile names where the CPU went."""

from __future__ import annotations

import gzip
import os

import pytest

from storecore.testing.go_profile import Profile, ProfileError, read_profile
from storecore.testing.s3server import S3Server, find_weed


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _profile(stacks: list[tuple[list[str], int]]) -> bytes:
    """A gzipped pprof profile with one location per function and the given (leaf-first stack, ns) samples."""
    strings = [""]
    body = b""
    names: dict[str, int] = {}
    for stack, _ in stacks:
        for name in stack:
            if name not in names:
                names[name] = len(names) + 1
                strings.append(name)
                body += _field(5, _field(1, names[name]) + _field(2, len(strings) - 1))
                body += _field(4, _field(1, names[name]) + _field(4, _field(1, names[name])))
    for stack, ns in stacks:
        packed = b"".join(_varint(names[n]) for n in stack)
        body += _field(2, _field(1, packed) + _field(2, _varint(1) + _varint(ns)))
    body += b"".join(_field(6, s.encode()) for s in strings)
    return gzip.compress(body)


def test_categories_and_callers_of_a_written_profile(tmp_path):
    path = tmp_path / "cpu.prof"
    path.write_bytes(_profile([
        (["crypto/md5.block", "crypto/md5.(*digest).Write", "io.(*teeReader).Read", "weed/s3api.putToFiler"], 6_000),
        (["crypto/md5.block", "weed/needle.ParseUpload"], 2_000),
        (["internal/runtime/syscall/linux.Syscall6", "syscall.write"], 1_000),
        (["weed/s3api.route"], 1_000),
    ]))
    profile = read_profile(str(path))
    assert profile.total_seconds == pytest.approx(10_000 / 1e9)
    assert profile.categories() == [("MD5", 0.8), ("system calls", 0.1), ("other", 0.1)]
    # the hash's own frames and the readers that only pass bytes on are skipped
    assert profile.callers("crypto/md5.", depth=1) == [("weed/s3api.putToFiler", 0.6), ("weed/needle.ParseUpload", 0.2)]


@pytest.mark.parametrize("content", [b"", b"\x1f\x8bnot gzip", gzip.compress(b"\x0f"), gzip.compress(b"\x12\x7f")])
def test_unreadable_profiles_say_why(tmp_path, content):
    path = tmp_path / "cpu.prof"
    path.write_bytes(content)
    with pytest.raises(ProfileError, match=r"\S"):
        read_profile(str(path))


@pytest.mark.skipif(find_weed() is None or bool(os.environ.get("STORESCOPE_TEST_S3_ENDPOINT")),
                    reason="needs a local weed binary")
def test_the_servers_own_profile_shows_upload_hashing(tmp_path):
    """Uploads on the test server spend their CPU hashing: the profile weed writes on stop says so."""
    prof = tmp_path / "weed.prof"
    server = S3Server(str(tmp_path / "s3"), cpu_profile=str(prof)).start()
    try:
        client = server.client()
        bucket = server.new_bucket("prof")
        block = os.urandom(8 << 20)
        for i in range(16):
            client.put_object(Bucket=bucket, Key=f"k{i}", Body=block)
    finally:
        server.close()
    profile = read_profile(str(prof))
    assert isinstance(profile, Profile) and profile.total_seconds > 0
    shares = dict(profile.categories())
    assert shares.get("MD5", 0) > 0.1, shares
    assert any("s3api" in where or "needle" in where for where, _ in profile.callers("crypto/md5."))
