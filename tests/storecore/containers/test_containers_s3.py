"""Zarr and HDF5 containers on the real S3 test server: trees, slices, links, errors, bytes read, writes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from test_containers_hdf5 import H5_ATTRS, build_h5
from test_containers_slicing import (
    N,
    build_big_h5,
    build_big_zarr,
    expected_plane,
    h5_chunk_bytes,
    zarr_chunk_bytes,
)
from test_containers_zarr import ATTRS, KINDS, SHAPES, assert_same, build_zarr, sample

import storecore
from storecore.containers import create_group, open_container, set_attrs, write_array
from storecore.containers.zarr_store import BackendStore
from storecore.errors import AlreadyExists, CorruptData, NotFound, PermissionDenied, ShapeMismatch
from storecore.transfer import copy

pytestmark = pytest.mark.s3

S3_SELECTIONS = lambda ndim: [(-1,), (Ellipsis, slice(None, None, -2)), tuple(slice(-2, None) for _ in range(ndim))]  # noqa: E731


@pytest.fixture(scope="module")
def s3_trees(s3_server, tmp_path_factory):
    """Zarr v3, Zarr v2 and HDF5 test trees uploaded once to one bucket; returns the scheme://bucket root."""
    storecore.register_scheme("tests3", "s3", **s3_server.options())
    bucket = s3_server.new_bucket("trees")
    local = tmp_path_factory.mktemp("s3trees")
    build_zarr(str(local / "v3.zarr"), 3)
    build_zarr(str(local / "v2.zarr"), 2)
    os.makedirs(local / "h5")
    build_h5(str(local / "h5"))
    root = f"tests3://{bucket}"
    for name in ("v3.zarr", "v2.zarr", "h5"):
        copy(str(local / name), f"{root}/{name}")
    return root


@pytest.mark.parametrize("name", ["v3.zarr", "v2.zarr"])
def test_zarr_tree_on_s3(s3_trees, name):
    uri = f"{s3_trees}/{name}"
    with open_container(uri) as root:
        assert isinstance(root.container.store, BackendStore)
        assert [c.name for c in root.children()] == ["a", "arrays"]
        assert root.attrs == ATTRS
        assert root.get("/a/b/c").attrs == {"depth": 3}
        for kind in KINDS:
            for ndim in (1, 3, 5):
                node = root[f"arrays/{kind}_{ndim}d"]
                for sel in S3_SELECTIONS(ndim):
                    assert_same(node[sel], sample(kind, ndim)[sel])
        with pytest.raises(NotFound):
            root.get("/arrays/missing")
    node = open_container(f"{uri}::/arrays/int_2d")
    try:
        assert node.uri == f"{uri}::/arrays/int_2d" and node[-1, ::-1].tolist() == sample("int", 2)[-1, ::-1].tolist()
    finally:
        node.close()


def test_hdf5_tree_and_links_on_s3(s3_trees):
    uri = f"{s3_trees}/h5/tree.h5"
    with open_container(uri) as root:
        assert root.attrs == H5_ATTRS
        for kind in KINDS:
            for ndim in SHAPES:
                node = root[f"arrays/{kind}_{ndim}d"]
                for sel in S3_SELECTIONS(ndim):
                    assert_same(node[sel], sample(kind, ndim)[sel])
        links = {c.name: c for c in root["links"].children()}
        assert not links["soft"].broken and links["broken"].broken
        assert links["external"][:].tolist() == list(np.arange(6.0))  # ext.h5 found next to it on S3
        assert links["external_missing_file"].broken
        assert links["ref"].link_target == "/arrays/float_3d"
        # Ranged reads only: far less than the file for metadata plus a few datasets.
        size = root.container.backend.stat(root.container.location.path).size
        assert 0 < root.container.bytes_read <= size * 2


