"""Session fixtures: a real S3-compatible server on 127.0.0.1, isolated app state, backends."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The session gets its own user data, cache and config folders (platformdirs and QSettings follow the
# XDG variables), so no test writes the transfer history, the remote cache or settings of whoever runs it.
_USER_DIRS = tempfile.mkdtemp(prefix="storescope-test-user-")
atexit.register(shutil.rmtree, _USER_DIRS, ignore_errors=True)
for _var, _sub in (("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache"), ("XDG_CONFIG_HOME", "config")):
    os.environ[_var] = os.path.join(_USER_DIRS, _sub)


def pytest_configure(config):
    """Guard against PySide6's singleton reference leaks before any Qt test runs (see app.qtcompat)."""
    from app.qtcompat import protect_singletons

    protect_singletons()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A SeaweedFS server started once per session (or the external endpoint from the environment)."""
    from storecore.testing.s3server import S3Server

    server = S3Server(str(tmp_path_factory.mktemp("seaweedfs")))
    try:
        server.start()
    except Exception as e:  # fail loudly: the S3 tests must never be skipped silently
        pytest.fail(f"could not start the test S3 server: {e}", pytrace=False)
    yield server
    server.close()


@pytest.fixture(scope="session")
def s3_scheme(s3_server):
    """A registered scheme name (``tests3``) that reaches the test server."""
    import storecore

    storecore.register_scheme("tests3", "s3", **s3_server.options())
    return "tests3"


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh bucket for one test."""
    return s3_server.new_bucket()


@pytest.fixture
def s3_root(s3_scheme, s3_bucket):
    """URI of an empty bucket on the test server, e.g. ``tests3://t-1a2b3c``."""
    return f"{s3_scheme}://{s3_bucket}"


@pytest.fixture
def memory_root():
    """URI of a fresh, empty process-wide memory store."""
    from storecore.backends.memory import InMemoryBackend

    name = f"m{uuid.uuid4().hex[:10]}"
    yield f"memory://{name}"
    InMemoryBackend.drop(name)


@pytest.fixture
def local_root(tmp_path):
    """A fresh local folder (as a path string)."""
    root = tmp_path / "root"
    root.mkdir()
    return str(root)


@pytest.fixture(params=["local", "memory", "s3"])
def any_root(request):
    """Each backend in turn: the URI of an empty folder/bucket/store."""
    if request.param == "local":
        return request.getfixturevalue("local_root")
    if request.param == "memory":
        return request.getfixturevalue("memory_root")
    return request.getfixturevalue("s3_root")


@pytest.fixture
def settings_path(tmp_path):
    """An isolated settings file."""
    return str(tmp_path / "settings.ini")


@pytest.fixture
def window(qtbot, settings_path):
    """A shown main window with an isolated settings file, no saved mounts and no demo data."""
    from window_helpers import close_window, make_window

    w = make_window(qtbot, settings_path)
    yield w
    close_window(qtbot, w)


@pytest.fixture
def pane(qtbot):
    """A shown preview pane."""
    from window_helpers import shown

    from app.viewers.pane import PreviewPane

    return shown(qtbot, PreviewPane(), 900, 650)
