"""Real instrument files: every object h5py lists is listed by storecore with the same kind, and read with equal values.

The oracle is h5py reading the same object.  Files: every file of the shared
corpus (NeXus application-definition examples, a Diamond NXmx file, an APS
areaDetector file), plus files written here the way instruments write them
(every dtype, hostile names, user blocks, filter plugins); a few again on S3.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from corpus import HDF5_CORPUS
from instrument_files import (
    PLUGIN_FILTERS,
    UNAVAILABLE_FILTER,
    write_all_dtypes,
    write_area_detector,
    write_filtered,
    write_unavailable_filter,
    write_user_block,
)

import storecore
from storecore import cli
from storecore.containers import open_container
from storecore.detect import detect_format, format_by_name, sniff_bytes
from storecore.errors import CorruptData, FormatError, MissingFilter, StorecoreError

#: the shared corpus sits beside the checkout (``../shared``); STORESCOPE_CORPUS names another place
CORPUS = HDF5_CORPUS
CORPUS_FILES = sorted(CORPUS.glob("*")) if CORPUS.is_dir() else []
#: datasets larger than this are compared on a corner, not whole
WHOLE_READ_BYTES = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    """The instrument-style files of this module, written once."""
    d = tmp_path_factory.mktemp("instrument")
    return {
        "all_dtypes": write_all_dtypes(d / "all_dtypes.h5"),
        "filtered": write_filtered(d / "eiger_like.h5"),
        "user_block": write_user_block(d / "scan.mat"),
        "user_block_4k": write_user_block(d / "scan_4k.dat", 4096),
        "user_block_16k": write_user_block(d / "scan_16k.h5", 16384),
    }


# -- the oracle --------------------------------------------------------------------------------------------------
def h5py_links(path: Path) -> dict[str, str]:
    """Every link of the file, by path, with the kind storecore must give it (h5py decides)."""
    out: dict[str, str] = {}
    with h5py.File(path, "r", locking=False) as f:

        def walk(group: h5py.Group, base: str) -> None:
            for name in group.keys():
                p = f"{base}/{name}"
                link = group.get(name, getlink=True)
                if isinstance(link, h5py.SoftLink | h5py.ExternalLink):
                    out[p] = "link"
                    continue
                obj = group[name]
                if isinstance(obj, h5py.Group):
                    out[p] = "group"
                    walk(obj, p)
                elif isinstance(obj, h5py.Datatype):
                    out[p] = "datatype"
                elif obj.shape == () and h5py.check_ref_dtype(obj.dtype) is h5py.Reference:
                    out[p] = "link"  # a scalar object reference is browsed as a link to its target
                else:
                    out[p] = "array"

        walk(f, "")
    return out


def storecore_links(uri: str) -> dict[str, object]:
    """Every node storecore lists under the root, by path (groups walked, links not followed)."""
    out: dict[str, object] = {}
    with open_container(uri) as root:

        def walk(node) -> None:
            for child in node.children():
                out[child.path] = child.kind
                if child.kind == "group":
                    walk(child)

        walk(root)
    return out


def expected_value(f: h5py.File, dset: h5py.Dataset, selection: tuple) -> object:
    """What storecore must return for ``dset[selection]``: h5py's values, strings decoded, references as paths."""
    data = dset[selection]
    if isinstance(data, h5py.Empty):
        return np.empty((0,), dtype=dset.dtype)
    if h5py.check_string_dtype(dset.dtype) is not None:
        arr = np.asarray(data, dtype=object)
        flat = []
        for v in arr.ravel():
            raw = bytes(v).rstrip(b"\0") if isinstance(v, bytes | np.bytes_) else v
            if isinstance(raw, bytes):
                try:
                    raw = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raw = raw.decode("latin-1")
            flat.append(raw)
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(arr.shape)
    if h5py.check_ref_dtype(dset.dtype) is not None:
        arr = np.asarray(data, dtype=object)
        flat = [f[r].name if r else "" for r in arr.ravel()]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(arr.shape)
    return np.asarray(data)


