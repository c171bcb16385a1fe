"""Hostile inputs: names, keys, links, paths and timings chosen to make a copy, a move or a delete do harm.

Every test here failed before its fix (issue 15, "Data safety").  Real files in temporary folders, the real
S3 server, real processes; no mocks.  The hypothesis tests fuzz the parsers every path goes through.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import string
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transfer_helpers import keys, pending_uploads, when_bytes, write

import storecore
from storecore import cli
from storecore.errors import BackendUnavailable, InvalidLocation, NotFound, PermissionDenied
from storecore.location import Location, normalize_inner, normalize_key
from storecore.transfer import JobState, TransferQueue

MiB = 1024 * 1024


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no error line"
    return lines[-1]


@pytest.fixture
def h5file(tmp_path):
    import h5py

    path = tmp_path / "real.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("g/data", data=np.arange(10))
    return path


# -- 1. a file sent to a container node --------------------------------------------------------------
@pytest.mark.parametrize("dst", ["real.h5::/g/new", "real.h5::/"])
@pytest.mark.parametrize("op", ["mv", "cp"])
def test_a_file_sent_into_a_container_node_fails_and_touches_nothing(capsys, tmp_path, h5file, op, dst):
    csv = tmp_path / "t.csv"
    csv.write_bytes(b"a,b\n1,2\n")
    before = h5file.read_bytes()
    code, _, err = run(capsys, op, str(csv), str(tmp_path / dst))
    assert code == 1
    assert "container" in one_line(err) and "t.csv" in one_line(err)
    assert h5file.read_bytes() == before  # the container is untouched
    assert csv.read_bytes() == b"a,b\n1,2\n"  # and a move kept its source


def test_the_queue_refuses_a_text_file_dropped_on_a_group_with_overwrite(tmp_path, h5file):
    txt = tmp_path / "notes.txt"
    txt.write_text("notes")
    before = h5file.read_bytes()
    with TransferQueue(history=False) as q:
        job = q.submit(str(txt), f"{h5file}::/g/notes", op="move", conflict="overwrite")
        assert job.wait(30) is JobState.FAILED
    assert "\n" not in job.error and "notes.txt" in job.error
    assert [r.status for r in job.report()] == ["failed"]
    assert h5file.read_bytes() == before and txt.read_text() == "notes"


def test_npy_files_still_import_into_a_container(tmp_path, h5file):
    np.save(tmp_path / "a.npy", np.arange(4))
    with TransferQueue(history=False) as q:
        assert q.submit(str(tmp_path / "a.npy"), f"{h5file}::/g/a").wait(30) is JobState.DONE
    with storecore.open_container(f"{h5file}::/g/a") as node:
        assert node.read_slice(()).tolist() == [0, 1, 2, 3]


# -- 4. a source rewritten while it is uploaded --------------------------------------------------------
@pytest.mark.s3
def test_a_source_rewritten_during_an_upload_fails_the_file(s3_server, s3_bucket, s3_scheme, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(20 * MiB))
    rewritten = []

    def rewrite(job):
        if not rewritten and job.progress.bytes_done >= 5 * MiB:
            rewritten.append(True)
            with open(src, "r+b") as f:  # same size, other bytes, in place (same inode)
                f.write(os.urandom(20 * MiB))

    with TransferQueue(part_size=5 * MiB, part_concurrency=1, history=False, progress_interval=0) as q:
        job = q.submit(str(src), f"{s3_scheme}://{s3_bucket}/big.bin", on_progress=rewrite)
        assert job.wait(120) is JobState.FAILED
    assert rewritten
    (record,) = job.report()
    assert not record.verified and record.status == "failed"
    assert "changed while it was copied" in record.error
    assert "big.bin" not in keys(s3_server, s3_bucket)
    assert pending_uploads(s3_server, s3_bucket) == []


def test_a_source_rewritten_during_a_local_copy_fails_the_file(tmp_path, memory_root):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(24 * MiB))
    rewritten = []

    def rewrite(job):
        if not rewritten and 0 < job.progress.bytes_done < 24 * MiB:
            rewritten.append(True)
            tmp = tmp_path / "new.bin"
            tmp.write_bytes(os.urandom(24 * MiB))
            os.replace(tmp, src)  # same size, a new inode

    with TransferQueue(history=False, progress_interval=0) as q:
        job = q.submit(str(src), f"{memory_root}/big.bin", on_progress=rewrite)
        assert job.wait(60) is JobState.FAILED
    assert rewritten and not job.report()[0].verified


# -- 5. rm with '.' and '..' segments ----------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["..", ".", "../dir", "sub/../.."])
def test_rm_refuses_dot_segments(capsys, tmp_path, suffix):
    d = tmp_path / "parent" / "dir"
    (d / "sub").mkdir(parents=True)
    (d / "f.txt").write_text("x")
    (tmp_path / "parent" / "keep.txt").write_text("k")
    code, _, err = run(capsys, "rm", "-r", f"{d}/{suffix}")
    assert code == 1
    assert "'.' or '..'" in one_line(err)
    assert (d / "f.txt").exists() and (tmp_path / "parent" / "keep.txt").exists()


# -- 6 and 14. links, temporary-looking names, moves -------------------------------------------------
@pytest.fixture
def linky(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "user.storecore-tmp").write_text("a user's file")
    (src / "sub" / "b.txt").write_text("b")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink("sub", src / "dirlink")
    os.symlink("nowhere", src / "broken")
    os.symlink(str(outside / "secret.txt"), src / "out.txt")
    os.symlink("a.txt", src / "inlink.txt")
    return src


def test_a_tree_move_to_s3_deletes_only_what_it_copied(s3_server, s3_bucket, s3_scheme, linky):
    with TransferQueue(history=False) as q:
        job = q.submit(str(linky), f"{s3_scheme}://{s3_bucket}/t", op="move")
        job.wait(60)
    reasons = {os.path.basename(r.source): r.error for r in job.report() if r.status == "skipped"}
    assert set(reasons) == {"user.storecore-tmp", "dirlink", "broken", "out.txt"}
    assert "folder" in reasons["dirlink"] and "broken" in reasons["broken"] and "outside" in reasons["out.txt"]
    assert keys(s3_server, s3_bucket) == ["t/a.txt", "t/inlink.txt", "t/sub/b.txt"]
    got = s3_server.client().get_object(Bucket=s3_bucket, Key="t/inlink.txt")["Body"].read()
    assert got == b"a"  # a link to a file inside the tree is followed
    # what was not copied is still there, links included
    assert (linky / "user.storecore-tmp").read_text() == "a user's file"
    assert os.path.islink(linky / "dirlink") and os.path.islink(linky / "broken") and os.path.islink(linky / "out.txt")
    assert not (linky / "a.txt").exists()


def test_cp_r_local_keeps_links_as_links_and_follows_nothing_out_of_the_tree(capsys, tmp_path, linky):
    dst = tmp_path / "dst"
    code, _, err = run(capsys, "cp", "-r", str(linky), str(dst))
    assert code == 0, err
    for name in ("dirlink", "broken", "out.txt", "inlink.txt"):
        assert os.path.islink(dst / name) and os.readlink(dst / name) == os.readlink(linky / name), name
    assert (dst / "a.txt").read_text() == "a" and (dst / "sub" / "b.txt").read_text() == "b"
    assert "skipped" in err and "storecore-tmp" in err  # the skip is reported with its reason


def test_a_local_tree_move_moves_relative_links_as_links(tmp_path, linky):
    dst = tmp_path / "moved"
    with TransferQueue(history=False) as q:
        job = q.submit(str(linky), str(dst), op="move")
        assert job.wait(60) is JobState.DONE or job.summary()["failed"] == 0, job.error
    assert job.summary()["failed"] == 0
    assert os.readlink(dst / "inlink.txt") == "a.txt" and (dst / "inlink.txt").read_text() == "a"
    assert os.path.islink(dst / "broken")
    assert (linky / "user.storecore-tmp").exists()  # skipped, so kept


def test_a_single_relative_link_mv_is_verified_not_failed(capsys, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    os.symlink("a.txt", tmp_path / "rel")
    (tmp_path / "d").mkdir()
    code, _, err = run(capsys, "mv", str(tmp_path / "rel"), str(tmp_path / "d") + "/")
    assert code == 0, err
    assert os.readlink(tmp_path / "d" / "rel") == "a.txt" and not os.path.lexists(tmp_path / "rel")


# -- 7. object keys with '.' and '..' segments ----------------------------------------------------------
@pytest.fixture
def dotted(memory_root):
    """A store holding keys with '.', '..' and empty segments, as an AWS bucket can (SeaweedFS refuses them, so
    the memory backend, which keeps keys as given, stands in for the bucket)."""
    from storecore.backends.memory import InMemoryBackend

    store = InMemoryBackend.named(memory_root.split("://", 1)[1])
    store.write_bytes("rootsecret.txt", b"secret")
    for key, body in {
        "pfx/ok.txt": b"ok",
        "pfx/../rootsecret.txt": b"dotdot",
        "pfx/./dot.txt": b"dot",
        "pfx/a//b.txt": b"double",
        "pfx/z.txt": b"z",
    }.items():
        store.data[key] = (body, 0.0)
    return memory_root


def test_keys_with_dot_segments_are_skipped_with_a_reason_and_the_job_goes_on(dotted, tmp_path):
    out = tmp_path / "out"
    with TransferQueue(history=False) as q:
        job = q.submit(f"{dotted}/pfx", str(out))
        job.wait(60)
    assert job.summary()["failed"] == 0, job.error
    assert sorted(os.listdir(out)) == ["ok.txt", "z.txt"]
    assert not (tmp_path / "rootsecret.txt").exists()
    skipped = {r.source.split("/", 3)[3]: r.error for r in job.report() if r.status == "skipped"}
    assert set(skipped) == {"pfx/../rootsecret.txt", "pfx/./dot.txt", "pfx/a//b.txt"}
    assert all("segments" in why for why in skipped.values())


def test_library_copy_of_a_prefix_with_dot_keys_copies_the_rest_and_names_the_first_odd_key(dotted, tmp_path):
    """``storecore.transfer.copy`` never normalises a key (``pfx/../rootsecret.txt`` is not ``rootsecret.txt``):
    the other files are copied, one line names an odd key, and ``move`` then deletes nothing."""
    from storecore.errors import InvalidArgument
    from storecore.transfer import copy, move

    out = tmp_path / "out"
    with pytest.raises(InvalidArgument) as err:
        copy(f"{dotted}/pfx", str(out))
    assert "'..' segment" in one_line(str(err.value)) and "3 such key(s)" in one_line(str(err.value))
    assert sorted(os.listdir(out)) == ["ok.txt", "z.txt"]
    assert not (tmp_path / "rootsecret.txt").exists()
    with pytest.raises(InvalidArgument):
        move(f"{dotted}/pfx", str(tmp_path / "moved"))
    backend, loc = storecore.backend_for(f"{dotted}/pfx/ok.txt")
    assert backend.read_bytes(loc.path) == b"ok"  # nothing was deleted


def test_a_move_of_a_prefix_keeps_the_keys_it_skipped(dotted, memory_root):
    with TransferQueue(history=False) as q:
        job = q.submit(f"{dotted}/pfx", f"{memory_root}/moved", op="move")
        job.wait(60)
    store = storecore.backend_for(memory_root)[0]
    assert store.data["pfx/../rootsecret.txt"][0] == b"dotdot" and store.read_bytes("rootsecret.txt") == b"secret"
    assert store.read_bytes("moved/ok.txt") == b"ok" and "pfx/ok.txt" not in store.data


def test_ls_r_lists_keys_with_dot_segments_as_they_are(capsys, dotted):
    code, out, err = run(capsys, "ls", "-r", f"{dotted}/pfx")
    assert code == 0, err
    names = sorted(line.split()[-1] for line in out.splitlines())
    assert names == sorted(["ok.txt", "../rootsecret.txt", "./dot.txt", "a//b.txt", "z.txt"])


# -- 8 and 9. the server dies mid-upload ---------------------------------------------------------------
def test_a_lost_connection_is_a_clear_error():
    from botocore.exceptions import HTTPClientError

    from storecore.transfer.multipart import _error

    err = _error(HTTPClientError(error="Connection reset by peer"), "s3://b/k")
    assert isinstance(err, BackendUnavailable) and "NoneType" not in str(err) and "s3://b/k" in str(err)


KILLED_UPLOAD = """
import os, sys
import storecore
from storecore.transfer import TransferQueue