def test_missing_corrupt_and_denied_on_s3(s3_trees, s3_server, s3_root):
    with pytest.raises(NotFound):
        open_container(f"{s3_trees}/nothing.zarr")
    with pytest.raises(NotFound):
        open_container(f"{s3_trees}/nothing.h5")
    with pytest.raises(NotFound):
        open_container(f"{s3_trees}/h5/tree.h5::/no/such")
    client = s3_server.client()
    bucket = s3_root.split("://")[1]
    good = client.get_object(Bucket=s3_trees.split("://")[1], Key="h5/tree.h5")["Body"].read()
    client.put_object(Bucket=bucket, Key="cut.h5", Body=good[:2000])
    client.put_object(Bucket=bucket, Key="bad.zarr/zarr.json", Body=b"{nope")
    with pytest.raises(CorruptData) as e:
        open_container(f"{s3_root}/cut.h5")
    assert "cut.h5" in str(e.value)
    with pytest.raises(CorruptData) as e:
        open_container(f"{s3_root}/bad.zarr")
    assert "bad.zarr" in str(e.value)
    storecore.register_scheme("tests3bad", "s3", **s3_server.options(aws_secret_access_key="wrong"))
    try:
        with pytest.raises(PermissionDenied):
            open_container(f"tests3bad://{s3_trees.split('://')[1]}/h5/tree.h5")
    finally:
        storecore.unregister_scheme("tests3bad")


@pytest.fixture(scope="module")
def big_s3(s3_server, tmp_path_factory):
    """The 512³ float32 volume (Zarr and HDF5, ~20 MB each compressed) uploaded to S3."""
    storecore.register_scheme("tests3", "s3", **s3_server.options())
    bucket = s3_server.new_bucket("big")
    local = tmp_path_factory.mktemp("bigs3")
    build_big_zarr(str(local / "big.zarr"))
    build_big_h5(str(local / "big.h5"))
    root = f"tests3://{bucket}"
    copy(str(local / "big.zarr"), f"{root}/big.zarr")
    copy(str(local / "big.h5"), f"{root}/big.h5")
    return root


def test_zarr_plane_on_s3_reads_only_touched_chunks(big_s3):
    with open_container(f"{big_s3}/big.zarr") as node:
        before = node.container.bytes_read
        plane = node[300]
        read = node.container.bytes_read - before
        touched = zarr_chunk_bytes(node, 300)
        np.testing.assert_array_equal(plane, expected_plane(300))
        assert touched <= read <= 2 * touched, (read, touched)


def test_hdf5_plane_on_s3_reads_only_touched_chunks(big_s3):
    with open_container(f"{big_s3}/big.h5::/data") as node:
        reader = node.container.reader
        opened = reader.bytes_read
        plane = node[N // 2]
        read = reader.bytes_read - opened
        touched = h5_chunk_bytes(node.lazy(), N // 2)
        np.testing.assert_array_equal(plane, expected_plane(N // 2))
        assert touched <= read <= 2 * touched, (read, touched)
        # Opening read metadata only (a few blocks), never the ~20 MB file.
        assert opened < 1 << 20
        requests = reader.requests
        np.testing.assert_array_equal(node[N // 2], plane)  # the chunk cache serves it again
        assert reader.requests == requests


@pytest.mark.parametrize("ext", ["zarr", "h5"])
def test_writing_on_s3(s3_root, ext):
    import polars as pl

    uri = f"{s3_root}/out/new.{ext}"
    data = np.arange(60, dtype="i8").reshape(3, 4, 5)
    assert write_array(f"{uri}::/g/vol", data, chunks=(1, 4, 5), attrs={"units": "counts"}) == f"{uri}::/g/vol"
    create_group(f"{uri}::/empty/deeper")
    set_attrs(f"{uri}::/g", {"title": "run 1", "n": 3, "ok": True, "none": None})
    write_array(f"{uri}::/table", pl.DataFrame({"x": [1.0, 2.0], "name": ["a", "b"]}))
    write_array(f"{uri}::/g/vol", np.full((4, 5), -1), region=(1,))
    with pytest.raises(AlreadyExists):
        write_array(f"{uri}::/g/vol", data)
    with pytest.raises(ShapeMismatch):
        write_array(f"{uri}::/g/vol", np.zeros(7), region=(0,))
    with open_container(uri) as root:
        assert [c.name for c in root.children()] == ["empty", "g", "table"]
        vol = root["g/vol"]
        want = data.copy()
        want[1] = -1
        assert vol[:].tolist() == want.tolist() and vol.attrs == {"units": "counts"}
        assert root["g"].attrs == {"title": "run 1", "n": 3, "ok": True, "none": None}
        assert root["table"].attrs["columns"] == ["x", "name"]
        assert root["table/name"][:].tolist() == ["a", "b"]
        assert root.get("/empty/deeper").kind == "group"
