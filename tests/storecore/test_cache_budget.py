"""One memory budget for every cache of decoded data (STORESCOPE_CACHE_BUDGET), split in fixed shares."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from storecore import tuning

MiB = 1024 * 1024


def test_shares_add_up_to_the_budget():
    assert math.isclose(sum(tuning.CACHE_SHARES.values()), 1.0)
    assert tuning.cache_budget() == tuning.DEFAULT_CACHE_BUDGET


@pytest.mark.parametrize(("raw", "want"), [("1GiB", 1024 * MiB), ("768MiB", 768 * MiB), ("2GB", 2 * 1000**3),
                                           ("1.5g", 1536 * MiB), ("123456789", 123456789), ("1k", 64 * MiB)])
def test_budget_from_the_environment(monkeypatch, raw, want):
    monkeypatch.setenv(tuning.CACHE_BUDGET_ENV, raw)
    assert tuning.cache_budget() == want


@pytest.mark.parametrize("raw", ["lots", "1 XB", "-5MiB", "1e9"])
def test_an_unreadable_budget_is_logged_and_the_default_kept(monkeypatch, caplog, raw):
    monkeypatch.setenv(tuning.CACHE_BUDGET_ENV, raw)
    assert tuning.cache_budget() == tuning.DEFAULT_CACHE_BUDGET
    assert tuning.CACHE_BUDGET_ENV in caplog.text


def test_every_cache_takes_its_share_in_a_new_process():
    code = (
        "from storecore.containers import h5chunks, hdf5_nodes, zarr_nodes, zarr_cache;"
        "print(h5chunks.CACHE_BYTES, hdf5_nodes.CHUNK_CACHE_BYTES, zarr_nodes.SLICE_CACHE_BYTES,"
        " zarr_cache.SHARED_BYTES)"
    )
    env = dict(os.environ, STORESCOPE_CACHE_BUDGET="900MiB")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    shares = tuning.CACHE_SHARES
    assert [int(x) for x in out.split()] == [
        int(900 * MiB * shares[name]) for name in ("hdf5_chunks", "hdf5_open", "zarr_open", "zarr_slices")
    ]