endpoint, key, secret, src, dst = sys.argv[1:]
storecore.register_scheme("tests3", "s3", endpoint_url=endpoint, aws_access_key_id=key,
                          aws_secret_access_key=secret, region_name="us-east-1")


def die(job):
    if job.progress.bytes_done >= 10 * 1024 * 1024:
        os._exit(9)  # killed mid-upload: no clean-up runs


q = TransferQueue(part_size=5 * 1024 * 1024, part_concurrency=1, history=False, progress_interval=0)
q.submit(src, dst, on_progress=die).wait(120)
sys.exit(3)  # not reached when the upload got under way
"""


@pytest.mark.s3
def test_a_killed_upload_then_a_successful_retry_leaves_no_open_upload(s3_server, s3_bucket, s3_scheme, tmp_path):
    import sys

    data = os.urandom(30 * MiB)
    write(str(tmp_path / "big.bin"), data)
    dst = f"{s3_scheme}://{s3_bucket}/big.bin"
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_UPLOAD,
            s3_server.endpoint,
            s3_server.access_key,
            s3_server.secret_key,
            str(tmp_path / "big.bin"),
            dst,
        ],
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == 9, killed.stderr.decode()
    assert len(pending_uploads(s3_server, s3_bucket)) == 1  # what the killed process left
    with TransferQueue(part_size=5 * MiB, history=False) as q:  # the retry, in a new process or session
        job = q.submit(str(tmp_path / "big.bin"), dst)
        assert job.wait(120) is JobState.DONE, job.error
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="big.bin")["Body"].read() == data
    assert pending_uploads(s3_server, s3_bucket) == []


@pytest.mark.s3
def test_server_killed_mid_upload_gives_a_clear_error_and_retry_completes(s3_server, s3_bucket, s3_scheme, tmp_path):
    if s3_server.external:
        pytest.skip("the S3 endpoint is external: it cannot be killed from here")
    data = os.urandom(30 * MiB)
    write(str(tmp_path / "big.bin"), data)
    on_progress, reached = when_bytes(10 * MiB)
    q = TransferQueue(
        part_size=5 * MiB, part_concurrency=2, backoff=0.05, max_retries=1, history=False, progress_interval=0
    )
    try:
        job = q.submit(str(tmp_path / "big.bin"), f"{s3_scheme}://{s3_bucket}/big.bin", on_progress=on_progress)
        assert reached.wait(60)
        s3_server.stop()
        assert job.wait(120) is JobState.FAILED
        assert isinstance(job.exception, BackendUnavailable), job.error
        assert "NoneType" not in job.error and "\n" not in job.error
        s3_server.start()
        job.retry()
        assert job.wait(120) is JobState.DONE, job.error
    finally:
        if s3_server.proc is None:
            s3_server.start()
        q.close()
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="big.bin")["Body"].read() == data
    assert pending_uploads(s3_server, s3_bucket) == []


# -- 11. a copy to a disk that refuses it --------------------------------------------------------------
@pytest.fixture
def readonly_dir(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(d)], capture_output=True).returncode:
        pytest.skip("root without mount rights: no read-only file system to write to")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], check=False)


def test_a_failed_copy_is_reported_as_failed(capsys, tmp_path, readonly_dir):
    (tmp_path / "notes.txt").write_text("notes")
    code, _, err = run(capsys, "cp", str(tmp_path / "notes.txt"), str(readonly_dir) + "/")
    assert code == 1
    assert "copied 1 file" not in err and "copied 0 file(s)" in err and "FAILED" in err
    assert "notes.txt" in one_line(err)


# -- 12. names that drive the terminal -----------------------------------------------------------------
def test_ls_and_find_escape_control_characters_but_json_stays_exact(capsys, tmp_path):
    evil = "evil\x1b[2J\x1b]0;pwned\x07\nname.txt"
    (tmp_path / evil).write_text("x")
    for argv in (
        ["ls", str(tmp_path)],
        ["ls", "-r", str(tmp_path)],
        ["find", str(tmp_path), "--name", "evil*"],
        ["find", "-l", str(tmp_path), "--name", "evil*"],
    ):
        code, out, _ = run(capsys, *argv)
        assert code == 0
        assert "\x1b" not in out and "\x07" not in out, argv
        assert "evil\\x1b[2J" in out and "\\n" in out, argv
        assert len(out.strip().splitlines()) == 1, argv
    code, out, _ = run(capsys, "ls", "--json", str(tmp_path))
    import json

    assert json.loads(out)["name"] == evil


# -- 13. the access key id and a missing keyring -------------------------------------------------------
def test_the_access_key_id_is_not_saved_without_a_keyring(tmp_path):
    from PySide6.QtCore import QSettings

    from app.mounts import MountSpec, MountStore, keyring_available

    if keyring_available():
        pytest.skip("a keyring is installed here: the key id legitimately goes with it")
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    spec = MountSpec(
        name="b", uri="s3://bkt", kind="s3", access_key="AKIAHOSTILE", secret_key="s3cr3t", use_keyring=True
    )
    MountStore(settings).save([spec])
    text = (tmp_path / "s.ini").read_text()
    assert "AKIAHOSTILE" not in text and "s3cr3t" not in text


def test_the_mount_dialog_does_not_opt_in_without_a_keyring(qtbot):
    from app.dialogs.mount_dialog import MountDialog
    from app.mounts import MountSpec, keyring_available

    if keyring_available():
        pytest.skip("a keyring is installed here")
    dialog = MountDialog()
    qtbot.addWidget(dialog)
    dialog.set_spec(
        MountSpec(name="b", uri="s3://bkt", kind="s3", access_key="AKIAHOSTILE", secret_key="x", use_keyring=True)
    )
    spec = dialog.spec()
    assert spec.use_keyring is False
    assert "access_key" not in spec.to_settings()


# -- 15. two processes appending -----------------------------------------------------------------------
def _append_rows(path: str, start: int, n: int) -> None:
    from storecore import NumpySaver

    saver = NumpySaver(path, approach="append")
    for i in range(start, start + n):
        saver.save(np.full((1, 4), i, dtype="i8"))


def test_two_processes_appending_lose_no_rows(tmp_path):
    path = str(tmp_path / "rows.npy")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_rows, args=(path, k * 1000, 150)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    got = np.load(path)
    assert got.shape == (300, 4)
    assert sorted(got[:, 0].tolist()) == sorted([*range(0, 150), *range(1000, 1150)])


# -- 16. errors of the right type ----------------------------------------------------------------------
@pytest.mark.s3
def test_an_upload_with_a_wrong_secret_is_permission_denied(s3_server, s3_bucket, tmp_path):
    from storecore.backends.s3 import S3Backend

    (tmp_path / "f.bin").write_bytes(os.urandom(9 * MiB))  # above the multipart threshold too
    b = S3Backend(s3_bucket, **s3_server.options(aws_secret_access_key="wrong-secret", max_attempts=1))
    with pytest.raises(PermissionDenied):
        b.upload_file(str(tmp_path / "f.bin"), "f.bin")
    with pytest.raises(PermissionDenied):
        b.write_bytes("g.bin", os.urandom(9 * MiB))


def test_zarr_update_on_a_missing_store_is_file_not_found(tmp_path):
    from storecore import ZarrSaver

    with pytest.raises(FileNotFoundError):
        ZarrSaver(str(tmp_path / "missing.zarr"), approach="update").save(np.zeros(3))
    with pytest.raises(FileNotFoundError):
        ZarrSaver(str(tmp_path / "missing.zarr"), approach="update").save(np.zeros(3), indices=[0, 1, 2])


# -- fuzzing the parsers ---------------------------------------------------------------------------------
segment = st.one_of(
    st.sampled_from([".", "..", "", "a", "b.h5", "x y", "é"]),
    st.text(alphabet=string.ascii_letters + string.digits + "._-~ ", min_size=1, max_size=8),
)
keys_st = st.lists(segment, max_size=8).map("/".join)


@settings(max_examples=300, deadline=None)
@given(keys_st)
def test_normalize_key_is_idempotent_and_never_escapes(key):
    try:
        norm = normalize_key(key)
    except InvalidLocation:
        return
    assert normalize_key(norm) == norm
    parts = norm.split("/") if norm else []
    assert all(p not in ("", ".", "..") for p in parts)


@settings(max_examples=300, deadline=None)
@given(keys_st)
def test_normalize_inner_gives_an_absolute_clean_path(inner):
    norm = normalize_inner(inner)
    assert norm.startswith("/") and normalize_inner(norm) == norm
    # empty and '.' segments go; every other one (even '..', a legal HDF5 member name) stays, in order, unresolved
    assert norm.split("/")[1:] == ([p for p in inner.split("/") if p not in ("", ".")] or [""])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["s3://bkt/", "memory://m/", "/data/", "file:///data/"]), keys_st, st.one_of(st.none(), keys_st))
def test_location_parse_round_trips_and_stays_under_its_root(prefix, key, inner):
    text = prefix + key + ("" if inner is None else "::" + inner)
    try:
        loc = Location.parse(text)
    except InvalidLocation:
        return
    assert Location.parse(str(loc)) == loc
    if not loc.is_local:  # a key never climbs out of its bucket
        assert all(p not in ("", ".", "..") for p in loc.path.split("/")) or loc.path == ""


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=20),
        min_size=1,
        max_size=4,
    )
)
def test_key_to_local_name_mapping_never_escapes_the_destination(parts):
    """A key's local name is the destination joined with its segments: either it stays below, or the key is
    skipped with a reason (never normalised into another place)."""
    from storecore.backends.local import LocalBackend
    from storecore.transfer.queue import _unrepresentable

    rel = "/".join(parts)
    reason = _unrepresentable(LocalBackend("/"), rel)
    canonical = False
    with contextlib.suppress(InvalidLocation):
        canonical = normalize_key(rel) == rel
    if reason is None and canonical:
        dest = "/dst"
        full = os.path.normpath(os.path.join(dest, *rel.split("/")))
        assert full.startswith(dest + "/")
    elif ".." in parts or "." in parts:
        assert reason is not None or not canonical


def test_rm_of_a_missing_dot_path_names_it(capsys, tmp_path):
    code, _, err = run(capsys, "rm", str(tmp_path / "nope" / ".."))
    assert code == 1 and "nope/.." in one_line(err)


def test_a_missing_source_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "cp", str(tmp_path / "no\nsuch"), str(tmp_path / "x"))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "no\\nsuch" in err
    with pytest.raises(NotFound):
        storecore.backend_for(str(tmp_path))[0].stat(str(tmp_path / "no\nsuch"))


# -- chunks decoded part-way: streams that lie about their length ------------------------------------------------------
def test_a_deflate_chunk_decoding_past_its_size_is_capped_and_named(tmp_path, monkeypatch):
    """A chunk whose deflate stream inflates to 64× the chunk (a 'bomb'): a frame read decodes only what it needs,
    never past the chunk; a whole read names the chunk, as h5py refuses it."""
    import zlib

    import h5py

    from storecore.containers import h5chunks, open_container
    from storecore.errors import CorruptData

    monkeypatch.setattr(h5chunks, "PREFIX_MIN_CHUNK", 0)
    h5chunks.CACHE.clear()
    path = tmp_path / "bomb.h5"
    chunk = (64, 128, 128)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", shape=chunk, chunks=chunk, dtype="u1", compression="gzip")
        d.id.write_direct_chunk((0, 0, 0), zlib.compress(bytes(64 * 64 * 128 * 128), 9))  # 64× too long
    with open_container(f"{path}::/data") as node:
        assert (node.read_slice((0,), cache=False) == 0).all()  # the start is well formed
        part = next(v for v, _ in h5chunks.CACHE._items.values() if isinstance(v, h5chunks.PartDecodedChunk))
        assert part.done < 64 * 128 * 128
        with pytest.raises(CorruptData, match=r"bomb\.h5"):
            node.read_slice((slice(None),), cache=False)
    h5chunks.CACHE.clear()


@pytest.mark.parametrize("sized", [True, False])
def test_a_zstd_chunk_longer_than_its_array_chunk_is_named_once_it_is_read_whole(tmp_path, monkeypatch, sized):
    """A frame decoding to 100× its chunk: refused before any decoding when its header says so (``sized``); else
    its start decodes, no further than asked, and the read that reaches the chunk's end names it."""
    import zarr
    import zstandard

    from storecore.containers import h5chunks, open_container
    from storecore.errors import CorruptData

    monkeypatch.setattr(h5chunks, "PREFIX_MIN_CHUNK", 0)
    h5chunks.CACHE.clear()
    shape = (64, 128, 128)
    z = zarr.create_array(str(tmp_path / "bomb.zarr"), shape=shape, chunks=shape, dtype="u1")
    z[...] = 1
    with open(tmp_path / "bomb.zarr" / "c" / "0" / "0" / "0", "wb") as f:  # 100× the chunk's bytes
        f.write(zstandard.ZstdCompressor(write_content_size=sized).compress(bytes([1]) * (100 * 64 * 128 * 128)))
    with open_container(f"{tmp_path}/bomb.zarr") as node:
        if sized:
            with pytest.raises(CorruptData, match=r"bomb\.zarr.*chunk c/0/0/0: Zstandard data declares 104857600 "
                                                  r"decoded bytes, the chunk holds 1048576"):
                node.read_slice((0,), cache=False)
            assert not h5chunks.CACHE._items
        else:
            assert (node.read_slice((0,), cache=False) == 1).all()  # the start decodes, and no further than asked
            part = h5chunks.CACHE.peek(next(iter(h5chunks.CACHE._items)))
            assert part.done < 64 * 128 * 128
            with pytest.raises(CorruptData, match=r"bomb\.zarr.*chunk c/0/0/0.*decodes past"):
                node.read_slice((63,), cache=False)
    h5chunks.CACHE.clear()


