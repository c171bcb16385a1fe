"""NeXus default plots and NetCDF4/CF, Zarr and OME-Zarr conventions (storecore, no Qt)."""

from __future__ import annotations

import glob
import os

import h5py
import numpy as np
import pytest
from corpus import HDF5_CORPUS

import storecore
from storecore.containers import conventions, nexus

CORPUS = str(HDF5_CORPUS)


def _nexus_file(path: str) -> str:
    """A new-style NeXus file: @default chain, @signal, @axes with '.', @AXIS_indices, errors, auxiliary signals."""
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.attrs["default"] = "plot"
        entry.create_dataset("other", data=np.zeros((2, 2)))  # a decoy: not the default
        other = entry.create_group("decoy")
        other.attrs["NX_class"] = "NXdata"
        other.attrs["signal"] = "other"
        other.create_dataset("other", data=np.zeros(3))
        data = entry.create_group("plot")
        data.attrs["NX_class"] = "NXdata"
        data.attrs["signal"] = "counts"
        data.attrs["axes"] = ["temperature", ".", "energy"]
        data.attrs["energy_indices"] = 2
        data.attrs["temperature_indices"] = 0
        data.attrs["auxiliary_signals"] = ["monitor"]
        counts = data.create_dataset("counts", data=np.arange(3 * 4 * 5, dtype="f4").reshape(3, 4, 5))
        counts.attrs["long_name"] = "Intensity"
        counts.attrs["units"] = "counts"
        data.create_dataset("counts_errors", data=np.ones((3, 4, 5)))
        data.create_dataset("monitor", data=np.full((3, 4, 5), 2.0))
        e = data.create_dataset("energy", data=np.linspace(8.0, 9.0, 5))
        e.attrs["units"] = "keV"
        t = data.create_dataset("temperature", data=np.array([10.0, 20.0, 40.0]))
        t.attrs["long_name"] = "Sample temperature (K)"
        t.attrs["units"] = "K"
    return path


def test_new_style_default_chain(tmp_path):
    path = _nexus_file(str(tmp_path / "scan.nxs"))
    root = storecore.open_container(path, format="hdf5")
    try:
        assert nexus.default_entry(root).path == "/entry"
        assert nexus.nx_class(root.get("entry")) == "NXentry"
        for start in (root, root.get("entry"), root.get("entry/plot")):
            spec = nexus.default_plot(start)
            assert spec is not None and spec.signal.path == "/entry/plot/counts"
        spec = nexus.default_plot(root)
        assert spec.chain == ["/", "/entry", "/entry/plot"]
        assert spec.names == ["temperature", "", "energy"]
        assert spec.labels == ["Sample temperature (K)", "", "energy (keV)"]
        assert spec.signal_label == "Intensity (counts)"
        assert spec.errors is not None and spec.errors.name == "counts_errors"
        assert [n.name for n in spec.auxiliary] == ["monitor"]
        energy = spec.axes[2]
        np.testing.assert_allclose(energy.values, np.linspace(8.0, 9.0, 5))
        origin, step = energy.linear(5)
        assert step == pytest.approx(0.25) and origin == pytest.approx(8.0 - 0.125)
        assert spec.axes[0].linear(3) is None  # 10, 20, 40: not uniform
        np.testing.assert_allclose(spec.axes[0].centers(3), [10, 20, 40])
        assert nexus.has_default_plot(root) and nexus.has_default_plot(root.get("entry"))
        assert not nexus.has_default_plot(root.get("entry/other"))
    finally:
        root.close()


def test_axes_as_string_and_bin_edges_and_interpretation(tmp_path):
    path = str(tmp_path / "edges.h5")
    with h5py.File(path, "w") as f:
        g = f.create_group("entry")
        g.attrs["NX_class"] = "NXentry"
        d = g.create_group("data")
        d.attrs["NX_class"] = "NXdata"
        d.attrs["signal"] = "y"
        d.attrs["axes"] = "x"  # a single string, no _indices
        y = d.create_dataset("y", data=np.arange(4.0))
        y.attrs["interpretation"] = "spectrum"
        d.create_dataset("x", data=np.array([0.0, 1.0, 2.0, 3.0, 4.0]))  # 5 bin edges for 4 values
        g.create_dataset("title", data=np.array([b"My scan"]))
    root = storecore.open_container(path)
    try:
        spec = nexus.default_plot(root)  # no @default anywhere: the first NXentry/NXdata with a signal
        assert spec.signal.path == "/entry/data/y"
        assert spec.interpretation == "spectrum"
        assert spec.title == "My scan"
        np.testing.assert_allclose(spec.axes[0].centers(4), [0.5, 1.5, 2.5, 3.5])
        assert spec.axes[0].linear(4) == (0.0, 1.0)
    finally:
        root.close()


