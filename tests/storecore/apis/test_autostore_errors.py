"""AutoStore/AutoPath on bad input: clear storecore errors that old except-clauses still catch, nothing lost."""

from __future__ import annotations

import os

import pytest

import storecore
from storecore import AutoPath, AutoStore, Options
from storecore.errors import (
    BackendUnavailable,
    CorruptData,
    FormatError,
    InvalidArgument,
    InvalidLocation,
    IsADirectory,
    NotADirectory,
    NotFound,
    PermissionDenied,
    PickleNotAllowed,
    StorecoreError,
)
from storecore.s3 import S3Options


def test_missing_key_is_not_found_and_key_error(any_root):
    store = AutoStore(any_root)
    with pytest.raises(NotFound, match="nothing"):
        store["nothing"]
    with pytest.raises(KeyError):
        store["nothing.json"]
    with pytest.raises(FileNotFoundError):
        del store["nothing"]
    assert store.get("nothing", 42) == 42
    assert "nothing" not in store
    with pytest.raises(FileNotFoundError):
        store.copy("nothing", "other")
    with pytest.raises(FileNotFoundError):
        store.get_metadata("nothing")


def test_path_traversal_is_refused(any_root, tmp_path):
    store = AutoStore(any_root)
    with pytest.raises(InvalidLocation, match=r"\.\."):
        store["../escape"] = {"a": 1}
    with pytest.raises(InvalidLocation):
        store["a/../../escape"]
    assert list(store.list_files("*")) == []


def test_pickle_needs_opt_in(any_root):
    store = AutoStore(any_root)
    store["obj"] = {1, 2}
    with pytest.raises(PickleNotAllowed, match="allow_pickle=True"):
        store["obj"]
    assert AutoStore(any_root, allow_pickle=True)["obj"] == {1, 2}


def test_corrupt_file_and_failed_write_keep_data(any_root):
    store = AutoStore(any_root)
    AutoPath(f"{store.root}/bad.parquet" if "://" in any_root else os.path.join(any_root, "bad.parquet"),
             store=store).write_bytes(b"not parquet")
    with pytest.raises(CorruptData, match="bad.parquet"):
        store["bad"]
    store["cfg"] = {"v": 1}
    with pytest.raises(FormatError):
        store["cfg"] = {"v": object()}
    assert store["cfg"] == {"v": 1}


def test_directory_that_is_not_a_dataset(any_root):
    store = AutoStore(any_root)
    store["folder/a"] = {"x": 1}
    with pytest.raises(IsADirectory):
        store["folder"]


def test_bad_options():
    with pytest.raises(InvalidArgument, match="no_such_field"):
        AutoStore(".", no_such_field=1)
    with pytest.raises(ValueError):
        AutoStore(".", options="cache")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AutoStore(".", options=[object()])  # type: ignore[list-item]
    with pytest.raises(InvalidLocation):
        AutoStore("/data/run.h5::/entry")
    with pytest.raises(InvalidLocation, match="unknown scheme"):
        AutoStore(".")["nosuchscheme://bucket/x.json"]
    with pytest.raises(InvalidArgument):
        AutoStore.register_scheme("weird", "autostore.ftp")
    with pytest.raises(InvalidLocation):
        AutoStore.register_scheme("memory", "storecore.s3")
    with pytest.raises(TypeError):
        storecore.DataHandler()  # abstract


@pytest.mark.s3
def test_credentials_never_shown(s3_server, s3_bucket):
    opts = S3Options(scheme="credtest", endpoint_url=s3_server.endpoint, aws_access_key_id=s3_server.access_key,
                     aws_secret_access_key=s3_server.secret_key)
    store = AutoStore(".", options=[opts])
    store[f"credtest://{s3_bucket}/x.json"] = {"a": 1}
    text = repr(opts) + repr(store) + str(store.list_active_backends()) + repr(store._backend(storecore.parse(f"credtest://{s3_bucket}/x")))
    assert s3_server.secret_key not in text and s3_server.access_key not in text
    with pytest.raises(NotFound) as info:
        store[f"credtest://{s3_bucket}/missing.json"]
    assert s3_server.secret_key not in str(info.value)


