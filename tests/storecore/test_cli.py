"""The command line (storecore.cli): every subcommand, exit codes, --json, errors, S3 endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storecore import cli


@pytest.fixture
def tree(tmp_path):
    import h5py
    import zarr

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"hello\n")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 20)
    with h5py.File(src / "run.h5", "w") as f:
        f.attrs["sample"] = "LK-17"
        f.create_dataset("entry/data", data=np.zeros((3, 8, 8), "f4")).attrs["units"] = "counts"
    g = zarr.open_group(str(src / "s.zarr"), mode="w")
    g.attrs["sample"] = "ZK-1"
    g.create_array("img", shape=(2, 8), dtype="u2")
    return src


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_commands_set():
    assert cli.COMMANDS == {"ls", "info", "cat", "cp", "mv", "rm", "find", "compare"}
    assert "mounts" not in cli.COMMANDS


def test_help_for_each(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--endpoint-url" in out and "--scheme" in out
    for cmd in sorted(cli.COMMANDS):
        code, out, _ = run(capsys, cmd, "--help")
        assert code == 0 and out.startswith(f"usage: storescope {cmd}"), cmd
        assert "--endpoint-url" in out


def test_usage_errors_exit_2(capsys, tree):
    assert run(capsys, "bogus")[0] == 2
    assert run(capsys, "ls")[0] == 2
    code, _, err = run(capsys, "find", str(tree), "--shape", "2,x")
    assert code == 2 and "invalid shape" in err and "Traceback" not in err
    assert run(capsys, "find", str(tree), "--kind", "blob")[0] == 2
    assert run(capsys, "--scheme", "bad", "ls", str(tree))[0] == 2


def test_ls(capsys, tree):
    code, out, _ = run(capsys, "ls", str(tree))
    lines = out.splitlines()
    assert code == 0 and [line.split()[-1] for line in lines] == ["a.txt", "run.h5", "s.zarr/", "sub/"]
    assert lines[0].split()[0] == "6"
    code, out, _ = run(capsys, "ls", "-r", "--json", str(tree))
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["name"]: r["size"] for r in rows}["sub/b.bin"] == 5120
    code, out, _ = run(capsys, "ls", "-r", "-H", str(tree / "sub"))
    assert "5.0K" in out
    code, out, _ = run(capsys, "ls", str(tree / "run.h5") + "::/entry")
    assert code == 0 and out.split() == ["array", "3x8x8", "float32", "data"]


def test_info(capsys, tree):
    code, out, _ = run(capsys, "info", "--json", str(tree / "run.h5") + "::/entry/data")
    info = json.loads(out)
    assert code == 0 and info["kind"] == "array" and info["container"]["shape"] == [3, 8, 8]
    assert info["container"]["attrs"] == {"units": "counts"} and info["size"] == os.path.getsize(tree / "run.h5")
    code, out, _ = run(capsys, "info", str(tree / "s.zarr"))
    assert code == 0 and "children:   img" in out and '@sample:    "ZK-1"' in out
    code, out, _ = run(capsys, "info", str(tree / "a.txt"))
    assert "size:       6" in out


def test_cat(capsysbinary, tree):
    assert cli.main(["cat", str(tree / "sub" / "b.bin")]) == 0
    assert capsysbinary.readouterr().out == bytes(range(256)) * 20


def test_cp_mv_rm(capsys, tree, tmp_path):
    dst = tmp_path / "dst"
    code, _, err = run(capsys, "cp", str(tree), str(dst))
    assert code == 1 and "use cp -r" in err and not dst.exists()
    code, _, err = run(capsys, "cp", "-r", str(tree), str(dst))
    assert code == 0 and (dst / "sub" / "b.bin").read_bytes() == (tree / "sub" / "b.bin").read_bytes()
    assert "copied 5 file(s)" in err
    # into an existing folder, as POSIX cp does
    assert run(capsys, "cp", str(tree / "a.txt"), str(dst / "sub"))[0] == 0
    assert (dst / "sub" / "a.txt").read_bytes() == b"hello\n"
    assert run(capsys, "cp", str(tree / "a.txt"), str(tree / "sub" / "b.bin"), str(dst / "new.txt"))[0] == 1
    assert run(capsys, "mv", str(dst / "sub"), str(dst / "moved"))[0] == 0
    assert (dst / "moved" / "a.txt").exists() and not (dst / "sub").exists()
    code, _, err = run(capsys, "rm", str(dst / "moved"))
    assert code == 1 and "rm -r" in err and (dst / "moved").exists()
    assert run(capsys, "rm", "-r", str(dst / "moved"))[0] == 0 and not (dst / "moved").exists()
    assert run(capsys, "rm", "-f", str(dst / "nothing"))[0] == 0
    code, _, err = run(capsys, "rm", str(dst / "nothing"))
    assert code == 1 and "no such file" in err


def test_progress_bar(capsys, tree, tmp_path):
    code, _, err = run(capsys, "cp", "-r", "--progress", str(tree), str(tmp_path / "p"))
    assert code == 0 and "\r[" in err and "100.0%" in err


def test_find(capsys, tree):
    code, out, _ = run(capsys, "find", str(tree), "--attr", "sample=LK-*")
    assert code == 0 and out.splitlines() == [f"{tree}/run.h5::/"]
    code, out, _ = run(capsys, "find", str(tree), "--shape", "...,8,8", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["uri"], r["shape"], r["dtype"]) for r in rows] == [(f"{tree}/run.h5::/entry/data", [3, 8, 8], "float32")]
    code, out, _ = run(capsys, "find", str(tree), "--kind", "array", "--dtype", "uint16", "-l")
    assert out.split()[:4] == ["array", "32", "2x8", "uint16"]
    code, out, _ = run(capsys, "find", str(tree), "--name", "*.txt", "--name", "*.bin", "--no-containers")
    assert sorted(out.splitlines()) == [f"{tree}/a.txt", f"{tree}/sub/b.bin"]
    assert sorted(run(capsys, "find", str(tree), "--min-size", "1k", "--kind", "file")[1].splitlines()) == [
        f"{tree}/run.h5",
        f"{tree}/sub/b.bin",
    ]
    code, _, err = run(capsys, "find", str(tree / "missing"))
    assert code == 1 and "no such" in err and "Traceback" not in err


def test_compare(capsys, tree, tmp_path):
    dst = tmp_path / "copy"
    assert run(capsys, "cp", "-r", "-q", str(tree), str(dst))[0] == 0
    (dst / "a.txt").write_bytes(b"changed!")
    (dst / "sub" / "b.bin").unlink()
    (dst / "extra").write_bytes(b"x")
    code, out, err = run(capsys, "compare", str(tree), str(dst))
    assert code == 0
    assert sorted(line.split()[0] + " " + line.split()[1] for line in out.splitlines()) == [
        "differ a.txt",
        "only_a sub/b.bin",
        "only_b extra",
    ]
    assert "3 difference(s)" in err
    code, out, _ = run(capsys, "compare", "--json", "--all", "--exit-code", str(tree), str(dst))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 3 and {r["status"] for r in rows} == {"only_a", "only_b", "differ", "same"}


@pytest.mark.s3
def test_s3_endpoint_option(capsys, tree, s3_server, monkeypatch):
    bucket = s3_server.new_bucket()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    scheme = ["--scheme", f"clis3={s3_server.endpoint}"]
    assert run(capsys, *scheme, "cp", "-r", "-q", str(tree), f"clis3://{bucket}/data")[0] == 0
    code, out, _ = run(capsys, "ls", *scheme, f"clis3://{bucket}/data")
    assert code == 0 and [line.split()[-1] for line in out.splitlines()] == ["a.txt", "run.h5", "s.zarr/", "sub/"]
    code, out, _ = run(capsys, *scheme, "find", f"clis3://{bucket}/data", "--attr", "sample=ZK-1")
    assert out.splitlines() == [f"clis3://{bucket}/data/s.zarr::/"]
    code, out, err = run(capsys, *scheme, "compare", "--deep", str(tree), f"clis3://{bucket}/data")
    assert code == 0 and out == "" and "0 difference(s)" in err
    # wrong credentials, in a fresh process (clients are shared within one): one line, exit 1
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "AWS_SECRET_ACCESS_KEY": "wrong-secret", "AWS_ENDPOINT_URL_S3": s3_server.endpoint}
    done = subprocess.run([sys.executable, "-m", "storecore", "ls", f"s3://{bucket}/data"], capture_output=True, env=env, timeout=60)
    assert done.returncode == 1 and b"access denied" in done.stderr and done.stderr.count(b"\n") == 1


def test_python_m_storecore(tree):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-m", "storecore", "cat", str(tree / "a.txt")], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout == b"hello\n"
    done = subprocess.run([sys.executable, "-m", "storecore", "info", str(tree / "nope")], capture_output=True, env=env, timeout=60)
    assert done.returncode == 1 and b"Traceback" not in done.stderr and done.stderr.count(b"\n") == 1


def test_cat_of_a_huge_sparse_array_prints_its_corner_and_reads_only_that(capsys, tmp_path):
    """10 million × 10 million float32 (one chunk written): the first 1,000 rows of 1,000 values, not 1,000 rows of
    ten million (37 GiB)."""
    import zarr

    z = zarr.create_array(str(tmp_path / "sparse.zarr"), shape=(10_000_000, 10_000_000), chunks=(1000, 1000),
                          dtype="f4", fill_value=0)
    z[:1000, :1000] = np.arange(1_000_000, dtype="f4").reshape(1000, 1000)
    code, out, err = run(capsys, "cat", f"{tmp_path / 'sparse.zarr'}::/")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == cli.CAT_TEXT_ROWS and lines[1].split("\t")[:2] == ["1000.0", "1001.0"]
    assert len(lines[0].split("\t")) == cli.CAT_TEXT_COLUMNS
    assert "9,999,000 more values across left out of each row" in err and "more rows left out" in err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(1, 6), min_size=2, max_size=5), limit=st.integers(1, 40),
       columns=st.one_of(st.none(), st.integers(1, 6)), budget=st.integers(1, 400))
def test_cat_rows_are_the_first_rows_of_the_flattened_array_whatever_the_read_budget(
        tmp_path, monkeypatch, shape, limit, columns, budget):
    import zarr

    import storecore

    arr = np.arange(np.prod(shape), dtype="i4").reshape(shape)
    path = tmp_path / f"a{'x'.join(map(str, shape))}.zarr"
    if not path.exists():
        zarr.create_array(str(path), data=arr, chunks=tuple(max(1, s // 2) for s in shape))
    monkeypatch.setattr(cli, "CAT_READ_BYTES", budget)  # small: the slabs are walked row by row
    rows, total = cli._cat_rows(storecore.open_container(f"{path}::/"), limit, columns)
    flat = arr.reshape(-1, shape[-1])
    assert total == flat.shape[0]
    assert np.array_equal(rows, flat[:limit, :columns])


def test_cat_prints_times_as_times_and_nat_as_nat(capsys, tmp_path):
    """Nanosecond times are not printed as the integers numpy's .item() gives, nor a missing time as None."""
    import zarr

    times = np.array(["2020-01-01T00:00:00.5", "NaT", "2026-12-05T01:02:03"], dtype="M8[ns]")
    spans = np.array([5, -1, 0], dtype="m8[s]")
    spans[1] = np.timedelta64("NaT")
    g = zarr.open_group(str(tmp_path / "t.zarr"), mode="w", zarr_format=2)
    g.create_array("when", data=times)
    g.create_array("span", data=spans)
    code, out, err = run(capsys, "cat", f"{tmp_path / 't.zarr'}::/when")
    assert code == 0, err
    assert out.split() == [str(np.datetime_as_string(t)) for t in times] == [
        "2020-01-01T00:00:00.500000000", "NaT", "2026-12-05T01:02:03.000000000"]
    code, out, err = run(capsys, "cat", f"{tmp_path / 't.zarr'}::/span")
    assert code == 0, err
    assert out.splitlines() == ["5 seconds", "NaT", "0 seconds"]