def test_old_style_signal_and_axes(tmp_path):
    path = str(tmp_path / "old.hdf5")
    with h5py.File(path, "w") as f:
        g = f.create_group("run")
        g.attrs["NX_class"] = b"NXentry"
        d = g.create_group("det")
        d.attrs["NX_class"] = b"NXdata"
        img = d.create_dataset("image", data=np.arange(12.0).reshape(3, 4))
        img.attrs["signal"] = 1
        img.attrs["axes"] = b"row:col"
        r = d.create_dataset("row", data=np.arange(3.0) * 2)
        r.attrs["units"] = "mm"
        d.create_dataset("col", data=np.arange(4.0))
        d.create_dataset("errors", data=np.full((3, 4), 0.5))
    root = storecore.open_container(path)
    try:
        spec = nexus.default_plot(root)
        assert spec.signal.path == "/run/det/image"
        assert spec.names == ["row", "col"]
        assert spec.labels[0] == "row (mm)"
        assert spec.errors is not None and spec.errors.name == "errors"
        spec2 = nexus.default_plot(root.get("run/det/image"))  # the signal dataset itself
        assert spec2.names == ["row", "col"]
    finally:
        root.close()


def test_no_plot_is_none(tmp_path):
    path = str(tmp_path / "plain.h5")
    with h5py.File(path, "w") as f:
        f.create_group("g").create_dataset("a", data=np.zeros(3))
    root = storecore.open_container(path)
    try:
        assert nexus.default_plot(root) is None
        assert nexus.default_entry(root) is None
        assert not nexus.has_default_plot(root)
    finally:
        root.close()


def _corpus_with_default() -> list[str]:
    out = []
    for p in sorted(glob.glob(os.path.join(CORPUS, "*"))):
        with h5py.File(p, "r", locking=False) as f:
            if "default" in f.attrs or any(
                isinstance(g, h5py.Group) and "default" in g.attrs
                for g in f.values()
                if not isinstance(g, h5py.Datatype)
            ):
                out.append(p)
    return out


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="corpus not mounted")
@pytest.mark.parametrize("path", _corpus_with_default() if os.path.isdir(CORPUS) else [], ids=os.path.basename)
def test_corpus_default_chain_matches_h5py(path):
    """storecore follows @default the way a plain h5py walk does, on every corpus file declaring one."""
    with h5py.File(path, "r", locking=False) as f:
        g = f
        for _ in range(8):
            name = g.attrs.get("default")
            if name is None:
                break
            name = name.decode() if isinstance(name, bytes) else str(name)
            if name not in g:
                break
            g = g[name]
        signal = g.attrs.get("signal")
        signal = signal.decode() if isinstance(signal, bytes) else signal
        expected = f"{g.name}/{signal}" if signal is not None and signal in g else None
        end = g.name
    root = storecore.open_container(path)
    try:
        spec = nexus.default_plot(root)
        if expected is not None:  # else the chain ends at a group without a signal: a search may find another
            assert spec is not None and spec.signal.path == expected
            assert spec.chain[-1] == end
    finally:
        root.close()


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="corpus not mounted")
def test_corpus_without_default_finds_first_nxdata():
    root = storecore.open_container(os.path.join(CORPUS, "DLS_NXmx_Therm_6_2.nxs"))
    try:
        spec = nexus.default_plot(root, read_axes=True)
        assert spec.signal.path == "/entry/data/data"
        assert spec.names[0] == "omega" and spec.labels[0] == "omega (deg)"
    finally:
        root.close()
    root = storecore.open_container(os.path.join(CORPUS, "APS_areaDetector_AgBehenate_228.hdf5"))
    try:
        spec = nexus.default_plot(root)  # old style: signal=1 on the dataset
        assert spec.signal.path == "/entry/data/data" and spec.signal.shape == (195, 487)
    finally:
        root.close()


