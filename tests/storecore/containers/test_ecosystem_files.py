"""HDF5 files from other ecosystems than beamlines: listed and read by storecore as h5py lists and reads them.

MATLAB v7.3, AnnData, PyTables/pandas, netCDF-4, old-style NeXus and bliss scan files, storage odds
(external raw files, compact layout, scale-offset, array and nested compound types, bitfields), and a SWMR
file read while another process appends to it.  The oracle is h5py (see ``test_real_files.check_file``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import ecosystem_files as eco
import h5py
import numpy as np
import pytest
from test_real_files import check_file

from storecore.containers import open_container
from storecore.errors import CorruptData, FormatError


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The ecosystem-style files, written once."""
    d = tmp_path_factory.mktemp("ecosystems")
    return {
        "matlab": eco.write_matlab_v73(d / "data.mat"),
        "anndata": eco.write_anndata(d / "cells.h5ad"),
        "pytables": eco.write_pytables(d / "store.h5"),
        "netcdf": eco.write_netcdf4(d / "climate.nc"),
        "nexus_old": eco.write_nexus_old(d / "old.nxs"),
        "bliss": eco.write_bliss(d / "bliss.h5", d / "lima_0000.h5"),
        "odds": eco.write_storage_odds(d / "odds.h5"),
    }


@pytest.mark.parametrize("name", ["matlab", "anndata", "pytables", "netcdf", "nexus_old", "bliss", "odds"])
def test_ecosystem_file_lists_and_reads_like_h5py(files, name):
    assert check_file(files[name]) > 0


# -- external raw data files -----------------------------------------------------------------------------------
def _h5py_beside(path: Path, name: str) -> np.ndarray:
    """What h5py reads when told to look for the raw files beside the HDF5 file (``efile_prefix``)."""
    with h5py.File(path, "r", locking=False) as f:
        dapl = h5py.h5p.create(h5py.h5p.DATASET_ACCESS)
        dapl.set_efile_prefix(b"${ORIGIN}")
        return h5py.Dataset(h5py.h5d.open(f.id, name.encode(), dapl=dapl))[()]


def test_external_raw_file_beside_the_hdf5_file_reads_from_any_working_folder(files, monkeypatch, tmp_path):
    """HDF5 looks for a relative raw file name in the working folder: opened from elsewhere, the file read as
    corrupt.  Its writer put the raw file beside it, and that is where it is read from."""
    path = files["odds"]
    monkeypatch.chdir(tmp_path)  # anywhere but the file's folder
    want = _h5py_beside(path, "external")
    with open_container(f"{path}::/external") as node:
        assert node.layout == "external"
        np.testing.assert_array_equal(node.read_slice(()), want)
        np.testing.assert_array_equal(node.read_slice((slice(1, 3), 4)), want[1:3, 4])
        np.testing.assert_array_equal(node.read_slice((3,)), want[3])


def test_external_raw_file_beside_a_remote_hdf5_file_is_read_by_ranges(files, memory_root):
    """The HDF5 file and its raw file side by side in a bucket: HDF5 never opens the raw file of a file it reads
    through a file object; it is read through the bucket's backend."""
    from storecore.transfer import copy

    path = files["odds"]
    for name in ("odds.h5", "odds.raw"):
        copy(str(path.parent / name), f"{memory_root}/run/{name}")
    want = _h5py_beside(path, "external")
    with open_container(f"{memory_root}/run/odds.h5::/external") as node:
        np.testing.assert_array_equal(node.read_slice(()), want)
        np.testing.assert_array_equal(node.read_slice((slice(1, 3), 2)), want[1:3, 2])
        with pytest.raises(CorruptData) as info:
            node.container.node("/external_missing").read_slice(())
    assert "nowhere.raw" in str(info.value) and "\n" not in str(info.value)