def test_ls_says_where_links_lead_and_why_a_member_is_broken(capsys, tmp_path):
    import h5py
    import zarr

    with h5py.File(tmp_path / "l.h5", "w") as f:
        f["data"] = np.arange(3)
        f["ok"] = h5py.SoftLink("/data")
        f["dangling"] = h5py.SoftLink("/nothing")
        f["elsewhere"] = h5py.ExternalLink("missing.h5", "/x")
    code, out, err = run(capsys, "ls", f"{tmp_path / 'l.h5'}::/")
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.startswith("link") and line.endswith("ok -> /data") for line in lines), out
    assert any("dangling -> /nothing (broken" in line for line in lines), out
    assert any("elsewhere -> missing.h5" in line and "(broken: " in line for line in lines), out
    g = zarr.open_group(str(tmp_path / "z.zarr"), mode="w", zarr_format=2)
    g.create_array("good", shape=(2,), dtype="i4")
    (tmp_path / "z.zarr" / "bad").mkdir()
    (tmp_path / "z.zarr" / "bad" / ".zarray").write_text("{not json")
    code, out, err = run(capsys, "ls", f"{tmp_path / 'z.zarr'}::/")
    assert code == 0, err
    bad = [line for line in out.splitlines() if " bad" in line]
    assert len(bad) == 1 and "(unreadable: " in bad[0] and len(out.splitlines()) == 2
