"""Every example of the raygent Savers document (raygent-savers.txt), run against storecore.

Examples that hand the saver to raygent's TaskManager stop at the saver (the
TaskManager is not part of storecore); ``process_batch`` and friends are
replaced by small arrays.  Test names: document_section_example.
"""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
import zarr

from storecore import HDF5Saver, NumpySaver, Saver, ZarrSaver


@pytest.fixture(autouse=True)
def _cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def h5(path, name):
    with h5py.File(path, "r") as f:
        return f[name][...]


def zarr_read(path, name="dataset"):
    return zarr.open_array(zarr.storage.LocalStore(path), path=name)[...]


# -- HDF5Saver class ------------------------------------------------------------
def test_raygent_hdf5saver_basic_usage():
    saver = HDF5Saver("results.h5", dataset_name="experiment_1")
    saver.save([[1.0, 2.0], [3.0, 4.0]])
    saver.save([[5.0, 6.0]])
    assert h5("results.h5", "experiment_1").tolist() == [[1, 2], [3, 4], [5, 6]]


def test_raygent_hdf5saver_overwriting_existing_data():
    HDF5Saver("daily_metrics.h5", dataset_name="day_20240306").save([1, 2, 3, 4])
    saver = HDF5Saver("daily_metrics.h5", dataset_name="day_20240306", approach="overwrite")
    results = np.array([7, 8])
    saver.save(results)
    assert h5("daily_metrics.h5", "day_20240306").tolist() == [7, 8]


def test_raygent_hdf5saver_updating_specific_indices():
    HDF5Saver("time_series.h5", dataset_name="sensor_readings").save(np.zeros(40))
    saver = HDF5Saver("time_series.h5", dataset_name="sensor_readings", approach="update")
    new_data = [99.5, 98.3, 97.8]
    indices = [10, 20, 30]
    saver.save(new_data, indices=indices)
    out = h5("time_series.h5", "sensor_readings")
    assert out[[10, 20, 30]].tolist() == new_data and out.sum() == pytest.approx(sum(new_data))


def test_raygent_hdf5saver_multiple_datasets_in_one_file():
    saver1 = HDF5Saver("project_data.h5", dataset_name="raw_data")
    saver2 = HDF5Saver("project_data.h5", dataset_name="processed_data")
    saver3 = HDF5Saver("project_data.h5", dataset_name="metadata")
    saver1.save([1, 2, 3])
    saver2.save([0.5, 0.25])
    saver3.save([7])
    assert h5("project_data.h5", "raw_data").tolist() == [1, 2, 3]
    assert h5("project_data.h5", "processed_data").tolist() == [0.5, 0.25]
    assert h5("project_data.h5", "metadata").tolist() == [7]


def test_raygent_hdf5saver_notes_groups_via_slash_paths():
    HDF5Saver("g.h5", dataset_name="experiments/trial_1/data").save([1, 2])
    with h5py.File("g.h5", "r") as f:
        assert isinstance(f["experiments"], h5py.Group) and isinstance(f["experiments/trial_1"], h5py.Group)
        assert f["experiments/trial_1/data"][...].tolist() == [1, 2]


# -- HDF5Saver.save -----------------------------------------------------------------
def test_raygent_hdf5saver_save_append_approach():
    saver = HDF5Saver("results.h5", dataset_name="measurements")
    saver.save([1, 2, 3, 4, 5])
    saver.save([6, 7, 8, 9, 10])
    assert h5("results.h5", "measurements").tolist() == list(range(1, 11))


def test_raygent_hdf5saver_save_with_compression():
    large_data_array = np.random.default_rng(0).random(1000)
    saver = HDF5Saver("compressed_results.h5", dataset_name="large_dataset")
    saver.save(large_data_array, dtype="float32", compression="gzip", compression_opts=9, chunks=(100,))
    with h5py.File("compressed_results.h5", "r") as f:
        d = f["large_dataset"]
        assert d.dtype == np.float32 and d.compression == "gzip" and d.compression_opts == 9 and d.chunks == (100,)
        np.testing.assert_allclose(d[...], large_data_array.astype("float32"))


