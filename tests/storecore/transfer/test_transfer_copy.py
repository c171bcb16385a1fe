"""storecore.transfer.copy/move between every pair of backends, in bounded memory."""

from __future__ import annotations

import os

import pytest

import storecore
from storecore.transfer import copy, move

ROOTS = ["local", "memory", "s3"]


def root_of(request, kind):
    return request.getfixturevalue({"local": "local_root", "memory": "memory_root", "s3": "s3_root"}[kind])


@pytest.mark.parametrize("src_kind", ROOTS)
@pytest.mark.parametrize("dst_kind", ROOTS)
def test_copy_file_and_tree_between_every_pair(request, src_kind, dst_kind):
    src_root = root_of(request, src_kind)
    dst_root = root_of(request, dst_kind) if dst_kind != src_kind else src_root
    sb, sl = storecore.backend_for(src_root)
    base = sl.path
    data = os.urandom(300_000)
    sb.write_bytes(f"{base}/tree/a.bin".lstrip("/") if not base else f"{base}/tree/a.bin", data)
    sb.write_bytes(f"{base}/tree/sub/b.txt" if base else "tree/sub/b.txt", b"bee")
    seen = []
    n = copy(f"{src_root}/tree/a.bin", f"{dst_root}/out/a-copy.bin", progress=lambda d, t: seen.append(d))
    assert n == len(data) and seen[-1] == len(data)
    db, dl = storecore.backend_for(f"{dst_root}/out/a-copy.bin")
    assert db.read_bytes(dl.path) == data
    copy(f"{src_root}/tree", f"{dst_root}/tree-copy")
    db2, dl2 = storecore.backend_for(f"{dst_root}/tree-copy/sub/b.txt")
    assert db2.read_bytes(dl2.path) == b"bee"
    assert sorted(e.name for e in db2.ls(storecore.Location.parse(f"{dst_root}/tree-copy").path, recursive=True)) == ["a.bin", "b.txt"]


@pytest.mark.parametrize("dst_kind", ["local", "memory", "s3"])
def test_move_deletes_source_after_copy(request, local_root, dst_kind):
    dst_root = root_of(request, dst_kind) if dst_kind != "local" else local_root
    with open(os.path.join(local_root, "m.bin"), "wb") as f:
        f.write(b"move me")
    move(f"{local_root}/m.bin", f"{dst_root}/moved/m.bin")
    assert not os.path.exists(os.path.join(local_root, "m.bin"))
    b, loc = storecore.backend_for(f"{dst_root}/moved/m.bin")
    assert b.read_bytes(loc.path) == b"move me"


def test_copy_missing_source_raises_not_found(local_root, memory_root):
    with pytest.raises(storecore.NotFound):
        copy(f"{local_root}/nope", f"{memory_root}/x")


def test_copy_refuses_container_nodes(local_root, memory_root):
    with pytest.raises(storecore.InvalidArgument):
        copy(f"{local_root}/a.h5::/g", f"{memory_root}/x")


@pytest.mark.s3
def test_streamed_copies_to_and_from_s3_use_bounded_memory(s3_root, local_root):
    """48 MiB local -> S3 and S3 -> local stream in parts: peak traced memory stays far below the size."""
    import tracemalloc

    size = 48 << 20
    src = os.path.join(local_root, "big.bin")
    with open(src, "wb") as f:
        for _ in range(size >> 20):
            f.write(os.urandom(1 << 20))
    peaks = []
    for a, b in ((src, f"{s3_root}/big.bin"), (f"{s3_root}/big.bin", os.path.join(local_root, "back.bin"))):
        tracemalloc.start()
        copy(a, b)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert os.path.getsize(os.path.join(local_root, "back.bin")) == size
    with open(src, "rb") as f1, open(os.path.join(local_root, "back.bin"), "rb") as f2:
        assert f1.read() == f2.read()
    assert max(peaks) < 32 << 20, peaks  # parts in flight, never the whole object
