"""A folder's listing through the transfer engine's own signed requests equals the backend's own (botocore) listing."""

from __future__ import annotations

import pytest

import storecore
from storecore.errors import NotADirectory, NotFound
from storecore.transfer.multipart import list_pages

ODD = ["plain.txt", "with space.bin", "plus+sign", "per%cent", "ünï/cödé.dat", "amp&er;sand", "a/b/c/deep.txt",
       "tilde~", "sub/", "sub/x.txt", "q?uestion", "eq=ual"]


def rows(pages) -> list[tuple]:
    return sorted((e.path, e.name, -1 if e.size is None else e.size, e.etag or "", e.is_dir) for page in pages for e in page)


@pytest.fixture
def odd_bucket(s3_root):
    backend, loc = storecore.backend_for(s3_root)
    for i, key in enumerate(ODD):
        backend.write_bytes(f"{loc.path}/top/{key}" if loc.path else f"top/{key}", b"x" * i)
    return backend, s3_root


@pytest.mark.parametrize("folder", ["top", "top/a", "top/a/b", "top/sub", "top/ünï"])
@pytest.mark.parametrize("first", [1, 3, 1000])
def test_folder_pages_equal_the_backend_listing(odd_bucket, folder, first, monkeypatch):
    backend, _ = odd_bucket
    expected = rows(backend.ls_pages(folder))
    monkeypatch.setattr(backend, "ls_pages", lambda *a, **k: pytest.fail("listed through botocore"))
    fast = rows(list_pages(backend, folder, first, 2, folders=True))
    assert fast == expected
    assert fast  # the fixture put something in every one of these folders
    monkeypatch.undo()
    mtimes = [e.mtime for page in list_pages(backend, folder, first, 2, folders=True) for e in page if not e.is_dir]
    assert all(isinstance(m, float) and m > 1e9 for m in mtimes)


def test_missing_folder_and_file_path_fail_as_the_backend_does(odd_bucket):
    backend, _ = odd_bucket
    with pytest.raises(NotFound):
        list(list_pages(backend, "top/nothing-here", 10, 10, folders=True))
    with pytest.raises(NotADirectory):
        list(list_pages(backend, "top/plain.txt", 10, 10, folders=True))


def test_other_backends_list_as_they_always_do(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f.txt").write_text("x")
    backend, loc = storecore.backend_for(str(tmp_path))
    assert rows(list_pages(backend, loc.path, 1, 1, folders=True)) == rows(backend.ls_pages(loc.path))
