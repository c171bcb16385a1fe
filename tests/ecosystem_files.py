"""HDF5 files written the way other ecosystems than beamlines write them, for the real-files tests.

MATLAB v7.3 ``.mat`` files, AnnData ``.h5ad``, PyTables / pandas HDFStore, netCDF-4, old-style NeXus and
ESRF bliss scan files, and storage odds (external raw files, compact layout, scale-offset, array and nested
compound types, bitfields, SWMR).  Each writer lays the file out with h5py exactly as the tool does (the
tools themselves are not needed to test reading what they write).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import h5py
import numpy as np


def _mat_attrs(obj, cls, **extra):
    obj.attrs.create("MATLAB_class", np.bytes_(cls))
    for k, v in extra.items():
        obj.attrs[k] = v


def write_matlab_v73(path: Path) -> Path:
    with h5py.File(path, "w", userblock_size=512) as f:
        # double matrix 3x4 in MATLAB -> stored (4,3)
        m = np.arange(12, dtype="f8").reshape(3, 4)
        d = f.create_dataset("A", data=m.T)
        _mat_attrs(d, "double")
        # char 'hello' as uint16 (5,1)
        s = np.frombuffer("héllo".encode("utf-16-le"), dtype="<u2").reshape(-1, 1)
        d = f.create_dataset("name", data=s)
        _mat_attrs(d, "char")
        d.attrs["MATLAB_int_decode"] = np.int32(2)
        # logical
        d = f.create_dataset("mask", data=np.array([[1, 0, 1]], dtype="u1").T)
        _mat_attrs(d, "logical")
        # empty double: stored as its shape (uint64) with MATLAB_empty
        d = f.create_dataset("empty", data=np.array([0, 0], dtype="u8"))
        _mat_attrs(d, "double")
        d.attrs["MATLAB_empty"] = np.uint8(1)
        d = f.create_dataset("empty_char", data=np.array([0, 0], dtype="u8"))
        _mat_attrs(d, "char")
        d.attrs["MATLAB_empty"] = np.uint8(1)
        d.attrs["MATLAB_int_decode"] = np.int32(2)
        # scalar
        d = f.create_dataset("x", data=np.array([[3.5]]))
        _mat_attrs(d, "double")
        # int types
        d = f.create_dataset("i8", data=np.array([[-1, 2, 3]], dtype="i1"))
        _mat_attrs(d, "int8")
        # complex: compound real/imag
        cdt = np.dtype([("real", "f8"), ("imag", "f8")])
        c = np.zeros((2, 1), cdt)
        c["real"][:, 0] = [1, 2]
        c["imag"][:, 0] = [0.5, -1]
        d = f.create_dataset("z", data=c)
        _mat_attrs(d, "double")
        # refs group and cell array
        refs = f.create_group("#refs#")
        a = refs.create_dataset("a", data=np.array([[1.0, 2.0]]))
        _mat_attrs(a, "double")
        b = refs.create_dataset("b", data=np.frombuffer("ab".encode("utf-16-le"), "<u2").reshape(-1, 1))
        _mat_attrs(b, "char")
        b.attrs["MATLAB_int_decode"] = np.int32(2)
        e = refs.create_dataset("c", data=np.array([0, 0], dtype="u8"))
        _mat_attrs(e, "double")
        e.attrs["MATLAB_empty"] = np.uint8(1)
        cell = f.create_dataset(
            "C", data=np.array([[a.ref, b.ref, e.ref]], dtype=h5py.ref_dtype).T, dtype=h5py.ref_dtype
        )
        _mat_attrs(cell, "cell")
        # struct
        st = f.create_group("S")
        _mat_attrs(st, "struct")
        fields = np.empty(2, object)
        fields[0] = np.array([b"f", b"o", b"o"], "S1")
        fields[1] = np.array([b"b", b"a", b"r"], "S1")
        st.attrs.create("MATLAB_fields", fields, dtype=h5py.vlen_dtype(np.dtype("S1")))
        d = st.create_dataset("foo", data=np.array([[1.0]]))
        _mat_attrs(d, "double")
        d = st.create_dataset("bar", data=np.array([[0, 1]], dtype="u1").T)
        _mat_attrs(d, "logical")
        # struct array: fields as refs
        sa = f.create_group("SA")
        _mat_attrs(sa, "struct")
        r1 = refs.create_dataset("d", data=np.array([[7.0]]))
        _mat_attrs(r1, "double")
        r2 = refs.create_dataset("e", data=np.array([[8.0]]))
        _mat_attrs(r2, "double")
        sa.create_dataset("v", data=np.array([[r1.ref], [r2.ref]], dtype=h5py.ref_dtype), dtype=h5py.ref_dtype)
        # sparse 4x3 with 3 nonzeros
        sp = f.create_group("Sp")
        _mat_attrs(sp, "double")
        sp.attrs["MATLAB_sparse"] = np.uint64(4)
        sp["data"] = np.array([1.0, 2.0, 3.0])
        sp["ir"] = np.array([0, 2, 3], dtype="u8")
        sp["jc"] = np.array([0, 1, 1, 3], dtype="u8")
        # scalar struct with empty field
        # function handle/ opaque classes stored as uint32 under #subsystem#
        sub = f.create_group("#subsystem#")
        d = sub.create_dataset("MCOS", data=np.array([[1, 2, 3]], dtype="u1").T, dtype="u1")
        _mat_attrs(d, "FileWrapper__")
        # chunked compressed large-ish
        d = f.create_dataset("big", data=np.random.default_rng(0).random((50, 40)), chunks=(25, 40), compression="gzip")
        _mat_attrs(d, "double")
    with open(path, "r+b") as raw:
        hdr = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Sat Dec  5 01:00:00 2026 HDF5 schema 1.00 ."
        raw.write(hdr.ljust(116, b" ") + bytes(8) + b"\x00\x02IM")
    return path


def write_anndata(path: Path) -> Path:
    utf8 = h5py.string_dtype("utf-8")

    def enc(obj, t, v="0.1.0"):
        obj.attrs["encoding-type"] = t
        obj.attrs["encoding-version"] = v

    n_obs, n_var = 6, 4
    with h5py.File(path, "w") as f:
        enc(f, "anndata", "0.1.0")
        X = f.create_group("X")
        enc(X, "csr_matrix")
        X.attrs["shape"] = np.array([n_obs, n_var])
        X["data"] = np.array([1.0, 2.0, 3.0, 4.0], "f4")
        X["indices"] = np.array([0, 3, 1, 2], "i4")
        X["indptr"] = np.array([0, 2, 2, 3, 3, 4, 4], "i4")
        obs = f.create_group("obs")
        enc(obs, "dataframe", "0.2.0")
        obs.attrs["_index"] = "_index"
        obs.attrs["column-order"] = np.array(
            ["cell_type", "n_genes", "flag", "nullable_int", "nullable_bool", "label"], dtype=object
        )
        d = obs.create_dataset("_index", data=np.array([f"cell{i}" for i in range(n_obs)], dtype=object), dtype=utf8)
        enc(d, "string-array")
        ct = obs.create_group("cell_type")
        enc(ct, "categorical")
        ct.attrs["ordered"] = False
        ct["codes"] = np.array([0, 1, -1, 0, 1, 2], "i1")
        c = ct.create_dataset("categories", data=np.array(["B", "T", "NK"], dtype=object), dtype=utf8)
        enc(c, "string-array")
        d = obs.create_dataset("n_genes", data=np.arange(n_obs, dtype="i8"))
        enc(d, "array")
        d = obs.create_dataset("flag", data=np.array([True, False] * 3))
        enc(d, "array")
        ni = obs.create_group("nullable_int")
        enc(ni, "nullable-integer")
        ni["values"] = np.arange(n_obs, dtype="i4")
        ni["mask"] = np.array([0, 1, 0, 0, 1, 0], bool)
        nb = obs.create_group("nullable_bool")
        enc(nb, "nullable-boolean")
        nb["values"] = np.array([1, 0, 1, 0, 1, 0], bool)
        nb["mask"] = np.array([0, 0, 1, 0, 0, 0], bool)
        d = obs.create_dataset("label", data=np.array(["a", "", "ç", "d", "e", "f"], dtype=object), dtype=utf8)
        enc(d, "string-array")
        var = f.create_group("var")
        enc(var, "dataframe", "0.2.0")
        var.attrs["_index"] = "gene_ids"
        var.attrs["column-order"] = h5py.Empty("f")  # anndata: an empty column-order
        d = var.create_dataset("gene_ids", data=np.array([f"g{i}" for i in range(n_var)], dtype=object), dtype=utf8)
        enc(d, "string-array")
        obsm = f.create_group("obsm")
        enc(obsm, "dict")
        d = obsm.create_dataset("X_pca", data=np.random.default_rng(1).random((n_obs, 3)).astype("f4"))
        enc(d, "array")
        varm = f.create_group("varm")
        enc(varm, "dict")
        obsp = f.create_group("obsp")
        enc(obsp, "dict")
        cs = obsp.create_group("distances")
        enc(cs, "csc_matrix")
        cs.attrs["shape"] = np.array([n_obs, n_obs])
        cs["data"] = np.array([0.5], "f8")
        cs["indices"] = np.array([1], "i4")
        cs["indptr"] = np.array([0, 1, 1, 1, 1, 1, 1], "i4")
        layers = f.create_group("layers")
        enc(layers, "dict")
        d = layers.create_dataset(
            "counts", data=np.arange(n_obs * n_var, dtype="i4").reshape(n_obs, n_var), chunks=(3, 4), compression="lzf"
        )
        enc(d, "array")
        uns = f.create_group("uns")
        enc(uns, "dict")
        d = uns.create_dataset("title", data="sample run")
        enc(d, "string")
        d = uns.create_dataset("n", data=np.int64(3))
        enc(d, "numeric-scalar")
        d = uns.create_dataset("colors", data=np.array(["#ff0000", "#00ff00"], dtype=object), dtype=utf8)
        enc(d, "string-array")
        aw = uns.create_group("awk")
        enc(aw, "awkward-array")
        aw.attrs["form"] = "{}"
        aw.attrs["length"] = 0
        raw = f.create_group("raw")
        enc(raw, "raw")
        d = raw.create_dataset("X", data=np.zeros((n_obs, 0), "f4"))
        enc(d, "array")
    return path


def write_pytables(path: Path) -> Path:
    """PyTables/pandas HDFStore layouts (table and fixed formats) as PyTables writes them."""
    with h5py.File(path, "w") as f:
        f.attrs.update(
            {
                "CLASS": np.bytes_(b"GROUP"),
                "TITLE": np.bytes_(b""),
                "VERSION": np.bytes_(b"1.0"),
                "PYTABLES_FORMAT_VERSION": np.bytes_(b"2.1"),
            }
        )
        # pandas table format
        g = f.create_group("df_table")
        g.attrs.update(
            {
                "CLASS": np.bytes_(b"GROUP"),
                "TITLE": np.bytes_(b""),
                "VERSION": np.bytes_(b"1.0"),
                "pandas_type": np.bytes_(b"frame_table"),
                "pandas_version": np.bytes_(b"0.15.2"),
                "table_type": np.bytes_(b"appendable_frame"),
                "encoding": np.bytes_(b"UTF-8"),
                "errors": np.bytes_(b"strict"),
                "levels": 1,
                "nan_rep": np.bytes_(b"nan"),
            }
        )
        rec = np.dtype(
            [
                ("index", "<i8"),
                ("values_block_0", "<f8", (2,)),
                ("values_block_1", "<i8", (1,)),
                ("values_block_2", "S5", (1,)),
            ]
        )
        data = np.zeros(5, rec)
        data["index"] = np.arange(5)
        data["values_block_0"] = np.arange(10).reshape(5, 2) / 2
        data["values_block_1"][:, 0] = [10, 20, 30, 40, 50]
        data["values_block_2"][:, 0] = [b"a", b"bb", b"ccc", b"", b"eeeee"]
        t = g.create_dataset(
            "table", data=data, maxshape=(None,), chunks=(2048,), compression="gzip", compression_opts=9, shuffle=True
        )
        t.attrs.update(
            {
                "CLASS": np.bytes_(b"TABLE"),
                "VERSION": np.bytes_(b"2.7"),
                "TITLE": np.bytes_(b""),
                "NROWS": np.int64(5),
                "FIELD_0_NAME": np.bytes_(b"index"),
                "FIELD_1_NAME": np.bytes_(b"values_block_0"),
                "FIELD_0_FILL": np.int64(0),
                "FIELD_1_FILL": 0.0,
                "index_kind": np.bytes_(b"integer"),
                "values_block_0_kind": np.array([b"a", b"b"]),
                "values_block_0_dtype": np.bytes_(b"float64"),
            }
        )
        # a table with zero rows (chunked, extensible)
        t0 = f.create_dataset("empty_table", shape=(0,), maxshape=(None,), chunks=(512,), dtype=rec)
        t0.attrs.update({"CLASS": np.bytes_(b"TABLE"), "NROWS": np.int64(0)})
        # pandas fixed format
        fx = f.create_group("df_fixed")
        fx.attrs.update(
            {
                "CLASS": np.bytes_(b"GROUP"),
                "pandas_type": np.bytes_(b"frame"),
                "pandas_version": np.bytes_(b"0.15.2"),
                "encoding": np.bytes_(b"UTF-8"),
                "errors": np.bytes_(b"strict"),
                "ndim": np.int64(2),
                "axis0_variety": np.bytes_(b"regular"),
                "axis1_variety": np.bytes_(b"regular"),
                "nblocks": np.int64(2),
            }
        )
        a0 = fx.create_dataset("axis0", data=np.array([b"a", b"b", b"s"]))
        a0.attrs.update(
            {
                "CLASS": np.bytes_(b"ARRAY"),
                "FLAVOR": np.bytes_(b"numpy"),
                "VERSION": np.bytes_(b"2.4"),
                "TITLE": np.bytes_(b""),
                "kind": np.bytes_(b"string"),
                "name": np.bytes_(b"N."),
            }
        )
        a1 = fx.create_dataset("axis1", data=np.arange(4, dtype="i8"))
        a1.attrs.update({"CLASS": np.bytes_(b"ARRAY"), "kind": np.bytes_(b"integer"), "name": np.bytes_(b"N.")})
        bi = fx.create_dataset("block0_items", data=np.array([b"a", b"b"]))
        bi.attrs["CLASS"] = np.bytes_(b"ARRAY")
        bv = fx.create_dataset("block0_values", data=np.arange(8, dtype="f8").reshape(4, 2))
        bv.attrs.update({"CLASS": np.bytes_(b"ARRAY"), "transposed": 1})
        fx.create_dataset("block1_items", data=np.array([b"s"])).attrs["CLASS"] = np.bytes_(b"ARRAY")
        # object block (pickled vlen uint8 -> VLArray of object atom)
        vl = fx.create_dataset("block1_values", shape=(1,), dtype=h5py.vlen_dtype(np.uint8))
        vl[0] = np.frombuffer(b"\x80\x04\x95pickle", dtype=np.uint8)
        vl.attrs.update(
            {"CLASS": np.bytes_(b"VLARRAY"), "PSEUDOATOM": np.bytes_(b"object"), "FLAVOR": np.bytes_(b"python")}
        )
        # pytables EArray / CArray
        ea = f.create_dataset(
            "earray",
            data=np.arange(30, dtype="i2").reshape(10, 3),
            maxshape=(None, 3),
            chunks=(1024, 3),
            compression="gzip",
        )
        ea.attrs.update(
            {
                "CLASS": np.bytes_(b"EARRAY"),
                "EXTDIM": np.int32(0),
                "VERSION": np.bytes_(b"1.1"),
                "TITLE": np.bytes_(b""),
            }
        )
        ca = f.create_dataset("carray", shape=(100, 100), dtype="f4", chunks=(32, 32), fillvalue=-1.0)
        ca[:10, :10] = 1.0
        ca.attrs.update({"CLASS": np.bytes_(b"CARRAY")})
        # a pandas series in fixed format
        s = f.create_group("series")
        s.attrs.update({"pandas_type": np.bytes_(b"series"), "name": np.bytes_(b"N.")})
        s.create_dataset("index", data=np.array([0, 86400_000_000_000], dtype="i8")).attrs.update(
            {"kind": np.bytes_(b"datetime64"), "CLASS": np.bytes_(b"ARRAY")}
        )
        s.create_dataset("values", data=np.array([1.5, np.nan]))
        # pytables unicode/bool attributes, numpy scalar types, and "CLASS" on root
        f.attrs["bool_attr"] = np.bool_(True)
        f.attrs["pickled_attr"] = np.void(b"\x80\x04K\x01.")
    return path


def write_netcdf4(path: Path) -> Path:
    """netCDF-4 layout as libnetcdf writes it (dimension scales, _Netcdf4Dimid, unlimited dims...)."""
    with h5py.File(path, "w", libver=("earliest", "latest"), track_order=True) as f:
        f.attrs["_NCProperties"] = np.bytes_(b"version=2,netcdf=4.9.2,hdf5=1.14.3")
        f.attrs["Conventions"] = np.bytes_(b"CF-1.8")
        f.attrs["title"] = "netcdf sweep"
        # dims
        time = f.create_dataset("time", shape=(3,), maxshape=(None,), chunks=(512,), dtype="f8")
        time[:] = [0, 1, 2]
        time.make_scale("time")
        time.attrs["units"] = np.bytes_(b"days since 2000-01-01 00:00:00")
        time.attrs["calendar"] = np.bytes_(b"standard")
        time.attrs["_Netcdf4Dimid"] = np.int32(0)
        lat = f.create_dataset("lat", data=np.linspace(-10, 10, 4).astype("f4"))
        lat.make_scale("lat")
        lat.attrs["units"] = np.bytes_(b"degrees_north")
        lat.attrs["_Netcdf4Dimid"] = np.int32(1)
        lon = f.create_dataset("lon", data=np.linspace(0, 30, 5).astype("f4"))
        lon.make_scale("lon")
        lon.attrs["units"] = np.bytes_(b"degrees_east")
        lon.attrs["_Netcdf4Dimid"] = np.int32(2)
        # dimension without variable
        nv = f.create_dataset("nv", shape=(2,), dtype="f4")
        nv.make_scale("This is a netCDF dimension but not a netCDF variable.         2")
        nv.attrs["_Netcdf4Dimid"] = np.int32(3)
        # unlimited dimension with zero length
        rec = f.create_dataset("rec", shape=(0,), maxshape=(None,), chunks=(1024,), dtype="f4")
        rec.make_scale("This is a netCDF dimension but not a netCDF variable.         0")
        rec.attrs["_Netcdf4Dimid"] = np.int32(4)
        # packed variable
        t = f.create_dataset(
            "temp",
            shape=(3, 4, 5),
            maxshape=(None, 4, 5),
            chunks=(1, 4, 5),
            dtype="i2",
            fillvalue=-32767,
            compression="gzip",
            shuffle=True,
        )
        raw = np.arange(60, dtype="i2").reshape(3, 4, 5)
        raw[0, 0, 0] = -32767
        raw[1, 1, 1] = -999
        t[:] = raw
        t.attrs["scale_factor"] = np.float32(0.01)
        t.attrs["add_offset"] = np.float32(273.15)
        t.attrs["_FillValue"] = np.int16(-32767)
        t.attrs["missing_value"] = np.int16(-999)
        t.attrs["units"] = np.bytes_(b"K")
        t.attrs["long_name"] = np.bytes_(b"air temperature")
        for i, d in enumerate((time, lat, lon)):
            t.dims[i].attach_scale(d)
        # time_bnds with dim-only nv
        tb = f.create_dataset("time_bnds", data=np.array([[0, 1], [1, 2], [2, 3]], dtype="f8"))
        tb.dims[0].attach_scale(time)
        tb.dims[1].attach_scale(nv)
        # variable on zero-length unlimited dimension
        e = f.create_dataset(
            "events", shape=(0,), maxshape=(None,), chunks=(1024,), dtype="f4", fillvalue=np.float32(9.96921e36)
        )
        e.dims[0].attach_scale(rec)
        e.attrs["_FillValue"] = np.float32(9.96921e36)
        # partial unlimited: chunk allocated only partially
        # string variable (NC_STRING -> vlen utf8), and char variable (S1 with a char dim)
        names = f.create_dataset(
            "station", data=np.array(["alpha", "béta", ""], dtype=object), dtype=h5py.string_dtype()
        )
        names.dims[0].attach_scale(time)
        f.create_dataset("code", data=np.array([[b"a", b"b", b"c"], [b"d", b"e", b""]], dtype="S1"))
        # group
        g = f.create_group("forecast")
        g.attrs["_nc3_strict"] = np.int32(0)
        h = g.create_dataset("height", data=np.array([[1.0, np.nan], [2.0, 3.0]], dtype="f4"))
        h.attrs["_FillValue"] = np.float32(np.nan)
        h.attrs["valid_range"] = np.array([0, 2.5], "f4")
        # scalar variable
        f.create_dataset("crs", data=np.int32(0)).attrs["grid_mapping_name"] = np.bytes_(b"latitude_longitude")
        # unsigned via _Unsigned
        u = f.create_dataset("ubyte", data=np.array([-1, 0, 127], "i1"))
        u.attrs["_Unsigned"] = np.bytes_(b"true")
        uf = f.create_dataset("ubyte_fill", data=np.array([-1, -2, 5, 0], "i1"))  # 255 (missing), 254, 5, 0
        uf.attrs.update({"_Unsigned": np.bytes_(b"true"), "_FillValue": np.int8(-1), "scale_factor": np.float32(0.5)})
        # fixed-length char attribute arrays
        f.attrs["history"] = np.array([b"one", b"two"])
    return path


def write_nexus_old(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f.attrs["NeXus_version"] = "3.1.0"
        f.attrs["file_name"] = str(path)
        f.attrs["HDF5_Version"] = h5py.version.hdf5_version
        e = f.create_group("entry")
        e.attrs["NX_class"] = np.bytes_(b"NXentry")
        d = e.create_group("data")
        d.attrs["NX_class"] = np.bytes_(b"NXdata")
        s = d.create_dataset("counts", data=np.arange(20, dtype="i4").reshape(4, 5))
        s.attrs["signal"] = np.int32(1)
        s.attrs["axes"] = np.bytes_(b"x:y")
        s.attrs["long_name"] = "Counts"
        x = d.create_dataset("x", data=np.arange(4.0))
        x.attrs["axis"] = np.int32(1)
        x.attrs["primary"] = np.int32(1)
        x.attrs["units"] = "mm"
        y = d.create_dataset("y", data=np.arange(5.0) * 2)
        y.attrs["axis"] = 2
        y.attrs["units"] = "deg"
        # signal as string "1"
        d2 = e.create_group("data_str")
        d2.attrs["NX_class"] = "NXdata"
        q = d2.create_dataset("I", data=np.arange(6.0))
        q.attrs["signal"] = "1"
        q.attrs["axes"] = "Q"
        d2.create_dataset("Q", data=np.linspace(0, 1, 6))
        # axes as array, auxiliary_signals
        d3 = e.create_group("data_new")
        d3.attrs.update(
            {
                "NX_class": "NXdata",
                "signal": "a",
                "auxiliary_signals": np.array(["b", "c"], dtype=object),
                "axes": np.array(["t", "."], dtype=object),
                "t_indices": 0,
            }
        )
        d3["a"] = np.arange(12.0).reshape(3, 4)
        d3["b"] = np.ones((3, 4))
        d3["c"] = np.zeros((3, 4))
        d3["t"] = np.arange(3) * 0.5
        # axes as comma separated string, bracket style
        d4 = e.create_group("data_bracket")
        d4.attrs["NX_class"] = "NXdata"
        s4 = d4.create_dataset("z", data=np.arange(6.0).reshape(2, 3))
        s4.attrs["signal"] = 1
        s4.attrs["axes"] = "[u,v]"
        d4["u"] = np.arange(2.0)
        d4["v"] = np.arange(3.0)
        # default chain: root -> entry -> data_new
        f.attrs["default"] = "entry"
        e.attrs["default"] = "data_new"
        # default pointing nowhere in a second entry
        e2 = f.create_group("entry2")
        e2.attrs["NX_class"] = "NXentry"
        e2.attrs["default"] = "missing"
        # default chain loop
        e3 = f.create_group("loop")
        e3.attrs["NX_class"] = "NXentry"
        e3.attrs["default"] = "."
        # signal points to missing dataset; axes longer than rank
        d5 = e2.create_group("bad")
        d5.attrs.update({"NX_class": "NXdata", "signal": "nothere", "axes": ["a", "b", "c"]})
        d6 = e2.create_group("bad2")
        d6.attrs.update({"NX_class": "NXdata", "signal": "s", "axes": ["a", "b", "c"]})
        d6["s"] = np.arange(5.0)
        d6["a"] = np.arange(7.0)
    return path


def write_bliss(path: Path, ext_rel: Path) -> Path:
    with h5py.File(ext_rel, "w") as g:
        g["frames"] = np.arange(2 * 8 * 6, dtype="u2").reshape(2, 8, 6)
    with h5py.File(path, "w") as f:
        f.attrs.update({"NX_class": "NXroot", "creator": "bliss", "default": "2.1"})
        for scan in ("1.1", "2.1", "2.2", "10.1"):
            e = f.create_group(scan)
            e.attrs.update({"NX_class": "NXentry", "default": "plotselect"})
            e["title"] = f"ascan samy 0 1 10 0.1 ({scan})"
            e["start_time"] = "2026-12-05T01:00:00+01:00"
            inst = e.create_group("instrument")
            inst.attrs["NX_class"] = "NXinstrument"
            for c in ("samy", "diode", "mon", "epoch"):
                det = inst.create_group(c)
                det.attrs["NX_class"] = "NXdetector"
                det["data"] = np.linspace(0, 1, 11) * (1 + len(c))
            inst["diode"]["errors"] = np.full(11, 0.1)
            meas = e.create_group("measurement")
            meas.attrs["NX_class"] = "NXcollection"
            for c in ("samy", "diode", "mon", "epoch"):
                meas[c] = h5py.SoftLink(f"/{scan}/instrument/{c}/data")
            meas["lima_frames"] = h5py.ExternalLink(ext_rel.name, "/frames")
            meas["missing_file"] = h5py.ExternalLink("scan0099/lima_0000.h5", "/entry_0000/measurement/data")
            meas["abs_missing"] = h5py.ExternalLink("/data/visitor/x/lima_0000.h5", "/frames")
            ps = e.create_group("plotselect")
            ps.attrs.update({"NX_class": "NXdata", "signal": "diode", "axes": "samy"})
            ps.attrs["auxiliary_signals"] = ["mon"]
            ps["diode"] = h5py.SoftLink(f"/{scan}/measurement/diode")
            ps["diode_errors"] = h5py.SoftLink(f"/{scan}/instrument/diode/errors")
            ps["mon"] = h5py.SoftLink(f"/{scan}/measurement/mon")
            ps["samy"] = h5py.SoftLink(f"/{scan}/measurement/samy")
            ps2 = e.create_group("frames")
            ps2.attrs.update({"NX_class": "NXdata", "signal": "data"})
            ps2["data"] = h5py.ExternalLink(ext_rel.name, "/frames")
        f["2.2"].attrs["default"] = "nonexistent"
        del f["10.1/measurement/diode"]
    return path


def write_storage_odds(path: Path) -> Path:
    raw = path.with_suffix(".raw")
    data = np.arange(24, dtype="<f4").reshape(4, 6)
    raw.write_bytes(b"\0" * 16 + data.tobytes())
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        with h5py.File(path.name, "w", libver="latest") as f:
            f.create_dataset("external", shape=(4, 6), dtype="<f4", external=[(raw.name, 16, h5py.h5f.UNLIMITED)])
            f.create_dataset("external_missing", shape=(3,), dtype="<i4", external=[("nowhere.raw", 0, 12)])
            # compact
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            sid = h5py.h5s.create_simple((5,))
            dsid = h5py.h5d.create(f.id, b"compact", h5py.h5t.NATIVE_INT16, sid, dcpl=dcpl)
            dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(5, dtype="i2"))
            f.create_dataset("fletcher", data=np.arange(100, dtype="i4"), chunks=(10,), fletcher32=True)
            f.create_dataset("scaleoffset_int", data=np.arange(100, dtype="i4") * 3, chunks=(25,), scaleoffset=0)
            f.create_dataset("scaleoffset_float", data=np.linspace(0, 1, 100), chunks=(25,), scaleoffset=3)
            f.create_dataset(
                "shuffle_gzip_fletcher",
                data=np.arange(60, dtype="f8").reshape(6, 10),
                chunks=(2, 5),
                shuffle=True,
                compression="gzip",
                fletcher32=True,
            )
            f.create_dataset("lzf", data=np.arange(60, dtype="u2"), chunks=(16,), compression="lzf")
            f.create_dataset("szip_like_nbit", data=np.arange(10, dtype="i4"))
            ad = f.create_dataset("array_dtype", shape=(4,), dtype=np.dtype(("f4", (3,))))
            ad[...] = np.arange(12, dtype="f4").reshape(4, 3)
            f.create_dataset("array_dtype_2d", shape=(2,), dtype=np.dtype(("i2", (2, 3))))
            nested = np.dtype([("id", "u1"), ("pos", [("xyz", "f4", (3,)), ("flag", "?")]), ("m", "f8", (2, 2))])
            arr = np.zeros(3, nested)
            arr["id"] = [1, 2, 3]
            arr["pos"]["xyz"] = np.arange(9).reshape(3, 3)
            arr["m"] = 1.5
            f.create_dataset("nested_compound", data=arr, chunks=(2,), compression="gzip")
            enum = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 255}, basetype="u1")
            f.create_dataset("enum_u1_2d", data=np.array([[0, 1], [255, 3]], "u1"), dtype=enum)
            f.create_dataset(
                "enum_i8", data=np.array([-1, 5], "i8"), dtype=h5py.enum_dtype({"NEG": -1, "FIVE": 5}, basetype="i8")
            )
            # bitfield via low-level
            bt = h5py.h5t.STD_B8LE.copy()
            sid = h5py.h5s.create_simple((4,))
            ds = h5py.h5d.create(f.id, b"bitfield", bt, sid)
            ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([1, 2, 4, 255], "u1"), mtype=h5py.h5t.NATIVE_UINT8)
            f.create_dataset("shape_1_1_N", data=np.arange(50.0).reshape(1, 1, 50))
            f.create_dataset("shape_N_1", data=np.arange(50.0).reshape(50, 1))
            f.create_dataset(
                "stack4d",
                data=np.arange(2 * 3 * 8 * 9, dtype="u2").reshape(2, 3, 8, 9),
                chunks=(1, 1, 8, 9),
                compression="gzip",
            )
            f.create_dataset("stack5d", data=np.arange(2 * 2 * 3 * 4 * 5, dtype="f4").reshape(2, 2, 3, 4, 5))
            g = f.create_group("attrs")
            g.attrs["huge"] = np.arange(16000, dtype="f8")  # dense attr storage
            g.attrs.create("huge2", np.arange(100000, dtype="i4"))
            g.attrs["arr_dtype_attr"] = np.zeros(2, dtype=np.dtype(("f4", (3,))))
            g.attrs["compound_attr"] = arr[:1]
            g.attrs.create("enum_attr2", data=np.array([0, 1], "u1"), dtype=enum)
            g.attrs.create(
                "vlen_attr3",
                data=np.array([np.arange(3, dtype="i4"), np.arange(1, dtype="i4")], dtype=object),
                dtype=h5py.vlen_dtype("i4"),
            )
            g.attrs["empty_attr"] = h5py.Empty("f8")
            g.attrs["f16_attr"] = np.float16(1.5)
            g.attrs["complex_attr"] = np.complex64(1 + 2j)
            g.attrs["bool_attr"] = np.array([True, False])
            g.attrs["nan"] = np.nan
            g.attrs["inf_arr"] = np.array([np.inf, -np.inf])
            f.create_dataset("complex_big", data=(np.arange(6) * (1 - 1j)).astype(">c16"))
            f.create_dataset("zero_size_3d", shape=(0, 4, 0), dtype="f4")
            f.create_dataset("unallocated_chunked", shape=(100, 100), chunks=(10, 10), dtype="f4", fillvalue=np.nan)
            f.create_dataset("unallocated_contig", shape=(10,), dtype="i4", fillvalue=7)
            f.create_dataset("bool_chunked", data=np.array([True, False] * 50), chunks=(16,), compression="gzip")
    finally:
        os.chdir(cwd)
    return path


def swmr_writer(path: Path, n: int, delay: float) -> None:
    with h5py.File(path, "w", libver="latest") as f:
        d = f.create_dataset("data", shape=(0, 16), maxshape=(None, 16), chunks=(1, 16), dtype="f8")
        c = f.create_dataset("count", shape=(0,), maxshape=(None,), chunks=(64,), dtype="i8")
        f.swmr_mode = True
        for i in range(n):
            d.resize((i + 1, 16))
            d[i] = i
            c.resize((i + 1,))
            c[i] = i
            d.flush()
            c.flush()
            time.sleep(delay)


if __name__ == "__main__" and sys.argv[1:2] == ["swmr"]:  # the appending process of the SWMR test
    swmr_writer(Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
