"""storecore.compare between backends, deep compares by ETag/checksum, and the sync plan."""

from __future__ import annotations

import os

import pytest

import storecore
from storecore.errors import Cancelled, InvalidArgument, NotFound
from storecore.search import compare, delete_plan, group_by_folder, sync_plan
from storecore.transfer import copy


def make_tree(root: str) -> dict[str, bytes]:
    files = {f"d{i % 4}/sub{i % 3}/f{i:02d}.dat": bytes([i]) * (100 + i) for i in range(30)}
    files["top.txt"] = b"top"
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return files


def statuses(a: str, b: str, **kw) -> dict[str, str]:
    return {e.path: e.status for e in compare(a, b, **kw) if e.status != "same"}


@pytest.mark.s3
def test_local_vs_s3_missing_changed_extra(local_root, s3_root):
    files = make_tree(local_root)
    dest = s3_root + "/copy"
    copy(local_root, dest)
    backend, loc = storecore.backend_for(dest)
    backend.delete(f"{loc.path}/d1/sub1/f01.dat")  # missing in B
    backend.write_bytes(f"{loc.path}/d2/sub2/f02.dat", b"changed")  # changed (size)
    backend.write_bytes(f"{loc.path}/d0/extra.bin", b"extra")  # extra in B
    results = list(compare(local_root, dest))
    assert {e.path: e.status for e in results if e.status != "same"} == {
        "d1/sub1/f01.dat": "only_a",
        "d2/sub2/f02.dat": "differ",
        "d0/extra.bin": "only_b",
    }
    assert sum(e.status == "same" for e in results) == len(files) - 2
    changed = next(e for e in results if e.status == "differ")
    assert changed.reason == "size" and changed.a_size == 102 and changed.b_size == 7
    assert changed.b_uri == dest + "/d2/sub2/f02.dat" and changed.a_uri == os.path.join(local_root, "d2/sub2/f02.dat")
    # the other direction swaps only_a and only_b
    assert statuses(dest, local_root) == {"d1/sub1/f01.dat": "only_b", "d2/sub2/f02.dat": "differ", "d0/extra.bin": "only_a"}


@pytest.mark.s3
def test_deep_compare_finds_same_size_changes(local_root, s3_root):
    make_tree(local_root)
    dest = s3_root + "/copy"
    copy(local_root, dest)
    backend, loc = storecore.backend_for(dest)
    backend.write_bytes(f"{loc.path}/d3/sub0/f03.dat", b"\x07" * 103)  # same size, other bytes
    assert statuses(local_root, dest) == {}
    deep = [e for e in compare(local_root, dest, deep=True) if e.status != "same"]
    assert [(e.path, e.status, e.reason) for e in deep] == [("d3/sub0/f03.dat", "differ", "checksum")]


@pytest.mark.s3
def test_deep_compare_with_multipart_etag(local_root, s3_root):
    """A 9 MiB object uploaded in parts has an ``md5-N`` ETag: recomputed from the local bytes."""
    data = os.urandom(9 * 1024 * 1024)
    with open(os.path.join(local_root, "big.bin"), "wb") as f:
        f.write(data)
    copy(local_root, s3_root + "/big")
    backend, _ = storecore.backend_for(s3_root)
    assert "-" in backend.stat("big/big.bin").etag
    assert statuses(local_root, s3_root + "/big", deep=True) == {}
    with open(os.path.join(local_root, "big.bin"), "r+b") as f:
        f.seek(5 * 1024 * 1024)
        f.write(b"\x00" if data[5 * 1024 * 1024] else b"\x01")
    assert statuses(local_root, s3_root + "/big", deep=True) == {"big.bin": "differ"}


def test_memory_vs_local_and_sync_plan(local_root, memory_root, tmp_path):
    files = make_tree(local_root)
    backend, _ = storecore.backend_for(memory_root)
    for rel in list(files)[:20]:
        backend.write_bytes(rel, files[rel])
    backend.write_bytes("d0/sub0/f00.dat", b"different")
    backend.write_bytes("only/in_b.txt", b"b")
    results = list(compare(local_root, memory_root))
    st = {e.path: e.status for e in results}
    assert sum(s == "only_a" for s in st.values()) == len(files) - 20
    assert st["d0/sub0/f00.dat"] == "differ" and st["only/in_b.txt"] == "only_b"
    plan = list(sync_plan(results))
    assert len(plan) == len(files) - 20 + 1
    assert all(src.startswith(local_root) and dst.startswith(memory_root) for src, dst in plan)
    assert list(delete_plan(results)) == [memory_root + "/only/in_b.txt"]
    assert len(list(sync_plan(results, include_differ=False))) == len(files) - 20
    for src, dst in plan:
        copy(src, dst)
    # "sync a→b" leaves B with everything A has; nothing of B was deleted
    assert statuses(local_root, memory_root, deep=True) == {"only/in_b.txt": "only_b"}
    groups = group_by_folder([(os.path.join(local_root, "d0/a.dat"), memory_root + "/d0/a.dat"), (os.path.join(local_root, "x.dat"), memory_root + "/x.dat")])
    assert groups == {memory_root + "/d0": [os.path.join(local_root, "d0/a.dat")], memory_root: [os.path.join(local_root, "x.dat")]}


def test_local_deep_compare_hashes_content(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_bytes(b"abc")
    (b / "x").write_bytes(b"abd")
    (a / "y").write_bytes(b"same")
    (b / "y").write_bytes(b"same")
    assert statuses(str(a), str(b)) == {}
    assert statuses(str(a), str(b), deep=True) == {"x": "differ"}
    assert [e.status for e in compare(str(a / "y"), str(b / "y"), deep=True)] == ["same"]
    assert [e.path for e in compare(str(a / "x"), str(b))] == ["x"]  # a file against a folder: same name inside


def test_missing_sides_and_bad_input(local_root, memory_root):
    make_tree(local_root)
    assert {e.status for e in compare(local_root, memory_root + "/nothing")} == {"only_a"}
    with pytest.raises(NotFound):
        list(compare(local_root + "/nothing", memory_root))
    with pytest.raises(InvalidArgument):
        compare(local_root + "/x.h5::/g", memory_root)
    with pytest.raises(InvalidArgument):
        list(compare(local_root + "/d0", os.path.join(local_root, "top.txt")))  # a folder against a file
    with pytest.raises(Cancelled):
        list(compare(local_root, local_root, cancel=lambda: True))
    assert all(e.status == "same" for e in compare(local_root, local_root, deep=True))
    assert list(compare(local_root, local_root, include_same=False)) == []


def test_sync_plan_feeds_the_transfer_queue(local_root, memory_root):
    from storecore.transfer import TransferQueue

    files = make_tree(local_root)
    backend, _ = storecore.backend_for(memory_root)
    backend.write_bytes("d1/sub1/f01.dat", b"old")
    backend.write_bytes("keep.txt", b"mine")
    queue = TransferQueue(history=False)
    try:
        jobs = [queue.submit(src, dst) for src, dst in sync_plan(compare(local_root, memory_root))]
        assert len(jobs) == len(files) and queue.wait_all(timeout=60)
        assert all(j.state.value == "done" for j in jobs)
    finally:
        queue.close()
    assert statuses(local_root, memory_root, deep=True) == {"keep.txt": "only_b"}
