"""Arrays on Dask and xarray: pickling backends/locations/nodes, node.to_dask(), a LocalCluster, open_dataset."""

from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest
import zarr

import storecore
from storecore.containers import open_container, write_array
from storecore.containers.dask_support import contiguous_chunks, require, store_chunks
from storecore.errors import MissingDependency

da = pytest.importorskip("dask.array", reason="the storescope[cluster] extra is installed by ./test")
xr = pytest.importorskip("xarray")

VOLUME = np.arange(6 * 10 * 12, dtype="f4").reshape(6, 10, 12)


def _h5_bytes(tmp_path, chunks=(2, 5, 6)) -> bytes:
    path = tmp_path / "src.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("g/vol", data=VOLUME, chunks=chunks)
        f.create_dataset("g/flat", data=VOLUME)  # contiguous
    return path.read_bytes()


@pytest.fixture(params=["local-zarr", "local-hdf5", "s3-zarr", "s3-hdf5"])
def volume_uri(request, tmp_path):
    """The same (6, 10, 12) float32 volume, chunked (2, 5, 6), in each place and format."""
    kind = request.param
    if kind == "local-zarr":
        uri = f"{tmp_path}/v.zarr::/g/vol"
        write_array(uri, VOLUME, chunks=(2, 5, 6))
    elif kind == "local-hdf5":
        (tmp_path / "v.h5").write_bytes(_h5_bytes(tmp_path))
        uri = f"{tmp_path}/v.h5::/g/vol"
    elif kind == "s3-zarr":
        root = request.getfixturevalue("s3_root")
        uri = f"{root}/v.zarr::/g/vol"
        write_array(uri, VOLUME, chunks=(2, 5, 6))
    else:
        root = request.getfixturevalue("s3_root")
        backend, loc = storecore.backend_for(f"{root}/v.h5")
        backend.write_bytes(loc.path, _h5_bytes(tmp_path))
        uri = f"{root}/v.h5::/g/vol"
    return uri


def test_backends_and_locations_pickle(s3_root, memory_root, local_root):
    for uri in (local_root, memory_root, s3_root):
        backend, loc = storecore.backend_for(uri + "/x.bin")
        backend.write_bytes(loc.path, b"payload")
        again = pickle.loads(pickle.dumps(backend))
        assert type(again) is type(backend) and again.read_bytes(loc.path) == b"payload"
        assert pickle.loads(pickle.dumps(loc)) == loc
    # An S3 backend carries its options as it holds them (endpoint, keys): nothing is added or logged.
    backend, _ = storecore.backend_for(s3_root)
    again = pickle.loads(pickle.dumps(backend))
    assert again._options == backend._options and again.bucket == backend.bucket
    secret = backend._options.get("aws_secret_access_key")
    assert secret and secret not in repr(again)


def test_zarr_store_adapter_pickles(s3_root):
    from storecore.containers.zarr_store import BackendStore

    write_array(f"{s3_root}/a.zarr::/x", np.arange(10), chunks=(5,))
    backend, loc = storecore.backend_for(f"{s3_root}/a.zarr")
    store = BackendStore(backend, loc.path, read_only=True)
    arr = zarr.open_array(store=pickle.loads(pickle.dumps(store)), path="x", mode="r")
    assert arr[:].tolist() == list(range(10))
    node = open_container(f"{s3_root}/a.zarr::/x")
    node.read_slice(())
    assert node.container.counter.bytes_read > 0
    again = pickle.loads(pickle.dumps(node.container.store))
    assert again.counter.requests == node.container.counter.requests  # totals travel; the lock is new


def test_nodes_pickle_and_read_the_same(volume_uri):
    with open_container(volume_uri) as node:
        again = pickle.loads(pickle.dumps(node))
        try:
            assert again.uri == node.uri and again.shape == node.shape and again.dtype == node.dtype
            assert again.container is not node.container and again.container.mode == "r"
            np.testing.assert_array_equal(again[1, 2:7, ::3], VOLUME[1, 2:7, ::3])
            group = pickle.loads(pickle.dumps(node.parent()))
            assert group.kind == "group" and "vol" in {c.name for c in group.children()}
            group.close()
        finally:
            again.close()


