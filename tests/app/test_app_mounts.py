"""Mount specs, their persistence (no secrets in the settings file), the mount dialog and ``storescope mounts``."""

from __future__ import annotations

import json
import os

import pytest
from PySide6.QtCore import QSettings

from app.mounts import MountSpec, MountStore, default_name, guess_kind, register, scheme_name_for


@pytest.fixture
def store(tmp_path):
    """A MountStore on an isolated INI file."""
    return MountStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))


def test_guessing_kinds_and_names():
    assert guess_kind("/data/run.h5") == "hdf5"
    assert guess_kind("s3://bkt/x.zarr") == "zarr"
    assert guess_kind("/data") == "local"
    assert guess_kind("s3://bkt/prefix") == "s3"
    assert default_name("s3://bkt/a/b/") == "b"
    assert default_name("s3://bkt") == "bkt"
    assert scheme_name_for("My MinIO!") == "my-minio"
    assert scheme_name_for("9lives") == "s3-9lives"
    assert scheme_name_for("s3") == "s3-1"


def test_round_trip_keeps_settings_and_drops_secret_keys(store, tmp_path):
    specs = [
        MountSpec("data", "/data", "local"),
        MountSpec("minio", "s3://bkt/prefix", "s3", endpoint_url="http://127.0.0.1:9000", region_name="eu-west-1",
                  access_key="AKIAEXAMPLE", secret_key="very-secret-value"),
        MountSpec("aws", "s3://public/x", "s3", profile_name="work"),
    ]
    store.save(specs)
    text = open(tmp_path / "s.ini").read()
    assert "very-secret-value" not in text and "AKIAEXAMPLE" not in text
    loaded = store.load()
    assert [(s.name, s.uri, s.kind) for s in loaded] == [(s.name, s.uri, s.kind) for s in specs]
    assert loaded[1].endpoint_url == "http://127.0.0.1:9000" and loaded[1].region_name == "eu-west-1"
    assert loaded[1].secret_key == "" and loaded[1].missing_keys
    assert loaded[2].profile_name == "work" and not loaded[2].missing_keys
    assert [s.id for s in loaded] == [s.id for s in specs]
    store.save(loaded[:1])
    assert [s.name for s in store.load()] == ["data"]


def test_keyring_opt_in_without_keyring_keeps_keys_out_of_settings(store, tmp_path):
    from app.mounts import keyring_available

    spec = MountSpec("m", "s3://b", "s3", endpoint_url="http://x", access_key="KEYID", secret_key="SECRET",
                     use_keyring=True)
    store.save([spec])
    assert "SECRET" not in open(tmp_path / "s.ini").read()
    loaded = store.load()[0]
    assert loaded.use_keyring
    if not keyring_available():
        assert loaded.secret_key == "" and loaded.missing_keys


@pytest.mark.s3
def test_register_rewrites_custom_s3_mount_onto_its_scheme(s3_server, s3_bucket):
    import storecore

    opts = s3_server.options()
    spec = MountSpec("Lab MinIO", f"s3://{s3_bucket}/runs", "s3", endpoint_url=opts["endpoint_url"],
                     access_key=opts["aws_access_key_id"], secret_key=opts["aws_secret_access_key"])
    uri = register(spec)
    assert uri == f"lab-minio://{s3_bucket}/runs" and spec.scheme == "lab-minio"
    backend, loc = storecore.backend_for(f"lab-minio://{s3_bucket}/runs/x.txt")
    backend.write_bytes(loc.path, b"hi")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="runs/x.txt")["Body"].read() == b"hi"
    assert "secret" not in repr(spec).lower() or opts["aws_secret_access_key"] not in repr(spec)
    # plain AWS mounts need no scheme of their own
    assert register(MountSpec("aws", "s3://bkt", "s3")) == "s3://bkt"