@pytest.mark.s3
def test_a_server_failing_mid_frame_loses_nothing_and_the_next_read_resumes(s3_root, tmp_path, monkeypatch):
    """The storage fails while a chunk is decoded part-way over S3: the read fails with the storage error,
    and the next read goes on from what was decoded, with the right values."""
    import h5py

    from storecore.containers import h5chunks, open_container
    from storecore.errors import StorecoreError
    from storecore.transfer import copy

    monkeypatch.setattr(h5chunks, "PREFIX_MIN_CHUNK", 0)
    monkeypatch.setattr(h5chunks, "PREFIX_STEP", 512)
    monkeypatch.setattr(h5chunks, "PREFIX_AHEAD", 0)
    data = np.random.default_rng(4).random((32, 24, 24)).astype("f4")  # barely compresses: frames need their bytes
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=data, chunks=(32, 24, 24), compression="gzip")
    copy(str(path), f"{s3_root}/f.h5")
    h5chunks.CACHE.clear()
    with open_container(f"{s3_root}/f.h5::/data") as node:
        np.testing.assert_array_equal(node.read_slice((0,), cache=False), data[0])
        reader = node.container.reader
        working = reader._fetch

        def gone(start, end):
            raise storecore.errors.BackendUnavailable("connection reset by the server", path="f.h5")

        monkeypatch.setattr(reader, "_fetch", gone)
        with pytest.raises(StorecoreError, match="connection reset"):
            node.read_slice((20,), cache=False)
        monkeypatch.setattr(reader, "_fetch", working)
        for z in (20, 3, 31):
            np.testing.assert_array_equal(node.read_slice((z,), cache=False), data[z])
    h5chunks.CACHE.clear()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.integers(min_value=1, max_value=5 * 8192),
    st.lists(st.integers(min_value=1, max_value=3 * 4096 + 7), min_size=1, max_size=12),
    st.randoms(use_true_random=False),
    st.booleans(),
)
def test_direct_writes_of_any_chunking_give_the_same_bytes(tmp_path, size, cuts, rnd, aligned_memory):
    """Chunks of any length at any offset, in any order, from aligned or unaligned memory: the direct writer
    (aligned bytes around the page cache, the rest through it) leaves exactly the bytes a plain write would."""
    from storecore.transfer import direct
    from storecore.transfer.multipart import _write_at

    data = os.urandom(size)
    bounds, at = [], 0
    for n in cuts * (size // sum(cuts) + 1):
        if at >= size:
            break
        bounds.append((at, min(size, at + n)))
        at += n
    rnd.shuffle(bounds)
    path = str(tmp_path / f"direct-{size}-{len(bounds)}.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, size)
        direct_fd = direct.open_direct(path, size)
        if direct_fd is None:
            pytest.skip("this file system takes no O_DIRECT writes")
        writer = direct.DirectWriter(direct_fd, lambda view, offset: _write_at(fd, view, offset))
        buffer = direct.aligned_buffer(max(e - s for s, e in bounds))
        try:
            for s, e in bounds:
                if aligned_memory:
                    buffer[: e - s] = data[s:e]
                    writer(buffer[: e - s], s)
                else:
                    writer(data[s:e], s)
        finally:
            writer.close()
        assert os.pread(fd, size + 1, 0) == data
    finally:
        os.close(fd)
        os.unlink(path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.lists(st.text(alphabet=string.printable.replace("\n", "").replace("\r", ""), max_size=12),
                               max_size=12).map(" ".join), max_size=8))
def test_a_mount_table_of_any_shape_gives_a_file_system_or_none_and_never_raises(tmp_path, lines):
    """Malformed mount tables (no "-", nothing after it, the device field missing, binary junk) never raise: the
    download then keeps the page cache; a well-formed line among them is still found."""
    from storecore.transfer import direct

    table = tmp_path / "mountinfo"
    table.write_text("\n".join([*lines, "99 1 7:77 / /x rw - ext4 /dev/x rw", "98 1 7:78 / /y rw -"]) + "\n")
    kind = direct.file_system_type(7, 77, mountinfo=str(table))
    assert kind == "ext4" or any(line.split()[2:3] == ["7:77"] for line in lines)
    assert direct.file_system_type(7, 78, mountinfo=str(table)) in (None, *(w for line in lines for w in line.split()))
    table.write_bytes(b"\xff\xfe 1 7:77 /\x00 / - \x80\n")
    assert direct.file_system_type(7, 77, mountinfo=str(table)) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), zipped=st.booleans())
