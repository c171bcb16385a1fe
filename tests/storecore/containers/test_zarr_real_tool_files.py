"""Zarr stores as real tools write them (xarray, OME-Zarr writers), read by storecore as their own library reads them."""

from __future__ import annotations

import numpy as np
import pytest

import storecore


def test_an_xarray_v2_store_opens_as_xarray_opens_it_with_fill_values_masked(tmp_path):
    xr = pytest.importorskip("xarray")
    pd = pytest.importorskip("pandas")
    temp = 15 + np.arange(12, dtype="f8").reshape(4, 3)
    temp[1, 2] = np.nan
    ds = xr.Dataset({"temp": (("time", "station"), temp, {"units": "degC"}),
                     "count": (("time",), np.array([1, 2, -1, 4], dtype="i4"))},
                    coords={"time": pd.date_range("2021-03-01", periods=4, freq="6h"),
                            "station": np.array(["alpha", "béta", "gamma"], dtype=object)})
    encoding = {"temp": {"dtype": "int16", "scale_factor": 0.01, "add_offset": 10.0, "_FillValue": -32768},
                "count": {"_FillValue": -1}}
    for fmt in (2, 3):
        path = tmp_path / f"v{fmt}.zarr"
        ds.to_zarr(path, mode="w", zarr_format=fmt, encoding=encoding, consolidated=False)
        ref = xr.open_zarr(path, consolidated=False).load()
        got = storecore.open_dataset(str(path)).load()
        # v2 keeps _FillValue in .zarray's fill_value: the missing temperature read -317.68, the count -1
        assert got.identical(ref), fmt
        assert np.isnan(got["temp"].values[1, 2]) and np.isnan(got["count"].values[2])
        assert storecore.open_dataset(f"{path}::/count").load()["count"].identical(ref["count"])