def test_to_dask_is_chunked_like_the_store_and_reads_the_same(volume_uri):
    with open_container(volume_uri) as node:
        arr = node.to_dask()
        assert arr.shape == VOLUME.shape and arr.dtype == VOLUME.dtype
        assert arr.chunksize == (2, 5, 6) and arr.numblocks == (3, 2, 2)
        np.testing.assert_array_equal(arr.compute(), VOLUME)
        np.testing.assert_array_equal(arr[1:5, ::2, 3].compute(), VOLUME[1:5, ::2, 3])
        assert float(arr.mean().compute()) == pytest.approx(float(VOLUME.mean()))
        # what the format's own library reads from the same object
        if ".zarr" in volume_uri:
            np.testing.assert_array_equal(np.asarray(node.lazy()[:]), arr.compute())
            assert arr.chunksize == tuple(node.lazy().chunks)
        else:
            np.testing.assert_array_equal(node.lazy()[...], arr.compute())
            assert arr.chunksize == node.lazy().chunks
        assert node.to_dask(chunks=(6, 10, 12)).numblocks == (1, 1, 1)


def test_contiguous_hdf5_gets_sensible_blocks(tmp_path):
    (tmp_path / "v.h5").write_bytes(_h5_bytes(tmp_path))
    with open_container(f"{tmp_path}/v.h5::/g/flat") as node:
        assert node.chunks is None
        assert store_chunks(node) == (6, 10, 12)  # 2.8 kB: one block
        np.testing.assert_array_equal(node.to_dask().compute(), VOLUME)
    assert contiguous_chunks((1000, 4096, 4096), 2) == (2, 4096, 4096)
    assert contiguous_chunks((10, 100_000, 100_000), 1) == (1, 671, 100_000)
    assert contiguous_chunks((0, 5), 8) == (0, 5)


def test_group_to_dask_is_refused(tmp_path):
    write_array(f"{tmp_path}/v.zarr::/g/vol", VOLUME, chunks=(2, 5, 6))
    with open_container(f"{tmp_path}/v.zarr::/g") as group, pytest.raises(storecore.InvalidArgument):
        group.to_dask()


def test_missing_extra_names_it():
    with pytest.raises(MissingDependency, match=r"storescope\[cluster\]"):
        require("storecore_no_such_module_xyz", "dask")
    with pytest.raises(ImportError):  # MissingDependency is an ImportError too
        require("storecore_no_such_module_xyz")