def test_a_server_profile_of_any_bytes_reads_or_says_why(tmp_path, body, zipped):
    """The benchmark's reader of the server's Go profile: any bytes, gzipped or not, give a profile or one
    ProfileError naming the file; nothing else escapes (truncated varints, fields past the end, odd wire types)."""
    import gzip

    from storecore.testing.go_profile import ProfileError, read_profile

    path = tmp_path / "weed.prof"
    path.write_bytes(gzip.compress(body) if zipped else body)
    try:
        profile = read_profile(str(path))
    except ProfileError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
    else:
        assert profile.total_seconds >= 0
        assert all(0 <= share <= 1 for _, share in profile.categories())


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=0, max_size=3000), frames=st.integers(1, 3), checksum=st.booleans(),
       sized=st.booleans(), cut=st.integers(1, 10_000), junk=st.binary(min_size=1, max_size=20))
def test_zstd_frame_walk_accepts_whole_frames_and_names_any_cut_or_tail(data, frames, checksum, sized, cut, junk):
    """The look at a Zarr chunk's Zstandard frames before part-way decoding: whole frames (with or without their
    content size and checksum, one or several) pass; any cut short, or any bytes after them, are named; random
    bytes never raise."""
    import zstandard

    from storecore.containers.zarr_chunks import zstd_frames_problem

    part = data * 7  # compressible: frames of several blocks
    cctx = zstandard.ZstdCompressor(level=1, write_checksum=checksum, write_content_size=sized)
    stored = b"".join(cctx.compress(part) for _ in range(frames))

    def walk(raw: bytes, expected: int) -> str | None:
        return zstd_frames_problem(lambda s, n: raw[s:s + n], len(raw), expected)

    assert walk(stored, frames * len(part)) is None
    assert zstandard.ZstdDecompressor().decompressobj().decompress(stored[: len(stored) // frames]) == part
    shortened = stored[: max(0, len(stored) - 1 - cut % len(stored))]
    one = len(stored) // frames
    if len(shortened) % one or (sized and part) or not shortened:  # (fewer whole frames of unknown size: the decoder finds that)
        assert walk(shortened, frames * len(part)) is not None
    if not junk.startswith(b"\x28\xb5\x2f\xfd") and not (len(junk) >= 4 and 0x184D2A50 <= int.from_bytes(junk[:4], "little") <= 0x184D2A5F):
        assert "after its last frame" in (walk(stored + junk, frames * len(part)) or "")
    if sized:
        assert "declares" in (walk(stored, frames * len(part) + 1) or "")
    walk(junk + data, len(data))  # anything at all: a problem or None, never an exception


@settings(max_examples=150, deadline=None)
@given(sep=st.sampled_from([",", ";", "\t", "|"]),
       cells=st.lists(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"),
                                       max_size=6), min_size=2, max_size=5), min_size=1, max_size=6),
       junk=st.binary(max_size=200))