@pytest.mark.s3
def test_bad_credentials_are_permission_denied(s3_server, s3_bucket):
    opts = S3Options(scheme="badcreds", endpoint_url=s3_server.endpoint, aws_access_key_id="wrong",
                     aws_secret_access_key="wrong-secret", max_retries=0)
    store = AutoStore(".", options=[opts])
    with pytest.raises(PermissionDenied):
        store[f"badcreds://{s3_bucket}/x.json"] = {"a": 1}
    with pytest.raises(PermissionError):
        AutoPath(f"badcreds://{s3_bucket}/x.json", store=store).read_bytes()


@pytest.mark.s3
def test_unreachable_endpoint(s3_bucket):
    opts = S3Options(scheme="downs3", endpoint_url="http://127.0.0.1:9", aws_access_key_id="k",
                     aws_secret_access_key="s", max_retries=0, timeout=1)
    store = AutoStore(".", options=[opts], cache_enabled=True)
    with pytest.raises(BackendUnavailable):
        store[f"downs3://{s3_bucket}/x.json"]
    with pytest.raises(ConnectionError):
        AutoPath(f"downs3://{s3_bucket}/x.json", store=store).exists()


# -- AutoPath -------------------------------------------------------------------------------------
def _root_path(any_root: str) -> AutoPath:
    return AutoPath(any_root, store=AutoStore(any_root))


def test_autopath_folder_errors(any_root):
    root = _root_path(any_root)
    folder = root / "d"
    folder.mkdir()
    with pytest.raises(FileExistsError):
        folder.mkdir()
    folder.mkdir(exist_ok=True)
    (folder / "f.txt").write_text("x")
    with pytest.raises(OSError):
        folder.rmdir()  # not empty
    assert (folder / "f.txt").read_text() == "x"
    with pytest.raises(NotADirectory):
        (folder / "f.txt").rmdir()
    with pytest.raises(IsADirectory):
        folder.unlink()
    with pytest.raises(NotADirectoryError):
        list((folder / "f.txt").iterdir())
    with pytest.raises(FileNotFoundError):
        list((root / "missing").iterdir())
    with pytest.raises(FileNotFoundError):
        (root / "missing").delete()
    with pytest.raises(FileNotFoundError):
        (root / "missing.txt").read_bytes()
    (root / "missing.txt").unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError):
        (root / "missing.txt").unlink()
    assert list((root / "missing").glob("*")) == []


def test_local_mkdir_without_parents(local_root):
    with pytest.raises(FileNotFoundError):
        AutoPath(os.path.join(local_root, "a", "b")).mkdir()
    AutoPath(os.path.join(local_root, "a", "b")).mkdir(parents=True)
    assert os.path.isdir(os.path.join(local_root, "a", "b"))


def test_autopath_pure_errors():
    p = AutoPath("s3://bucket/a/config.yaml", store=AutoStore("."))
    with pytest.raises(ValueError):
        p.relative_to("s3://other/a")
    with pytest.raises(ValueError):
        p.relative_to("s3://bucket/b")
    with pytest.raises(ValueError):
        p.with_suffix("yaml")
    with pytest.raises(ValueError):
        p.with_name("a/b")
    with pytest.raises(ValueError):
        p.write_text(b"bytes")  # type: ignore[arg-type]
    assert p.relative_to("s3://bucket") == "a/config.yaml"


def test_copy_failure_leaves_source(any_root, tmp_path):
    store = AutoStore(any_root)
    store["keep"] = {"k": 1}
    with pytest.raises(StorecoreError):
        store.move("keep", "nosuchscheme://b/x.json")
    assert store["keep"] == {"k": 1}


def test_options_defaults_are_independent():
    a, b = Options(), Options()
    a.cache_enabled = True
    assert not b.cache_enabled
    assert S3Options().scheme == "s3" and Options().scheme is None


def test_non_durable_local_writes_stay_atomic(local_root):
    store = AutoStore(local_root, durable=False)
    store["cfg"] = {"v": 1}
    with pytest.raises(FormatError, match="cfg.json"):
        store["cfg"] = {"v": object()}
    assert store["cfg"] == {"v": 1}
    store["arr"] = __import__("numpy").arange(3)
    assert sorted(os.listdir(local_root)) == ["arr.npy", "cfg.json"]  # no temporary files left
    os.mkdir(os.path.join(local_root, "dir.json"))
    with pytest.raises(IsADirectoryError):
        store["dir.json"] = {"a": 1}