def test_raygent_hdf5saver_save_updating_specific_indices_slice():
    HDF5Saver("values.h5", dataset_name="sensor_data").save(np.zeros(20))
    saver = HDF5Saver("values.h5", dataset_name="sensor_data", approach="update")
    new_values = [99.5, 98.3, 97.8]
    indices = slice(10, 13)
    saver.save(new_values, indices=indices)
    assert h5("values.h5", "sensor_data")[10:13].tolist() == new_values


# -- NumpySaver class -------------------------------------------------------------
def test_raygent_numpysaver_basic_usage():
    saver = NumpySaver("results.npy")
    saver.save([1, 2])
    saver.save([3])
    assert np.load("results.npy").tolist() == [1, 2, 3]


def test_raygent_numpysaver_overwriting_existing_data():
    np.save("daily_metrics.npy", np.arange(5))
    saver = NumpySaver("daily_metrics.npy", approach="overwrite")
    results = [9, 8]
    saver.save(results)
    assert np.load("daily_metrics.npy").tolist() == [9, 8]


def test_raygent_numpysaver_updating_specific_indices():
    np.save("time_series.npy", np.zeros(31))
    saver = NumpySaver("time_series.npy", approach="update")
    new_data = [99.5, 98.3, 97.8]
    indices = [10, 20, 30]
    saver.save(new_data, indices=indices)
    assert np.load("time_series.npy")[indices].tolist() == new_data


# -- NumpySaver.save ------------------------------------------------------------------
def test_raygent_numpysaver_save_append_approach():
    saver = NumpySaver("results.npy")
    saver.save([1, 2, 3, 4, 5])
    saver.save([6, 7, 8, 9, 10])
    assert np.load("results.npy").tolist() == list(range(1, 11))


def test_raygent_numpysaver_save_overwriting_existing_data():
    saver = NumpySaver("metrics.npy", approach="overwrite")
    saver.save([10, 20, 30, 40, 50])
    assert np.load("metrics.npy").tolist() == [10, 20, 30, 40, 50]