def test_csv_dialect_finds_the_separator_polars_wrote_and_never_raises(sep, cells, junk):
    """Tables written by polars with any of the four separators (values holding separators and quotes get
    quoted) are read back with that separator; any bytes at all give a dialect, never an exception."""
    import polars as pl

    from storecore.formats.tables import csv_dialect

    width = min(len(r) for r in cells)
    frame = pl.DataFrame({f"c{i}": [r[i] for r in cells] for i in range(width)})
    text = frame.write_csv(separator=sep).encode()
    assert csv_dialect(text)["separator"] == sep
    assert csv_dialect(junk)["separator"] in (",", ";", "\t", "|")


@settings(max_examples=200, deadline=None)
@given(key=st.text(min_size=1, max_size=40), prefix=st.text(max_size=20), token=st.text(max_size=20))
def test_any_key_or_query_is_signed_as_botocore_signs_it(key, prefix, token):
    """Keys are data: whatever a key or a listing's prefix and token hold, the request's signature is botocore's."""
    import datetime

    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials

    from storecore.transfer.sigv4 import UNSIGNED_PAYLOAD, Signer

    fixed = datetime.datetime(2026, 12, 5, 1, 2, 3)
    credentials = Credentials("AKIDEXAMPLE", "secret/+=", None)
    signer = Signer("http://127.0.0.1:9000", "us-east-1", credentials)
    listing = {"list-type": "2", "prefix": prefix, "continuation-token": token}
    for bucket_key, params in ((key, None), ("", listing)):
        url, send = signer.sign("GET", "b", bucket_key, {"x-amz-checksum-mode": "ENABLED"}, params=params, now=fixed)
        theirs = AWSRequest(method="GET", url=url, headers={"x-amz-checksum-mode": "ENABLED",
                                                            "X-Amz-Content-SHA256": UNSIGNED_PAYLOAD})
        theirs.context["client_config"] = Config(s3={"payload_signing_enabled": False})
        original = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda *a, **k: fixed  # hypothesis runs many examples per test call
        try:
            botocore.auth.S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(theirs)
        finally:
            botocore.auth.get_current_datetime = original
        assert send["Authorization"] == theirs.headers["Authorization"]