def assert_equal_values(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, what
    if want.dtype.names:
        assert got.dtype.names == want.dtype.names, what
        for name in want.dtype.names:
            assert_equal_values(np.asarray(got[name]), np.asarray(want[name]), f"{what}.{name}")
        return
    if want.dtype == object:
        for g, w in zip(got.ravel(), want.ravel(), strict=True):
            if isinstance(w, np.ndarray):
                np.testing.assert_array_equal(g, w, err_msg=what)
            else:
                assert g == w, what
        return
    np.testing.assert_array_equal(got, want, err_msg=what)


def corner(shape: tuple[int, ...]) -> tuple:
    return tuple(slice(0, min(n, 4)) for n in shape)


def check_file(path: Path, uri: str | None = None) -> int:
    """The whole oracle comparison for one file; returns the number of datasets compared."""
    uri = uri or str(path)
    want = h5py_links(path)
    got = storecore_links(uri)
    missing = {p: k for p, k in want.items() if got.get(p) != k}
    assert not missing, f"{path.name}: listed differently from h5py: {missing}"
    compared = 0
    with h5py.File(path, "r", locking=False) as f, open_container(uri) as root:
        for p, kind in want.items():
            if kind != "array":
                continue
            dset = f[p]
            sel = () if dset.shape is None or dset.size * dset.dtype.itemsize <= WHOLE_READ_BYTES else corner(dset.shape)
            try:
                expect = expected_value(f, dset, sel)
            except (OSError, ValueError, TypeError):
                continue  # h5py cannot read it either: nothing to compare
            node = root.get(p)
            assert node.kind == "array", p
            assert_equal_values(node.read_slice(sel), expect, f"{path.name}::{p}")
            compared += 1
    return compared


# -- corpus and written files ----------------------------------------------------------------------------------------
@pytest.mark.skipif(not CORPUS_FILES, reason="the shared corpus is not beside this checkout")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_corpus_file_lists_and_reads_like_h5py(path):
    assert detect_format(str(path)) == "hdf5"
    assert check_file(path) > 0


@pytest.mark.parametrize("name", ["all_dtypes", "filtered", "user_block", "user_block_4k", "user_block_16k"])
def test_written_file_lists_and_reads_like_h5py(written, name):
    assert check_file(written[name]) > 0


@pytest.mark.skipif(not CORPUS_FILES, reason="the shared corpus is not beside this checkout")
@pytest.mark.parametrize("path", CORPUS_FILES[:3] + CORPUS_FILES[-2:], ids=lambda p: p.name)
def test_cli_ls_and_info_on_corpus(capsys, path):
    assert cli.main(["ls", "--json", str(path)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    with h5py.File(path, locking=False) as f:
        assert sorted(r["name"] for r in rows) == sorted(f.keys())
    assert cli.main(["info", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)


def test_cli_ls_every_group_of_a_written_file(capsys, written):
    path = written["all_dtypes"]
    for group in ("/strings", "/numbers", "/compound", "/refs"):  # /names holds a newline: see test_hostile
        assert cli.main(["ls", f"{path}::{group}"]) == 0, group
        out = capsys.readouterr().out
        with h5py.File(path, locking=False) as f:
            assert len(out.strip().splitlines()) == len(f[group]), group
    assert cli.main(["info", f"{path}::/strings/scalar_vlen_utf8"]) == 0
    assert "string" in capsys.readouterr().out


# -- dtypes as a person reads them ------------------------------------------------------------------------------------
def test_strings_read_as_text(written):
    uri = str(written["all_dtypes"])
    with open_container(uri + "::/strings") as g:
        assert g.get("scalar_vlen_utf8").read_slice(()) == "Réglage détecteur ✓"
        assert g.get("scalar_vlen_ascii").value_kind == "string"
        assert g.get("fixed_scalar").read_slice(()) == "NXentry"
        assert g.get("fixed_utf8").read_slice(()).tolist() == ["µm", "mm"]
        assert g.get("latin1_bytes").read_slice(()).tolist() == ["café"]
        assert g.get("vlen_utf8_2d").read_slice((1, slice(None))).tolist() == ["ç", ""]
        assert "variable length" in g.get("scalar_vlen_utf8").type_text
        assert g.attrs["bytes_attr"] == "m²"


def test_value_kinds_and_labels(written):
    uri = str(written["all_dtypes"])
    with open_container(uri) as root:
        kinds = {p: root.get(p).value_kind for p in (
            "/numbers/bool", "/numbers/float16", "/numbers/complex256", "/numbers/big_endian_f4",
            "/compound/records", "/compound/enum", "/compound/vlen_int", "/refs/object_refs", "/refs/region_refs",
            "/numbers/datetime_opaque", "/strings/fixed_1d",
        )}  # fmt: skip
        assert kinds == {
            "/numbers/bool": "bool", "/numbers/float16": "numeric", "/numbers/complex256": "numeric",
            "/numbers/big_endian_f4": "numeric", "/compound/records": "compound", "/compound/enum": "enum",
            "/compound/vlen_int": "vlen", "/refs/object_refs": "reference", "/refs/region_refs": "reference",
            "/numbers/datetime_opaque": "datetime", "/strings/fixed_1d": "string",
        }  # fmt: skip
        enum = root.get("/compound/enum")
        assert enum.enum_labels == {0: "OFF", 1: "ON", 7: "FAULT"}
        assert root.get("/refs/object_refs").read_slice(()).tolist() == ["/numbers/bool", "/strings", "/compound/enum"]
        assert root.get("/refs/null_ref_array").read_slice(()).tolist() == ["", "/numbers/bool"]
        assert root.get("/refs").attrs["ref_attr"] == "/numbers/bool"
        named = root.get("/named_type")
        assert named.kind == "datatype" and named.dtype.names == ("a", "b")
        assert "big-endian" in root.get("/numbers/big_endian_f4").type_text


def test_empty_and_zero_length_datasets(written):
    with open_container(str(written["all_dtypes"]) + "::/numbers") as g:
        empty = g.get("empty")
        assert empty.kind == "array" and empty.is_empty and empty.shape is None
        assert empty.read_slice(()).size == 0
        assert empty.info()["empty"] is True
        assert g.get("zero_length").read_slice(()).shape == (0, 5)
        assert g.get("zero_chunked").read_slice((slice(None), 1)).shape == (0,)


def test_hostile_member_names_do_not_hide_siblings(written):
    with open_container(str(written["all_dtypes"]) + "::/names") as g:
        names = sorted(c.name for c in g.children())
        with h5py.File(written["all_dtypes"], locking=False) as f:
            assert names == sorted(f["names"].keys())
        dotdot = g.get("..")
        assert dotdot.kind == "array" and dotdot.path == "/names/.."
        assert dotdot.read_slice(()).tolist() == [0, 1, 2]
        assert g.get("...").get("inside").read_slice(()).tolist() == [1, 2]
        assert g.get("a\x1b[31mred").read_slice(()).tolist() == [0, 1, 2]
        assert g.get("dangling").broken and not g.get("soft").broken


# -- filters ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PLUGIN_FILTERS)
def test_filter_plugin_chunks_read(written, name):
    path = written["filtered"]
    with h5py.File(path, locking=False) as f, open_container(f"{path}::/{name}") as node:
        np.testing.assert_array_equal(node.read_slice((2,)), f[name][2])
        assert node.compressor or node.filters


def test_unavailable_filter_is_named_never_corrupt(tmp_path):
    path = write_unavailable_filter(tmp_path / "odd_filter.h5")
    with open_container(f"{path}::/frames") as node:
        with pytest.raises(MissingFilter) as info:
            node.read_slice(())
    err = info.value
    assert not isinstance(err, CorruptData)
    assert err.filter_id == UNAVAILABLE_FILTER and str(UNAVAILABLE_FILTER) in str(err)
    assert "odd_filter.h5::/frames" in str(err) and "\n" not in str(err)
    with open_container(f"{path}::/ok") as ok:
        assert ok.read_slice(()).tolist() == [0, 1, 2]


# -- detection by content ----------------------------------------------------------------------------------------------
def test_user_blocks_and_any_extension_are_detected(written, tmp_path):
    for key in ("user_block", "user_block_4k", "user_block_16k"):
        assert detect_format(str(written[key])) == "hdf5", key
    plain = tmp_path / "frames.bin"
    shutil.copy(written["filtered"], plain)
    assert format_by_name(plain) is None and detect_format(str(plain)) == "hdf5"
    with open_container(str(plain)) as root:
        assert "zstd" in {c.name for c in root.children()}
    for ext in (".nxs", ".nx5", ".cxi", ".hdf", ".mat", ".nc"):
        assert format_by_name(f"run{ext}") == "hdf5", ext


def test_hdf4_and_netcdf3_are_refused_with_one_line(tmp_path):
    hdf4 = tmp_path / "old.hdf"
    hdf4.write_bytes(b"\x0e\x03\x13\x01" + bytes(600))
    with pytest.raises(FormatError, match="HDF4 is not supported"):
        open_container(str(hdf4))
    nc3 = tmp_path / "classic.nc"
    nc3.write_bytes(b"CDF\x01" + bytes(100))
    with pytest.raises(FormatError, match="netCDF-3"):
        open_container(str(nc3))
    garbage = tmp_path / "broken.h5"
    garbage.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(StorecoreError) as info:
        open_container(str(garbage))
    assert "broken.h5" in str(info.value) and "\n" not in str(info.value)
    assert sniff_bytes(b"") is None


def test_truncated_file_names_file_and_cause(written, tmp_path):
    cut = tmp_path / "cut.h5"
    cut.write_bytes(written["all_dtypes"].read_bytes()[:3000])
    with pytest.raises(CorruptData) as info:
        open_container(str(cut))
    assert "cut.h5" in str(info.value) and "\n" not in str(info.value)


# -- the same over S3 ------------------------------------------------------------------------------------------------------
@pytest.mark.s3
def test_real_files_over_s3(written, s3_root, tmp_path):
    files = [written["all_dtypes"], written["filtered"], written["user_block_4k"]]
    files += [p for p in CORPUS_FILES if p.name.startswith(("DLS_", "APS_", "nxdl_NXmx"))]
    for path in files:
        uri = f"{s3_root}/real/{path.name}"
        storecore.transfer.copy(str(path), uri)
        assert detect_format(uri) == "hdf5", path.name
        assert check_file(path, uri) > 0, path.name


def _deflate_only_datasets(path: Path) -> list[str]:
    from storecore.containers.h5chunks import DEFLATE

    found: list[str] = []
    with h5py.File(path, "r", locking=False) as f:

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and obj.chunks and obj.dtype.kind in "iufc" and obj.size:
                dcpl = obj.id.get_create_plist()
                if dcpl.get_nfilters() == 1 and dcpl.get_filter(0)[0] == DEFLATE:
                    found.append("/" + name)

        f.visititems(visit)
    return found


def test_deflate_chunks_decoded_part_way_read_like_h5py(monkeypatch, tmp_path):
    """Every chunked deflate-only dataset of the corpus and of an areaDetector-style file, its chunks decoded
    only up to each frame read (whatever their size), frames in a scrambled order: the values are h5py's."""
    from storecore.containers import h5chunks

    monkeypatch.setattr(h5chunks, "PREFIX_MIN_CHUNK", 0)
    monkeypatch.setattr(h5chunks, "PREFIX_STEP", 4096)
    compared = 0
    for path in [*CORPUS_FILES, write_area_detector(tmp_path / "areadetector_0001.h5")]:
        for inner in _deflate_only_datasets(path):
            h5chunks.CACHE.clear()
            with h5py.File(path, "r", locking=False) as f, open_container(f"{path}::{inner}") as node:
                dset = f[inner]
                assert node.reads_chunk_prefixes, f"{path.name}::{inner}"
                n = dset.shape[0]
                for i in sorted({0, n - 1, n // 2, 1 % n, (n * 3) // 4}, key=lambda k: (k * 7919) % max(n, 1)):
                    sel = (i,) + corner(dset.shape[1:])
                    assert_equal_values(node.read_slice(sel, cache=False), dset[sel], f"{path.name}::{inner}[{i}]")
                    compared += 1
    h5chunks.CACHE.clear()
    assert compared >= 3 * 5