def test_raygent_numpysaver_save_updating_specific_indices():
    saver = NumpySaver("values.npy", approach="update")
    saver.approach = "overwrite"
    saver.save([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    saver.approach = "update"
    new_values = [99, 88, 77]
    indices = [2, 5, 8]
    saver.save(new_values, indices=indices)
    assert np.load("values.npy").tolist() == [0, 0, 99, 0, 0, 88, 0, 0, 77, 0]


# -- Saver ------------------------------------------------------------------------
def test_raygent_saver_creating_a_custom_saver():
    # The document's CSVSaver uses pandas; the same shape with the csv module.
    import csv

    class CSVSaver(Saver):
        def __init__(self, file_path):
            self.file_path = file_path
            self.file_exists = os.path.exists(file_path)

        def save(self, data, indices=None, **kwargs):
            mode = "a" if self.file_exists else "w"
            with open(self.file_path, mode, newline="") as f:
                csv.writer(f).writerows(data)
            self.file_exists = True

    saver = CSVSaver("out.csv")
    saver.save([[1, 2]])
    saver.save([[3, 4]])
    assert open("out.csv").read().split() == ["1,2", "3,4"]
    with pytest.raises(TypeError):
        Saver()  # abstract


def test_raygent_saver_save_implementation_in_hdf5saver():
    # The document's sketch of HDF5Saver.save, run by hand, agrees with ours.
    arr = np.array([1, 2, 3])
    with h5py.File("sketch.h5", "a") as h5file:
        h5file.create_dataset("d", data=arr, maxshape=(None,))
    saver = HDF5Saver("sketch.h5", dataset_name="d")
    saver.save([4])
    assert h5("sketch.h5", "d").tolist() == [1, 2, 3, 4]


# -- ZarrSaver class -----------------------------------------------------------------
def test_raygent_zarrsaver_basic_usage_with_local_storage():
    saver = ZarrSaver("results.zarr", dataset_name="experiment_1")
    saver.save([1, 2])
    saver.save([3])
    assert zarr_read("results.zarr", "experiment_1").tolist() == [1, 2, 3]


def test_raygent_zarrsaver_overwriting_existing_data():
    ZarrSaver("results.zarr", dataset_name="daily_metrics").save([1, 2, 3, 4])
    saver = ZarrSaver("results.zarr", dataset_name="daily_metrics", approach="overwrite")
    results = np.array([[5.0, 6.0]])
    saver.save(results)
    assert zarr_read("results.zarr", "daily_metrics").tolist() == [[5.0, 6.0]]
    assert sorted(os.listdir("results.zarr")) == ["daily_metrics", "zarr.json"]  # no temporaries left


def test_raygent_zarrsaver_updating_specific_indices():
    ZarrSaver("results.zarr", dataset_name="time_series").save(np.zeros(25))
    saver = ZarrSaver("results.zarr", dataset_name="time_series", approach="update")
    new_data = np.array([1.0, 2.0, 3.0, 4.0])
    indices = [5, 10, 15, 20]
    saver.save(new_data, indices=indices)
    assert zarr_read("results.zarr", "time_series")[indices].tolist() == [1, 2, 3, 4]


def test_raygent_zarrsaver_cloud_storage_backend_store_object():
    # The document builds an s3fs mapping; any zarr 3 store object is accepted the same way.
    store = zarr.storage.MemoryStore()
    saver = ZarrSaver(store, dataset_name="remote_dataset", approach="append")
    saver.save([1, 2])
    saver.save([3])
    assert zarr.open_array(store, path="remote_dataset")[...].tolist() == [1, 2, 3]


# -- ZarrSaver.save ----------------------------------------------------------------------
def test_raygent_zarrsaver_save_append_approach():
    saver = ZarrSaver("results.zarr")
    saver.save([1, 2, 3, 4, 5])
    saver.save([6, 7, 8, 9, 10])
    assert zarr_read("results.zarr").tolist() == list(range(1, 11))


def test_raygent_zarrsaver_save_custom_chunks_and_compression():
    import numcodecs

    large_dataset = np.arange(5000, dtype="float64")
    saver = ZarrSaver("compressed_results.zarr")
    compressor = numcodecs.Blosc(cname="zstd", clevel=9)
    saver.save(large_dataset, chunks=(1000,), compressor=compressor)
    z = zarr.open_array(zarr.storage.LocalStore("compressed_results.zarr"), path="dataset")
    assert z.chunks == (1000,)
    assert "zstd" in repr(z.compressors) and "clevel=9" in repr(z.compressors)
    np.testing.assert_array_equal(z[...], large_dataset)


def test_raygent_zarrsaver_save_updating_specific_indices():
    ZarrSaver("timeseries.zarr").save(np.zeros(31))
    saver = ZarrSaver("timeseries.zarr", approach="update")
    new_values = [99.5, 98.3, 97.8]
    indices = [10, 20, 30]
    saver.save(new_values, indices=indices)
    assert zarr_read("timeseries.zarr")[indices].tolist() == new_values


# -- what raygent's own test suite exercises ----------------------------------------------
def test_raygent_suite_zarr_update_then_reopen_with_plain_zarr():
    ZarrSaver(file_path="test.zarr", dataset_name="dataset", approach="overwrite").save([1, 2, 3, 4, 5])
    ZarrSaver(file_path="test.zarr", dataset_name="dataset", approach="update").save([99, 99], indices=[1, 2])
    store = zarr.storage.LocalStore("test.zarr", read_only=False)
    assert zarr.open_array(store, path="dataset")[:].tolist() == [1, 99, 99, 4, 5]


def test_raygent_suite_numpy_overwrite_then_append():
    s = NumpySaver(file_path="test.npy", approach="overwrite")
    s.save([1, 2, 3, 4, 5])
    s.save([100, 200])
    assert np.load("test.npy").tolist() == [100, 200]
    a = NumpySaver(file_path="test.npy", approach="append")
    a.save([6, 7])
    assert np.load("test.npy").tolist() == [100, 200, 6, 7]