# -- conventions -------------------------------------------------------------------------------------------
def test_hdf5_dimension_scales_netcdf_style(tmp_path):
    path = str(tmp_path / "climate.nc")
    with h5py.File(path, "w") as f:
        t = f.create_dataset("time", data=np.array([0.0, 6.0, 12.0, 24.0]))
        t.make_scale("time")
        t.attrs["units"] = "hours since 2000-01-01"
        lat = f.create_dataset("lat", data=np.linspace(-45, 45, 3))
        lat.make_scale("lat")
        lat.attrs["long_name"] = "Latitude"
        lat.attrs["units"] = "degrees_north"
        x = f.create_dataset("x", data=np.zeros(2))
        x.make_scale("x")
        x.attrs["NAME"] = np.bytes_(conventions.NETCDF_DIM_ONLY + "         2")
        v = f.create_dataset("temp", data=np.arange(24, dtype="i2").reshape(4, 3, 2))
        v.attrs["scale_factor"] = 0.5
        v.attrs["add_offset"] = 100.0
        v.attrs["_FillValue"] = np.int16(7)
        v.attrs["units"] = "K"
        v.attrs["long_name"] = "Temperature"
        for i, s in enumerate((t, lat, x)):
            v.dims[i].attach_scale(s)
    node = storecore.open_container(f"{path}::/temp")
    try:
        dims = conventions.dimensions(node)
        assert [d.name for d in dims] == ["time", "lat", "x"]
        assert conventions.dimension_names(node) == ["time", "lat", "x"]
        np.testing.assert_allclose(dims[0].values, [0, 6, 12, 24])
        assert dims[1].label == "Latitude (degrees_north)"
        assert dims[2].values is None  # a dimension without a coordinate variable
        cf = conventions.cf_info(node.attrs, node.dtype)
        assert cf.label == "Temperature (K)" and cf.packed
        out = conventions.decode(node.read_slice(()), cf)
        assert out.dtype.kind == "f"
        assert np.isnan(out[1, 0, 1])  # raw 7 is the fill value
        assert out[0, 0, 1] == pytest.approx(100.5)
        assert int(np.isnan(out).sum()) == 1
    finally:
        node.close()


def test_missing_value_and_valid_range():
    info = conventions.cf_info({"missing_value": [-999.0], "valid_range": [0, 10]})
    out = conventions.decode(np.array([1.0, -999.0, 11.0, 5.0]), info)
    assert np.isnan(out).tolist() == [False, True, True, False]
    assert conventions.decode(np.arange(3), conventions.cf_info({})).dtype.kind == "i"  # nothing to do: unchanged


def test_zarr_array_dimensions_v2_and_v3(tmp_path):
    import zarr

    g = zarr.open_group(str(tmp_path / "v2.zarr"), mode="w", zarr_format=2)
    a = g.create_array("temp", shape=(3, 4), dtype="f4")
    a[:] = 1
    a.attrs["_ARRAY_DIMENSIONS"] = ["y", "x"]
    x = g.create_array("x", shape=(4,), dtype="f8")
    x[:] = [0.0, 0.1, 0.2, 0.3]
    x.attrs.update({"_ARRAY_DIMENSIONS": ["x"], "units": "m"})
    node = storecore.open_container(f"{tmp_path}/v2.zarr::/temp")
    try:
        dims = conventions.dimensions(node)
        assert [d.name for d in dims] == ["y", "x"]
        assert dims[0].values is None
        np.testing.assert_allclose(dims[1].values, [0.0, 0.1, 0.2, 0.3])
        assert dims[1].label == "x (m)"
    finally:
        node.close()
    g3 = zarr.open_group(str(tmp_path / "v3.zarr"), mode="w", zarr_format=3)
    g3.create_array("img", shape=(2, 5), dtype="u1", dimension_names=["row", "col"])
    c = g3.create_array("col", shape=(5,), dtype="f8", dimension_names=["col"])
    c[:] = np.arange(5) * 2.0
    node = storecore.open_container(f"{tmp_path}/v3.zarr::/img")
    try:
        assert conventions.dimension_names(node) == ["row", "col"]
        np.testing.assert_allclose(conventions.dimensions(node)[1].values, np.arange(5) * 2.0)
    finally:
        node.close()


