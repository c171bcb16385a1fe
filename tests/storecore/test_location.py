"""Location parsing, printing, scheme registration and path-traversal refusal."""

from __future__ import annotations

import os

import pytest

import storecore
from storecore import Location, register_scheme
from storecore.errors import InvalidLocation, StorecoreError


def test_local_paths_absolute_relative_and_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Location.parse("data/x.npy") == Location("file", "", str(tmp_path / "data" / "x.npy"))
    home = Location.parse("~/x.txt")
    assert home.path == os.path.join(os.path.expanduser("~"), "x.txt")
    assert Location.parse("/a/b/../c").path == "/a/c"
    assert Location.parse(tmp_path).path == str(tmp_path)


def test_file_uri_and_inner_path():
    loc = Location.parse("file:///data/run.h5::/group//dataset/")
    assert (loc.scheme, loc.bucket, loc.path, loc.inner) == ("file", "", "/data/run.h5", "/group/dataset")
    assert str(loc) == "/data/run.h5::/group/dataset"
    assert Location.parse(str(loc)) == loc
    assert loc.outer == Location.parse("/data/run.h5")
    assert loc.name == "dataset"
    assert loc.parent.inner == "/group"


def test_s3_and_memory_uris_round_trip():
    loc = Location.parse("s3://bkt/a/b.zarr::/g/a")
    assert (loc.scheme, loc.bucket, loc.path, loc.inner) == ("s3", "bkt", "a/b.zarr", "/g/a")
    assert str(loc) == "s3://bkt/a/b.zarr::/g/a"
    mem = Location.parse("memory://scratch/k/v.json")
    assert (mem.bucket, mem.path, mem.inner) == ("scratch", "k/v.json", None)
    assert str(Location.parse("s3://bkt")) == "s3://bkt"
    assert Location.parse("s3://bkt/x").join("y", "z.npy") == Location("s3", "bkt", "x/y/z.npy")


def test_registered_scheme_uses_base_backend_and_options():
    register_scheme("minio-loc-test", "s3", endpoint_url="http://127.0.0.1:1", region_name="us-east-1")
    try:
        loc = Location.parse("minio-loc-test://bucket/key.npy")
        assert loc.scheme == "minio-loc-test" and loc.base_scheme == "s3"
        backend, loc2 = storecore.backend_for("minio-loc-test://bucket/key.npy")
        assert type(backend).__name__ == "S3Backend"
        assert backend.endpoint_url == "http://127.0.0.1:1"
        assert loc2.path == "key.npy"
    finally:
        storecore.unregister_scheme("minio-loc-test")
    with pytest.raises(InvalidLocation):
        Location.parse("minio-loc-test://bucket/key.npy")


@pytest.mark.parametrize(
    "text",
    ["", "   ", "nosuch://x/y", "s3://", "s3:///key", "s3://BAD_Bucket!/k", "s3://bkt/../../etc/passwd", "memory://m/a/../../x", "file://relative/path"],
)
def test_bad_uris_raise_clear_errors_naming_the_text(text):
    with pytest.raises(InvalidLocation) as info:
        Location.parse(text)
    assert isinstance(info.value, ValueError) and isinstance(info.value, StorecoreError)
    if text.strip():
        assert text.split("://")[0] in str(info.value) or "bucket" in str(info.value)


def test_dotdot_inside_the_root_is_normalised_but_escape_is_refused():
    assert Location.parse("s3://bkt/a/../b").path == "b"
    with pytest.raises(InvalidLocation, match="escapes"):
        Location.parse("s3://bkt/a/../../b")


def test_dotdot_inside_a_container_is_a_name():
    # HDF5 members may be called ".." (real files hold them): inner paths keep it as a name, never resolve it.
    assert Location.parse("/data/x.h5::/../../etc").inner == "/../../etc"
    assert Location.parse("/data/x.h5::/g/./a//b").inner == "/g/a/b"
    with pytest.raises(InvalidLocation):
        Location.parse("/data/x.h5::/g/\x00")


def test_cannot_redefine_builtin_scheme():
    with pytest.raises(InvalidLocation):
        register_scheme("memory", "s3")
    with pytest.raises(InvalidLocation):
        register_scheme("x-unknown-base", "ftp")


def test_errors_are_also_builtin_exceptions():
    from storecore import errors

    assert issubclass(errors.NotFound, FileNotFoundError)
    assert issubclass(errors.PermissionDenied, PermissionError)
    assert issubclass(errors.InvalidLocation, ValueError)
    assert issubclass(errors.AlreadyExists, FileExistsError)
    err = errors.NotFound("s3://b/k: no such object", path="s3://b/k")
    assert str(err) == "s3://b/k: no such object" and err.path == "s3://b/k"
