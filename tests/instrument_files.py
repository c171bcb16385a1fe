"""HDF5 files written the way instruments and their software write them, for the real-files tests.

Every dtype and shape h5py reads (strings of every flavour, empty and scalar
datasets, compound/enum/bool/float16/float128/complex/big-endian/opaque/vlen,
object and region references, named datatypes), hostile member names, user
blocks, and chunks compressed with the filter plugins detectors use.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

#: hdf5plugin filters real detector files use, by name
PLUGIN_FILTERS = ("bitshuffle", "blosc", "blosc2", "zstd", "lz4", "bzip2")
#: a filter id nobody registers: reading a chunk compressed with it needs a plugin that is not there
UNAVAILABLE_FILTER = 39999


def write_all_dtypes(path: Path) -> Path:
    """One dataset per dtype and shape flavour h5py can read."""
    utf8 = h5py.string_dtype("utf-8")
    ascii_ = h5py.string_dtype("ascii")
    with h5py.File(path, "w") as f:
        s = f.create_group("strings")
        s["scalar_vlen_utf8"] = "Réglage détecteur ✓"
        s.create_dataset("scalar_vlen_ascii", data="sample 7", dtype=ascii_)
        s.create_dataset("vlen_utf8_2d", data=np.array([["a", "bé"], ["ç", ""]], dtype=object), dtype=utf8)
        s.create_dataset("vlen_ascii_1d", data=[b"x1", b"x22", b"x333"], dtype=ascii_)
        s.create_dataset("fixed_scalar", data=np.bytes_(b"NXentry"))
        s.create_dataset("fixed_1d", data=np.array([b"abc", b"de", b""], dtype="S6"))
        fixed_utf8 = s.create_dataset("fixed_utf8", shape=(2,), dtype=h5py.string_dtype("utf-8", 4))
        fixed_utf8[0], fixed_utf8[1] = "µm".encode(), b"mm"
        s.create_dataset("latin1_bytes", data=np.array([b"caf\xe9"], dtype="S4"))
        s.attrs["title"] = "strings"
        s.attrs["bytes_attr"] = np.bytes_(b"m\xb2")

        n = f.create_group("numbers")
        n["scalar_int"] = np.int32(7)
        n["scalar_float"] = 2.5
        n["bool"] = np.array([True, False, True])
        n["float16"] = np.arange(6, dtype=np.float16).reshape(2, 3)
        n["float128"] = np.linspace(0, 1, 5, dtype=np.longdouble)
        n["complex64"] = (np.arange(4) + 1j * np.arange(4)).astype(np.complex64)
        n["complex128"] = np.array([1 + 2j, -3.5j])
        n["complex256"] = np.array([1 + 2j, 3 - 1j], dtype=np.clongdouble)
        n["big_endian_f4"] = np.arange(12, dtype=">f4").reshape(3, 4)
        n["big_endian_i2"] = np.arange(5, dtype=">i2")
        n["uint16_max"] = np.array([0, 65535], dtype=np.uint16)
        n.create_dataset("empty", data=h5py.Empty("f4"))
        n.create_dataset("zero_length", shape=(0, 5), dtype="f8")
        n.create_dataset("zero_chunked", shape=(0, 4), maxshape=(None, 4), chunks=(16, 4), dtype="i4")
        n["timestamps_int"] = np.array([1_700_000_000, 1_700_000_060], dtype=np.int64)
        n.create_dataset("datetime_opaque", data=np.array(["2026-12-02T10:00:00", "2026-12-03T11:30:00"],
                                                          dtype="M8[s]").astype(h5py.opaque_dtype("M8[s]")))  # fmt: skip

        c = f.create_group("compound")
        inner = np.dtype([("x", "f4"), ("y", "f4")])
        rec = np.dtype([("id", "i4"), ("name", utf8), ("pos", inner), ("code", "S3"), ("v", "f8", (2,))])
        data = np.array([(1, "alpha", (1.0, 2.0), b"AB", (0.5, 1.5)), (2, "bêta", (3.0, 4.0), b"C", (2.5, 3.5))],
                        dtype=rec)  # fmt: skip
        c.create_dataset("records", data=data)
        c.create_dataset("scalar_record", data=data[0])
        enum = h5py.enum_dtype({"OFF": 0, "ON": 1, "FAULT": 7}, basetype="u1")
        c.create_dataset("enum", data=np.array([0, 1, 7, 1], dtype="u1"), dtype=enum)
        c.create_dataset("vlen_int", shape=(3,), dtype=h5py.vlen_dtype(np.int32))
        c["vlen_int"][0] = [1, 2, 3]
        c["vlen_int"][1] = []
        c["vlen_int"][2] = [42]
        c.create_dataset("vlen_float_2d", shape=(2, 2), dtype=h5py.vlen_dtype(np.float64))
        for i in range(2):
            for j in range(2):
                c["vlen_float_2d"][i, j] = np.arange(i + j + 1) / 2
        f["named_type"] = np.dtype([("a", "i2"), ("b", "f8")])
        c.create_dataset("uses_named_type", data=np.zeros(2, dtype=f["named_type"].dtype), dtype=f["named_type"])

        r = f.create_group("refs")
        r.create_dataset("object_refs", data=[n["bool"].ref, s.ref, c["enum"].ref], dtype=h5py.ref_dtype)
        r.create_dataset("null_ref_array", data=[h5py.Reference(), n["bool"].ref], dtype=h5py.ref_dtype)
        r["scalar_ref"] = n["float16"].ref
        r.create_dataset("region_refs", data=[n["float16"].regionref[0, :2]], dtype=h5py.regionref_dtype)
        r.attrs["ref_attr"] = n["bool"].ref

        h = f.create_group("names")
        for name in ("..", "a\x1b[31mred", "back\\slash", "tab\tname", "new\nline", "ok", " spaced ", "ünï"):
            h[name] = np.arange(3)
        h.create_group("...").create_dataset("inside", data=[1, 2])
        h["soft"] = h5py.SoftLink("/numbers/bool")
        h["dangling"] = h5py.SoftLink("/nowhere")
        h["external_missing"] = h5py.ExternalLink("missing_file.h5", "/data")
    return path


def write_user_block(path: Path, block: int = 512, note: bytes = b"MATLAB 7.3 MAT-file, written by an instrument") -> Path:
    """An HDF5 file with a user block of ``block`` bytes in front of the superblock."""
    with h5py.File(path, "w", userblock_size=block) as f:
        f["data"] = np.arange(20, dtype="f4").reshape(4, 5)
        f["title"] = "user block"
    with open(path, "r+b") as raw:
        raw.write(note[:block])
    return path


def plugin_filter(name: str) -> dict:
    """The h5py ``create_dataset`` keywords of hdf5plugin's filter ``name``."""
    import hdf5plugin

    return {
        "bitshuffle": lambda: hdf5plugin.Bitshuffle(nelems=0, cname="lz4"),
        "blosc": lambda: hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE),
        "blosc2": lambda: hdf5plugin.Blosc2(cname="zstd", clevel=3),
        "zstd": lambda: hdf5plugin.Zstd(clevel=3),
        "lz4": lambda: hdf5plugin.LZ4(),
        "bzip2": lambda: hdf5plugin.BZip2(blocksize=9),
    }[name]()