def test_a_zarr_group_with_unreadable_members_lists_them_without_asyncio_tracebacks(tmp_path, caplog, capfd):
    """zarr's concurrent member fetch left one "Task exception was never retrieved" traceback per bad member on
    stderr (181 lines for seven of them under `storescope ls`); each is a broken member naming its cause instead."""
    import gc
    import json
    import logging

    import zarr

    from storecore.containers import open_container

    group = zarr.open_group(tmp_path / "g.zarr", mode="w", zarr_format=2)
    group.create_array("ok", data=np.arange(4, dtype="i2"), chunks=(2,))
    for name, meta in (("neg", {"shape": [-3]}), ("codec", {"compressor": {"id": "nosuchcodec"}}), ("dtype", {"dtype": "<q9"})):
        (tmp_path / "g.zarr" / name).mkdir()
        (tmp_path / "g.zarr" / name / ".zarray").write_text(json.dumps(
            {"shape": [4], "chunks": [2], "dtype": "<i2", "fill_value": 0, "order": "C", "filters": None,
             "compressor": None, "zarr_format": 2, **meta}))
    caplog.set_level(logging.WARNING)
    kids = {k.name: k for k in open_container(str(tmp_path / "g.zarr")).children()}
    gc.collect()
    assert sorted(kids) == ["codec", "dtype", "neg", "ok"] and np.array_equal(kids["ok"].read_slice(()), np.arange(4))
    assert all(kids[n].broken and n in kids[n].error for n in ("codec", "dtype", "neg"))
    assert "nosuchcodec" in kids["codec"].error and "-3" in kids["neg"].error
    assert not any("never retrieved" in r.getMessage() for r in caplog.records)
    assert "never retrieved" not in capfd.readouterr().err