@pytest.fixture(scope="module")
def client():
    """A two-process LocalCluster shared by this module's cluster tests (started once: a few seconds)."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, worker_dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.mark.timeout(200)
def test_local_cluster_sums_s3_and_local_arrays(client, s3_root, tmp_path):
    write_array(f"{s3_root}/c.zarr::/vol", VOLUME, chunks=(2, 5, 6))
    (tmp_path / "v.h5").write_bytes(_h5_bytes(tmp_path))
    s3_node = open_container(f"{s3_root}/c.zarr::/vol")
    h5_node = open_container(f"{tmp_path}/v.h5::/g/vol")
    try:
        futures = client.compute([s3_node.to_dask().sum(), h5_node.to_dask().sum()])
        sums = [f.result(timeout=120) for f in futures]  # a failure surfaces here instead of hanging
        assert [float(s) for s in sums] == [float(VOLUME.sum())] * 2
        # the blocks were read in the worker processes, not here
        pids = client.run(os.getpid)
        assert os.getpid() not in pids.values() and len(pids) == 2
    finally:
        s3_node.close()
        h5_node.close()


# -- transfers on the cluster ---------------------------------------------------------------------
@pytest.mark.timeout(200)
def test_copy_on_cluster_verifies_every_file(client, s3_root, tmp_path):
    from storecore.transfer.cluster import copy_on_cluster

    src = tmp_path / "tree"
    rng = np.random.default_rng(1)
    expected = {}
    for i in range(30):
        rel = f"d{i % 3}/sub{i % 2}/f{i:02d}.bin"
        data = rng.bytes(0 if i == 5 else 3_000_000 if i == 7 else 100 + i)
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
        expected[rel] = len(data)
    seen = []
    records = copy_on_cluster(str(src), f"{s3_root}/copy", client, batch_files=7, on_batch=seen.append)
    assert len(seen) == 5 and {r.path: r.size for r in records} == expected
    assert all(r.status == "copied" and r.verified for r in records), [r for r in records if r.status != "copied"]
    assert {e.status for e in storecore.compare(str(src), f"{s3_root}/copy", deep=True)} == {"same"}
    again = copy_on_cluster(str(src), f"{s3_root}/copy", client, skip_same=True)
    assert {r.status for r in again} == {"skipped"}
    # S3 to S3 on the same endpoint: server-side copies, run from the workers
    back = copy_on_cluster(f"{s3_root}/copy", f"{s3_root}/copy2", client, batch_bytes=1_000_000)
    assert {r.status for r in back} == {"copied"} and len(back) == 30
    assert {e.status for e in storecore.compare(str(src), f"{s3_root}/copy2", deep=True)} == {"same"}


def test_cluster_batches_report_failures_per_file(tmp_path, s3_root):
    from storecore.transfer.cluster import batches, copy_batch, plan

    (tmp_path / "a.txt").write_bytes(b"a" * 10)
    (tmp_path / "b.txt").write_bytes(b"b" * 20)
    items = plan(str(tmp_path))
    assert sorted(items)[0][:2] == ("a.txt", 10)
    assert [len(b) for b in batches([("x", 5, None)] * 5, 10, 100)] == [2, 2, 1]
    assert [len(b) for b in batches([("x", 50, None)] * 3, 10, 100)] == [1, 1, 1]  # a big file goes alone
    records = copy_batch(str(tmp_path), f"{s3_root}/out", [*items, ("gone.txt", 3, None)], True, False, [])
    status = {r.path: r.status for r in records}
    assert status == {"a.txt": "copied", "b.txt": "copied", "gone.txt": "failed"}
    assert "gone.txt" in next(r.error for r in records if r.status == "failed")


# -- open_dataset ---------------------------------------------------------------------------------
def test_open_dataset_zarr_dimension_names(tmp_path, s3_root):
    for root in (str(tmp_path / "d.zarr"), f"{s3_root}/d.zarr"):
        write_array(f"{root}::/temp", np.arange(12, dtype="f8").reshape(3, 4), chunks=(1, 4))
        write_array(f"{root}::/time", np.array([10, 20, 30]), chunks=(3,))
        write_array(f"{root}::/x", np.linspace(0, 1, 4), chunks=(4,))
        storecore.containers.set_attrs(f"{root}::/temp", {"_ARRAY_DIMENSIONS": ["time", "x"], "units": "K"})
        storecore.containers.set_attrs(f"{root}::/time", {"_ARRAY_DIMENSIONS": ["time"]})
        storecore.containers.set_attrs(f"{root}::/x", {"_ARRAY_DIMENSIONS": ["x"]})
        ds = storecore.open_dataset(root)
        assert ds["temp"].dims == ("time", "x") and ds["temp"].attrs["units"] == "K"
        assert "_ARRAY_DIMENSIONS" not in ds["temp"].attrs
        assert ds["time"].values.tolist() == [10, 20, 30] and ds["x"].values.tolist() == pytest.approx(
            [0, 1 / 3, 2 / 3, 1]
        )
        assert isinstance(ds["temp"].data, da.Array) and ds["temp"].data.chunksize == (1, 4)
        assert ds["temp"].sel(time=20).values.tolist() == [4, 5, 6, 7]


def test_open_dataset_zarr_v3_dimension_names(tmp_path):
    g = zarr.open_group(str(tmp_path / "v3.zarr"), mode="w", zarr_format=3)
    a = g.create_array("img", shape=(2, 3), dtype="i2", chunks=(1, 3), dimension_names=["y", "x"])
    a[:] = [[1, 2, 3], [4, 5, 6]]
    ds = storecore.open_dataset(str(tmp_path / "v3.zarr"))
    assert ds["img"].dims == ("y", "x") and ds["img"].values.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_open_dataset_netcdf4_dimension_scales(tmp_path):
    path = tmp_path / "cf.nc"
    with h5py.File(path, "w") as f:
        t = f.create_dataset("time", data=np.array([0.0, 1.5, 3.0]))
        t.make_scale("time")
        t.attrs["units"] = "s"
        y = f.create_dataset("y", data=np.zeros(4, "f4"))
        y.make_scale("This is a netCDF dimension but not a netCDF variable.         4")
        v = f.create_dataset("signal", data=np.arange(12, dtype="i4").reshape(3, 4), chunks=(3, 2))
        v.dims[0].attach_scale(t)
        v.dims[1].attach_scale(y)
        v.attrs["long_name"] = "counts"
        f.attrs["title"] = "a netCDF-4 file"
    ds = storecore.open_dataset(str(path))
    assert set(ds.data_vars) == {"signal"} and ds["signal"].dims == ("time", "y")
    assert ds["time"].values.tolist() == [0.0, 1.5, 3.0] and "y" not in ds.coords
    assert ds.attrs["title"] == "a netCDF-4 file" and ds["signal"].attrs == {"long_name": "counts"}
    assert ds["signal"].data.chunksize == (3, 2)
    np.testing.assert_array_equal(ds["signal"].values, np.arange(12).reshape(3, 4))
    one = storecore.open_dataset(f"{path}::/signal")  # one array: with its coordinates
    assert list(one.data_vars) == ["signal"] and one["time"].values.tolist() == [0.0, 1.5, 3.0]


def test_open_dataset_nexus_nxdata(tmp_path):
    path = tmp_path / "scan.nxs.h5"
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        entry = f.create_group("entry")
        entry.attrs.update({"NX_class": "NXentry", "default": "data"})
        data = entry.create_group("data")
        data.attrs.update({"NX_class": "NXdata", "signal": "counts", "axes": ["energy", "."]})
        data.create_dataset("counts", data=np.arange(10, dtype="f4").reshape(5, 2))
        data.create_dataset("counts_errors", data=np.ones((5, 2), "f4"))
        e = data.create_dataset("energy", data=np.linspace(1, 5, 5))
        e.attrs["units"] = "keV"
    ds = storecore.open_dataset(str(path))
    assert ds["counts"].dims == ("energy", "dim_1") and ds.attrs["signal"] == "counts"
    assert ds["energy"].values.tolist() == [1, 2, 3, 4, 5] and ds["energy"].attrs["units"] == "keV"
    assert ds["counts_errors"].values.sum() == 10
    assert float(ds["counts"].sel(energy=3.0).sum()) == 4 + 5


# -- "Copy as Python" -----------------------------------------------------------------------------
def test_python_snippets_run(tmp_path):
    from storecore.snippets import python_snippet

    write_array(f"{tmp_path}/v.zarr::/g/vol", VOLUME, chunks=(2, 5, 6))
    (tmp_path / "t.json").write_text('{"a": 1}')
    for uri, kind, shape, check in (
        (f"{tmp_path}/v.zarr::/g/vol", "array", None, lambda ns: ns["data"].shape == (10, 12)),
        (f"{tmp_path}/v.zarr::/g/vol", "array", (6, 10, 12), lambda ns: np.array_equal(ns["data"], VOLUME[0])),
        (f"{tmp_path}/v.zarr::/g", "group", None, lambda ns: ns["group"].kind == "group"),
        (str(tmp_path), "folder", None, lambda ns: ns["loc"].path == str(tmp_path)),
        (f"{tmp_path}/t.json", "file", None, lambda ns: ns["data"] == {"a": 1}),
    ):
        code = python_snippet(uri, kind, shape)
        assert repr(uri) in code
        ns: dict = {}
        exec(compile(code, "<snippet>", "exec"), ns)  # noqa: S102 - the snippet is the thing under test
        assert check(ns), code
        if "node" in ns:
            ns["node"].close()


def test_window_copy_as_python(qtbot, window, tmp_path):
    from PySide6.QtGui import QGuiApplication
    from window_helpers import wait_loaded

    from app.mounts import MountSpec

    root = tmp_path / "data"
    root.mkdir()
    write_array(f"{root}/v.zarr::/vol", VOLUME, chunks=(2, 5, 6))
    window.add_mount(MountSpec("data", str(root), "local"))
    wait_loaded(qtbot, window, str(root))
    index = window.model.index_of(window.model.find_loaded(f"{root}/v.zarr"))
    menu = window.build_context_menu(index)
    action = next(a for a in menu.action_list if a.text() == "Copy as Python")
    action.trigger()
    code = QGuiApplication.clipboard().text()
    assert f"storecore.open_container({str(root / 'v.zarr')!r})" in code
    ns: dict = {}
    exec(compile(code, "<clipboard>", "exec"), ns)  # noqa: S102
    assert [c.name for c in ns["group"].children()] == ["vol"]
    ns["group"].close()