@pytest.mark.s3
def test_mount_dialog_test_connection_ok_and_bad_keys(qtbot, s3_server, s3_bucket):
    from app.dialogs.mount_dialog import MountDialog

    opts = s3_server.options()
    dialog = MountDialog()
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentIndex(1)
    assert dialog.pages.currentIndex() == 1
    dialog.bucket.setText(s3_bucket)
    dialog.endpoint.setText(opts["endpoint_url"])
    dialog.use_keys.setChecked(True)
    dialog.access_key.setText(opts["aws_access_key_id"])
    dialog.secret_key.setText(opts["aws_secret_access_key"])
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30_000)
    assert dialog.test_result.text().startswith("Connected"), dialog.test_result.text()
    spec = dialog.spec()
    assert (spec.kind, spec.uri, spec.endpoint_url, spec.secret_key) == (
        "s3", f"s3://{s3_bucket}", opts["endpoint_url"], opts["aws_secret_access_key"])

    dialog.secret_key.setText("wrong")
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30_000)
    assert "denied" in dialog.test_result.text() or "credentials" in dialog.test_result.text()
    assert "wrong" not in dialog.test_result.text()


def test_mount_dialog_unreachable_endpoint_and_validation(qtbot):
    import socket

    from app.dialogs.mount_dialog import MountDialog

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dialog = MountDialog()
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentIndex(1)
    assert dialog.validate() == "Enter a bucket (optionally bucket/prefix)."
    dialog.bucket.setText("bkt/prefix")
    dialog.endpoint.setText(f"http://127.0.0.1:{port}")
    dialog.use_keys.setChecked(True)
    assert "both" in dialog.validate()
    dialog.access_key.setText("a")
    dialog.secret_key.setText("b")
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=60_000)
    assert "reach" in dialog.test_result.text() or "connect" in dialog.test_result.text().lower()


def test_mount_dialog_local_and_edit(qtbot, tmp_path):
    from app.dialogs.mount_dialog import MountDialog

    dialog = MountDialog()
    qtbot.addWidget(dialog)
    assert dialog.validate() == "Enter a path."
    dialog.kind.setCurrentIndex(3)
    dialog.path.setText(str(tmp_path / "run.h5"))
    spec = dialog.spec()
    assert (spec.kind, spec.uri, spec.name) == ("hdf5", str(tmp_path / "run.h5"), "run.h5")
    edit = MountDialog(spec=MountSpec("minio", "minio://bkt/x", "s3", endpoint_url="http://e", scheme="minio"))
    qtbot.addWidget(edit)
    assert edit.kind.currentData() == "s3" and edit.bucket.text() == "bkt/x" and edit.endpoint.text() == "http://e"


def test_mounts_subcommand_lists_saved_mounts(tmp_path, capsys):
    from app.main import main

    ini = str(tmp_path / "s.ini")
    MountStore(QSettings(ini, QSettings.Format.IniFormat)).save(
        [MountSpec("data", "/data", "local"), MountSpec("lab", "lab://bkt", "s3", endpoint_url="http://e:9000")])
    assert main(["mounts", "--settings", ini]) == 0
    out = capsys.readouterr().out
    assert "data" in out and "/data" in out and "lab://bkt" in out and "http://e:9000" in out
    assert main(["mounts", "--settings", ini, "--json"]) == 0
    assert [m["name"] for m in json.loads(capsys.readouterr().out)] == ["data", "lab"]
    assert main(["mounts", "--settings", str(tmp_path / "empty.ini")]) == 0
    assert "no saved mounts" in capsys.readouterr().out


def test_storecore_subcommands_are_dispatched(tmp_path, capsys):
    from app.main import main

    (tmp_path / "f.txt").write_text("hello")
    try:
        from storecore import cli
    except ImportError:
        pytest.skip("storecore.cli is not there yet")
    if "cat" not in getattr(cli, "COMMANDS", ()):
        pytest.skip("storecore.cli has no cat command")
    assert main(["cat", str(tmp_path / "f.txt")]) == 0
    assert "hello" in capsys.readouterr().out
    assert os.path.exists(tmp_path / "f.txt")