def test_hdf5_external_raw_files_short_missing_or_split_read_as_hdf5_reads_them(tmp_path, monkeypatch, capsys):
    """External raw storage (``create_dataset(external=...)``) read from another working folder: a raw file
    shorter than its dataset reads zeros past its end, a dataset split over two files (one at an offset) reads
    whole, and a missing raw file is named in one line.  h5py, run in the file's folder, is the oracle."""
    import h5py

    from storecore.containers import open_container

    (tmp_path / "short.raw").write_bytes(np.arange(5, dtype="<f4").tobytes())
    (tmp_path / "p1.raw").write_bytes(np.arange(3, dtype="<i2").tobytes())
    (tmp_path / "p2.raw").write_bytes(b"xx" + np.arange(3, 6, dtype="<i2").tobytes())
    monkeypatch.chdir(tmp_path)
    with h5py.File("s.h5", "w") as f:
        f.create_dataset("short", shape=(10,), dtype="<f4", external=[("short.raw", 0, h5py.h5f.UNLIMITED)])
        f.create_dataset("split", shape=(6,), dtype="<i2", external=[("p1.raw", 0, 6), ("p2.raw", 2, 6)])
        f.create_dataset("gone", shape=(4,), dtype="<i4", external=[("gone.raw", 0, 16)])
    with h5py.File("s.h5", "r") as f:
        want = {name: f[name][()] for name in ("short", "split")}
    monkeypatch.chdir(tmp_path.parent)
    for name, values in want.items():
        with open_container(f"{tmp_path / 's.h5'}::/{name}") as node:
            np.testing.assert_array_equal(node.read_slice(()), values)
    code, _, err = run(capsys, "cat", f"{tmp_path / 's.h5'}::/gone")
    assert code == 1 and "s.h5::/gone" in one_line(err) and "gone.raw" in err and err.count("\n") == 1


