"""Logging: module loggers reach a rotating log file (never with secrets), from a real window and from ``storescope``."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from logging.handlers import RotatingFileHandler

import pytest

from app.logs import LOG_FILE, setup_logging
from app.mounts import MountSpec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def log_file(tmp_path):
    """Logging set up at debug into ``tmp_path/logs``; the root logger is put back afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    path = setup_logging("debug", str(tmp_path / "logs"))
    yield path
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def read(path: str) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_the_log_file_rotates_at_one_mib_keeping_three_and_masks_secrets(log_file):
    assert os.path.basename(log_file) == LOG_FILE
    [handler] = [h for h in logging.getLogger().handlers if isinstance(h, RotatingFileHandler)]
    assert handler.maxBytes == 1024 * 1024 and handler.backupCount == 3
    log = logging.getLogger("app.test")
    log.warning("mount failed: aws_secret_access_key=%s password: %s", "wJalrXUtnFEMI", "hunter2")
    log.debug("signed https://b.s3/x?X-Amz-Signature=abcdef0123&X-Amz-Credential=AKIAXYZ")
    try:
        raise RuntimeError("token=s3cr3t-token")
    except RuntimeError:
        log.exception("failed")
    text = read(log_file)
    assert "mount failed" in text and "signed https://b.s3/x" in text and "RuntimeError" in text
    for secret in ("wJalrXUtnFEMI", "hunter2", "abcdef0123", "AKIAXYZ", "s3cr3t-token"):
        assert secret not in text


def test_a_real_window_logs_what_it_swallows_without_secrets(qtbot, window, log_file, local_root, monkeypatch):
    from app.viewers.text_viewer import TextViewer

    with open(os.path.join(local_root, "a.txt"), "w") as f:
        f.write("hello")

    def broken(self, payload):
        raise RuntimeError("viewer bug (secret_key=very-secret)")

    monkeypatch.setattr(TextViewer, "display", broken)
    window.add_mount(MountSpec("data", local_root, "local"))
    target = os.path.join(local_root, "a.txt")
    with qtbot.waitSignal(window.preview.loaded, timeout=15_000, check_params_cb=lambda u: u == target):
        window.reveal(target)
    assert "viewer bug" in window.statusBar().currentMessage()  # shown to the user, as before
    # a mount whose registration fails becomes a status message and a warning in the log
    spec = MountSpec("lab", "s3://bkt", "s3", endpoint_url="http://e:9000", access_key="AKIA", secret_key="sk-123")
    monkeypatch.setattr("app.controllers.session.register", lambda s: (_ for _ in ()).throw(ValueError("no scheme")))
    window.add_mount(spec)
    text = read(log_file)
    assert "TextViewer could not display" in text and "viewer bug" in text and "Traceback" in text
    assert "cannot mount lab" in text and "no scheme" in text
    assert "very-secret" not in text and "sk-123" not in text


def test_storescope_log_level_debug_writes_the_log_file(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_STATE_HOME=str(tmp_path / "state"),
               STORESCOPE_DATA_DIR=str(tmp_path / "data"))  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "app.main", "--log-level", "debug", "--quit-after-show",
         "--settings", str(tmp_path / "settings.ini")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    path = tmp_path / "state" / "storescope" / "log" / LOG_FILE
    assert path.exists(), result.stderr[-2000:]
    text = path.read_text()
    assert "DEBUG" in text or "INFO" in text
    assert "storescope starting" in text
    assert "storescope starting" in result.stderr  # --log-level also prints to stderr
