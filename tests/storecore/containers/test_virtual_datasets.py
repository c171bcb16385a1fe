"""HDF5 virtual datasets whose sources are missing say so (they read as the fill value), as instruments'
master files do when their data files are not beside them."""

from __future__ import annotations

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from corpus import HDF5_CORPUS

from storecore import open_container

DLS = HDF5_CORPUS / "DLS_NXmx_Therm_6_2.nxs"


def write_vds(folder, present: int, missing: int) -> str:
    """A master file mapping ``present + missing`` data files of 4 frames each (the missing ones not written)."""
    n = present + missing
    layout = h5py.VirtualLayout(shape=(4 * n, 8, 8), dtype="u2")
    for i in range(n):
        name = f"data_{i:06d}.h5"
        if i < present:
            with h5py.File(os.path.join(folder, name), "w") as f:
                f["data"] = np.full((4, 8, 8), i + 1, "u2")
        layout[4 * i : 4 * i + 4] = h5py.VirtualSource(name, "data", shape=(4, 8, 8))
    master = os.path.join(folder, "master.h5")
    with h5py.File(master, "w") as f:
        f.create_virtual_dataset("frames", layout, fillvalue=7)
    return master


def test_all_sources_present_say_nothing(tmp_path):
    master = write_vds(str(tmp_path), present=2, missing=0)
    with open_container(f"{master}::/frames") as node:
        assert node.warnings() == []
        assert "warnings" not in node.info()
        assert node[5, 0, 0] == 2


def test_missing_source_files_are_named(tmp_path):
    master = write_vds(str(tmp_path), present=1, missing=2)
    with open_container(f"{master}::/frames") as node:
        (warning,) = node.warnings()
        assert "2 of 3 sources missing" in warning and "fill value 7" in warning
        assert "data_000001.h5 (no such file beside master.h5)" in warning
        assert node.info()["warnings"] == [warning]
        assert node[0, 0, 0] == 1 and node[5, 0, 0] == 7  # h5py is the oracle: the fill value


def test_in_file_source_behind_a_broken_external_link(tmp_path):
    path = str(tmp_path / "nxmx.nxs")
    with h5py.File(path, "w") as f:
        f["entry/data/data_000001"] = h5py.ExternalLink("gone_000001.h5", "/data")
        layout = h5py.VirtualLayout(shape=(2, 4), dtype="i4")
        layout[:] = h5py.VirtualSource(".", "/entry/data/data_000001", shape=(2, 4))
        f["entry/data"].create_virtual_dataset("data", layout, fillvalue=0)
    with open_container(f"{path}::/entry/data/data") as node:
        (warning,) = node.warnings()
        assert "/entry/data/data_000001 is an external link to gone_000001.h5" in warning
    out = subprocess.run([sys.executable, "-m", "storecore", "info", f"{path}::/entry/data/data"],
                         capture_output=True, text=True, check=True).stdout
    assert "warning:" in out and "gone_000001.h5" in out


def test_plain_datasets_and_groups_say_nothing(tmp_path):
    path = str(tmp_path / "plain.h5")
    with h5py.File(path, "w") as f:
        f["g/x"] = np.arange(3)
    with open_container(f"{path}::/g") as group:
        assert group.warnings() == [] and group.get("x").warnings() == []


@pytest.mark.skipif(not DLS.is_file(), reason="corpus not mounted")
def test_corpus_master_file_without_its_data_files():
    with open_container(f"{DLS}::/entry/data/data") as node:  # read-only use
        (warning,) = node.warnings()
        assert "external link to Therm_6_2_000001.h5" in warning


@pytest.mark.parametrize("root", ["memory://vds-remote/run", "s3"])
def test_a_remote_master_file_says_its_sources_are_not_read(request, tmp_path, root):
    """On S3 (or in memory) HDF5 reads the master file through a file object and cannot open the source files
    beside it: the values are the fill value, and the warning says so instead of passing them off as data."""
    from storecore.transfer import copy

    write_vds(str(tmp_path), present=2, missing=0)
    if root == "s3":
        root = f"{request.getfixturevalue('s3_root')}/vds"
    copy(str(tmp_path), root)
    with open_container(f"{root}/master.h5::/frames") as node:
        (warning,) = node.warnings()
        assert "2 of 2 sources not readable from a remote file, read as the fill value 7" in warning
        assert "data_000000.h5 is another file, which HDF5 cannot open beside a remote file" in warning
        assert node[0, 0, 0] == 7
    with open_container(f"{tmp_path}/master.h5::/frames") as local:
        assert local.warnings() == [] and local[5, 0, 0] == 2