def test_hdf5_soft_links_through_dot_dot_resolve_as_hdf5_resolves_them(tmp_path):
    """HDF5 has no parent step: ``..`` in a soft link is a member's name (a dataset may be called ``..``), so
    ``/names/..`` reaches that dataset (it read as the root group) and ``../x`` is dangling (it read ``/x``)."""
    import h5py

    from storecore.containers import open_container

    path = tmp_path / "dotdot.h5"
    with h5py.File(path, "w") as f:
        names = f.create_group("names")
        names[".."] = np.arange(3)
        f["x"] = np.arange(4)
        f["to_dotdot"] = h5py.SoftLink("/names/..")
        f["dotted"] = h5py.SoftLink("/./names//..")
        names["relative"] = h5py.SoftLink("..")
        names["up"] = h5py.SoftLink("../x")
    with h5py.File(path, "r", locking=False) as f, open_container(str(path)) as root:
        for link in ("/to_dotdot", "/dotted", "/names/relative", "/names/up"):
            node = root.get(link)
            try:
                want = f[link][()]
            except KeyError:
                assert node.broken, link
                continue
            assert not node.broken, link
            np.testing.assert_array_equal(node.read_slice(()), want, err_msg=link)


@settings(max_examples=300, deadline=None)
@given(folder=st.lists(st.sampled_from(["a", "b", "", "..", ".", "ü x"]), max_size=4).map("/".join),
       name=st.lists(st.sampled_from(["x.h5", "..", ".", "", "d"]), min_size=1, max_size=5).map("/".join))
def test_a_name_beside_a_bucket_file_keeps_the_folder_key_and_never_climbs_out(folder, name):
    """HDF5's relative names (external links, raw files) are paths; the folder they start from is a key, kept as is."""
    import posixpath

    from storecore.containers.hdf5_nodes import key_beside

    key = key_beside(folder, name)
    climbs = 0
    depth = len(folder.split("/")) if folder else 0
    for step in name.split("/"):
        if step == "..":
            depth -= 1
            climbs = min(climbs, depth)
        elif step not in ("", "."):
            depth += 1
    if climbs < 0:
        assert key is None
        return
    assert key is not None
    if ".." not in name.split("/"):
        kept = [s for s in name.split("/") if s not in ("", ".")]
        assert key == "/".join((folder.split("/") if folder else []) + kept)  # the folder's own text, '//' too
    else:
        assert not posixpath.isabs(key) or folder.startswith("/")