def test_missing_external_raw_file_is_named(files, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with open_container(f"{files['odds']}::/external_missing") as node, pytest.raises(CorruptData) as info:
        node.read_slice(())
    text = str(info.value)
    assert "odds.h5::/external_missing" in text and "nowhere.raw" in text and "\n" not in text


# -- a file another program is writing ----------------------------------------------------------------------------------
def test_swmr_file_reads_while_another_process_appends(tmp_path):
    """A detector or DAQ writing in SWMR mode marks the file open for writing: a plain reader is refused
    ("already open for write"), a SWMR reader is let in and sees whole rows only."""
    path = tmp_path / "live.h5"
    writer = subprocess.Popen([sys.executable, eco.__file__, "swmr", str(path), "150", "0.01"])
    try:
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        seen = 0
        while writer.poll() is None and time.monotonic() < deadline:
            with open_container(str(path)) as root:
                data = root.get("/data")
                n = data.shape[0]
                if n:
                    rows = data.read_slice((slice(0, n),))
                    np.testing.assert_array_equal(rows[:, 0], np.arange(n))
                seen += 1
        assert seen > 0
    finally:
        writer.wait(timeout=60)
    assert writer.returncode == 0


def test_file_held_open_by_a_plain_writer_says_so(tmp_path):
    """A writer not in SWMR mode (in another process: HDF5 shares one handle per file within a process)."""
    path = tmp_path / "held.h5"
    code = (
        "import sys, h5py\n"
        f"f = h5py.File({str(path)!r}, 'w', libver='latest')\n"
        "f['x'] = 1\n"
        "f.flush()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        with pytest.raises(FormatError) as info:
            open_container(str(path))
    finally:
        writer.communicate("", timeout=60)
    text = str(info.value)
    assert str(path) in text and "open for writing by another program" in text and "\n" not in text


# -- at exit ------------------------------------------------------------------------------------------------------------
def test_node_kept_past_its_closed_file_prints_nothing_at_exit(files):
    """A dataset node still alive at exit whose file was closed: the exit hook that closes property lists
    must not make one (which raises on a closed file) and print a traceback."""
    code = (
        "from storecore.containers import open_container\n"
        f"with open_container({str(files['odds'])!r}) as root:\n"
        "    node = root.get('/compact')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr


# -- NeXus signals behind links ---------------------------------------------------------------------------------------
def test_bliss_plotselect_signals_keep_the_names_their_group_gives_them(files):
    """bliss's ``plotselect`` NXdata links its signals to ``instrument/<counter>/data``: the plot, its labels, its
    errors and the xarray variables go by the group's names (``diode``, ``mon``), not by every target's ``data``."""
    from storecore.containers.nexus import default_plot
    from storecore.containers.xarray_support import open_dataset

    with open_container(f"{files['bliss']}::/1.1") as entry:
        spec = default_plot(entry)
        assert spec.signal.path == "/1.1/instrument/diode/data"
        assert spec.signal_name == "diode" and spec.signal_label == "diode"
        assert spec.auxiliary_names == ["mon"] and [n.path for n in spec.auxiliary] == ["/1.1/instrument/mon/data"]
        assert spec.errors is not None and spec.errors.path == "/1.1/instrument/diode/errors"
        assert spec.names == ["samy"]
    with open_container(f"{files['bliss']}::/1.1/plotselect/diode") as link:  # the link selected: same plot
        spec = default_plot(link)
        assert spec.group.path == "/1.1/plotselect" and spec.names == ["samy"] and spec.signal_name == "diode"
        assert spec.auxiliary_names == ["mon"]
    ds = open_dataset(f"{files['bliss']}::/1.1")
    assert sorted(ds.data_vars) == ["diode", "diode_errors", "mon"] and ds.attrs["signal"] == "diode"
    with h5py.File(files["bliss"], "r", locking=False) as f:
        np.testing.assert_array_equal(ds["mon"].values, f["/1.1/instrument/mon/data"][()])


# -- netCDF conventions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ubyte", "ubyte_fill"])
def test_netcdf_unsigned_bytes_decode_as_xarray_decodes_them(files, name):
    """``_Unsigned = "true"``: unsigned bytes in a signed type (their fill value too), as netCDF writers keep them."""
    import xarray as xr

    from storecore.containers.conventions import cf_info, decode

    with open_container(f"{files['netcdf']}::/{name}") as node:
        raw = node.read_slice(())
        got = decode(raw, cf_info(node.attrs, node.dtype))
        with h5py.File(files["netcdf"], "r", locking=False) as f:  # text attributes as netCDF4-python gives them
            attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in f[name].attrs.items()}
    want = xr.decode_cf(xr.Dataset({name: ("x", raw, attrs)}))[name].values
    np.testing.assert_array_equal(got, want)
    assert got[0] != raw[0] or np.isnan(got[0])  # -1 read as 255 (or missing)


# -- exported through the transfer queue ------------------------------------------------------------------------------
@pytest.fixture
def queue():
    from storecore.transfer import TransferQueue

    q = TransferQueue(history=False)
    yield q
    q.close()


@pytest.mark.filterwarnings("error::UserWarning")  # numpy warns on stderr about dtype metadata .npy cannot keep
@pytest.mark.parametrize(("name", "inner"), [
    ("anndata", "/obs/_index"), ("matlab", "/C"), ("netcdf", "/station"), ("odds", "/enum_u1_2d"),
    ("pytables", "/df_table/table"), ("odds", "/nested_compound"), ("odds", "/external"),
])  # fmt: skip
def test_dataset_exported_as_npy_holds_h5py_values(files, tmp_path, queue, name, inner):
    """A dataset dropped onto a folder becomes a ``.npy`` (no pickles): text (AnnData indices, MATLAB cells as
    the paths they point to, netCDF strings) as unicode, h5py's enum and string dtype marks dropped."""
    from test_real_files import assert_equal_values, expected_value

    from storecore.transfer import JobState

    job = queue.submit(f"{files[name]}::{inner}", str(tmp_path / "x"))
    assert job.wait(60) is JobState.DONE, job.error
    got = np.load(tmp_path / "x.npy", allow_pickle=False)
    with h5py.File(files[name], "r", locking=False) as f:
        dapl = h5py.h5p.create(h5py.h5p.DATASET_ACCESS)
        dapl.set_efile_prefix(b"${ORIGIN}")  # /external's raw file is beside the file
        want = expected_value(f, h5py.Dataset(h5py.h5d.open(f.id, inner.encode(), dapl=dapl)), ())
    assert got.dtype.kind != "O"
    assert_equal_values(got, want, inner)


def test_variable_length_sequences_are_refused_by_name(files, tmp_path, queue):
    from storecore.transfer import JobState

    job = queue.submit(f"{files['pytables']}::/df_fixed/block1_values", str(tmp_path / "x"))
    assert job.wait(60) is JobState.FAILED
    assert "block1_values" in job.error and "variable-length" in job.error and "\n" not in job.error


# -- external links by relative paths ---------------------------------------------------------------------------------
def _scan_folders(root: Path) -> Path:
    """A scan file in ``scans/`` linking its frames as ``../detector/lima_0000.h5`` (and ``./`` spelled out)."""
    (root / "scans").mkdir()
    (root / "detector").mkdir()
    with h5py.File(root / "detector" / "lima_0000.h5", "w") as f:
        f["frames"] = np.arange(24, dtype="u2").reshape(2, 3, 4)
    master = root / "scans" / "scan_0001.h5"
    with h5py.File(master, "w") as f:
        f["up"] = h5py.ExternalLink("../detector/lima_0000.h5", "/frames")
        f["dotted"] = h5py.ExternalLink("./../scans/../detector/lima_0000.h5", "/frames")
        f["out_of_root"] = h5py.ExternalLink("../../../../../../../nowhere.h5", "/frames")
    return master


@pytest.mark.parametrize("where", ["local", "memory"])
def test_external_links_up_a_folder_resolve_as_hdf5_resolves_them(tmp_path, memory_root, where):
    """HDF5 resolves a relative external link against the linking file's folder, ``..`` included."""
    from storecore.transfer import copy

    master = _scan_folders(tmp_path)
    with h5py.File(master, "r", locking=False) as f:
        want = f["up"][()]
    uri = str(master)
    if where == "memory":
        copy(str(tmp_path), f"{memory_root}/beamline")
        uri = f"{memory_root}/beamline/scans/scan_0001.h5"
    for name in ("up", "dotted"):
        with open_container(f"{uri}::/{name}") as link:
            assert not link.broken, link.error
            np.testing.assert_array_equal(link.read_slice((1,)), want[1])
    with open_container(f"{uri}::/out_of_root") as link:
        assert link.broken and "nowhere.h5" in link.error and "\n" not in link.error


# -- huge attribute arrays ------------------------------------------------------------------------------------------
def test_huge_numeric_attribute_converts_in_one_numpy_call(tmp_path, monkeypatch):
    """A calibration table of millions of numbers as an attribute: numpy converts it at once (element by element
    took seconds for every look at the attributes), to the same Python values h5py gives."""
    from storecore.containers import node as node_module

    path = tmp_path / "table.h5"
    with h5py.File(path, "w", libver="latest") as f:  # dense attribute storage: no 64 KiB limit
        f.create_group("g").attrs.create("table", np.arange(200_000, dtype="f8").reshape(1000, 200) / 7)
    calls = 0
    original = node_module.json_safe

    def counting(value, **kw):
        nonlocal calls
        calls += 1
        return original(value, **kw)

    monkeypatch.setattr(node_module, "json_safe", counting)
    with open_container(f"{path}::/g") as g:
        attrs = g.attrs
    assert calls < 10
    with h5py.File(path, "r", locking=False) as f:
        assert attrs["table"] == f["g"].attrs["table"].tolist()