def write_filtered(path: Path) -> Path:
    """Detector-style frames, one dataset per hdf5plugin filter (as Eiger/Jungfrau and their software write)."""
    frames = (np.arange(4 * 64 * 48, dtype=np.uint16).reshape(4, 64, 48) % 977).astype(np.uint16)
    with h5py.File(path, "w") as f:
        for name in PLUGIN_FILTERS:
            f.create_dataset(name, data=frames, chunks=(1, 64, 48), **plugin_filter(name))
    return path


def write_area_detector(path: Path) -> Path:
    """A NeXus file as areaDetector's HDF5 plugin and scan software write it: gzip (deflate alone) frames in
    chunks of one frame and of several (a last partial chunk), big-endian counts, a chunked 1-D scan axis."""
    rng = np.random.default_rng(3)
    frames = (rng.poisson(20, (21, 48, 40)) + np.arange(40)[None, None, :]).astype(np.uint16)
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        data = entry.create_group("data")
        data.attrs.update({"NX_class": "NXdata", "signal": "data"})
        data.create_dataset("data", data=frames, chunks=(1, 48, 40), compression="gzip", compression_opts=6)
        data.create_dataset("stack", data=frames.astype(">i4"), chunks=(8, 48, 40), compression="gzip")
        data.create_dataset("energy", data=np.linspace(5.0, 9.0, 1000), chunks=(256,), compression="gzip")
    return path


def write_unavailable_filter(path: Path) -> Path:
    """A dataset whose chunk was compressed with a filter nobody has registered."""
    from h5py import h5d, h5p, h5s, h5t, h5z

    with h5py.File(path, "w") as f:
        dcpl = h5p.create(h5p.DATASET_CREATE)
        dcpl.set_chunk((4,))
        dcpl.set_filter(UNAVAILABLE_FILTER, h5z.FLAG_OPTIONAL, (1,))
        dsid = h5d.create(f.id, b"frames", h5t.NATIVE_INT32, h5s.create_simple((8,)), dcpl=dcpl)
        dsid.write_direct_chunk((0,), np.arange(4, dtype="i4").tobytes(), filter_mask=0)
        f["ok"] = np.arange(3)
    return path