def _ome_zarr(path: str) -> str:
    import zarr

    g = zarr.open_group(path, mode="w", zarr_format=2)
    g.create_array("0", shape=(2, 8, 8), dtype="u2")[:] = 1
    g.create_array("1", shape=(2, 4, 4), dtype="u2")[:] = 1
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"}]  # fmt: skip
    g.attrs["multiscales"] = [{
        "version": "0.4", "name": "cells", "axes": axes,
        "datasets": [
            {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.5, 0.25]}]},
            {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.0, 0.5]}]},
        ],
    }]  # fmt: skip
    g.attrs["omero"] = {"channels": [
        {"label": "DAPI", "color": "0000FF", "window": {"start": 0, "end": 1000, "min": 0, "max": 65535}},
        {"label": "GFP", "color": "00FF00", "active": False},
    ]}  # fmt: skip
    labels = g.create_group("labels")
    labels.attrs["labels"] = ["nuclei"]
    nuclei = labels.create_group("nuclei")
    nuclei.create_array("0", shape=(8, 8), dtype="u4")
    return path


def test_ome_zarr_channels_pixel_size_labels(tmp_path):
    path = _ome_zarr(str(tmp_path / "img.ome.zarr"))
    root = storecore.open_container(path)
    try:
        info = conventions.ome_info(root)
        assert info.name == "cells" and info.axis_names == ["c", "y", "x"]
        assert [c.label for c in info.channels] == ["DAPI", "GFP"]
        assert info.channels[0].rgb == (0, 0, 255) and info.channels[0].window == (0.0, 1000.0)
        assert not info.channels[1].active
        assert info.pixel_size(1) == (0.5, "micrometer") and info.pixel_size(2) == (0.25, "micrometer")
        assert info.axis_label(2) == "x (µm)"
        assert info.labels == ["nuclei"]
        assert conventions.ome_image_of(root.get("0")) == root
        assert conventions.ome_info(root.get("labels")) is None
    finally:
        root.close()


def test_very_old_axis_attributes_and_two_dimensional_axes(tmp_path):
    path = str(tmp_path / "older.h5")
    with h5py.File(path, "w") as f:
        d = f.create_group("entry/data")
        f["entry"].attrs["NX_class"] = "NXentry"
        d.attrs["NX_class"] = "NXdata"
        s = d.create_dataset("counts", data=np.ones((2, 3)))
        s.attrs["signal"] = "1"
        a = d.create_dataset("tth", data=np.array([1.0, 2.0, 3.0]))
        a.attrs["axis"] = 2
        a.attrs["primary"] = 1
        g2 = f.create_group("entry2")
        g2.attrs["NX_class"] = "NXentry"
        g2.attrs["default"] = "map"
        m = g2.create_group("map")
        m.attrs.update({"NX_class": "NXdata", "signal": "z", "axes": ["xy", "."], "xy_indices": [0, 1]})
        m.create_dataset("z", data=np.ones((2, 3)))
        m.create_dataset("xy", data=np.ones((2, 3)))
    root = storecore.open_container(path)
    try:
        spec = nexus.default_plot(root.get("entry"))
        assert spec.names == ["", "tth"]
        spec = nexus.default_plot(root.get("entry2"))
        assert spec.axes[1] is not None and spec.axes[1].dims == (0, 1) and spec.axes[1].values is None
        assert any("spans dimensions" in n for n in spec.notes)
    finally:
        root.close()


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_xarray_packed_zarr_variables_decode_as_xarray_reads_them(tmp_path, zarr_format):
    """xarray writes a Zarr v2 variable's _FillValue as the array's fill_value (v3: among its attributes); either
    way the CF decoding masks it, and the values equal xarray's; a float variable's NaN fill adds no mask."""
    import warnings

    xr = pytest.importorskip("xarray")
    values = np.linspace(0, 10, 6)
    values[2] = np.nan
    ds = xr.Dataset({"packed": (("x",), values, {"units": "K"}), "plain": (("x",), values)})
    ds["packed"].encoding = {"dtype": "i2", "scale_factor": 0.01, "add_offset": 5.0, "_FillValue": -9999}
    path = str(tmp_path / f"xr{zarr_format}.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # xarray/zarr notes about v2, consolidated metadata
        ds.to_zarr(path, zarr_format=zarr_format, consolidated=False)
        expected = xr.open_zarr(path, consolidated=False)["packed"].values
    with storecore.open_container(f"{path}::/packed") as node:
        attrs = conventions.variable_attrs(node, node.attrs)
        cf = conventions.cf_info(attrs, node.dtype)
        assert cf.fill_values == [-9999.0] and cf.packed
        np.testing.assert_allclose(conventions.decode(node.read_slice(()), cf), expected, equal_nan=True)
    with storecore.open_container(f"{path}::/plain") as node:
        assert conventions.variable_attrs(node, node.attrs).get("_FillValue") in (None, node.attrs.get("_FillValue"))
