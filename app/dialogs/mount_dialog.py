"""The "Add mount" dialog: a local folder, an S3 bucket/prefix on any endpoint, a Zarr store or an HDF5 file."""

from __future__ import annotations

import configparser
import importlib
import os
import sys
import uuid

from PySide6.QtCore import QProcess, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .. import workers
from ..mounts import MountSpec, default_name, keyring_available

#: what "Install keyring" runs (in this Python, so the app can use it right after)
KEYRING_INSTALL = [sys.executable, "-m", "pip", "install", "keyring"]
KEYRING_HINT = ("Keys are kept for this session only: the keyring package is not installed. "
                "Install it to remember them: {command}")

KIND_LABELS = [("local", "Local folder"), ("s3", "S3 bucket or prefix"), ("zarr", "Zarr store"), ("hdf5", "HDF5 file")]


def aws_profiles() -> list[str]:
    """Profile names from ``~/.aws/credentials`` and ``~/.aws/config`` (no secrets are read out)."""
    names: list[str] = []
    for env, default, strip in (
        ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", ""),
        ("AWS_CONFIG_FILE", "~/.aws/config", "profile "),
    ):
        parser = configparser.ConfigParser()
        try:
            parser.read(os.path.expanduser(os.environ.get(env, default)))
        except configparser.Error:
            continue
        for section in parser.sections():
            name = section[len(strip):] if strip and section.startswith(strip) else section
            if name not in names:
                names.append(name)
    return names


def s3_uri_from(text: str) -> str:
    """``bucket/prefix`` or ``s3://bucket/prefix`` → ``s3://bucket/prefix``."""
    text = text.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    return "s3://" + text.strip("/")


def check_connection(spec: MountSpec) -> str:
    """List the first page of ``spec``'s S3 root through a throw-away scheme; return a summary (runs on a worker)."""
    import storecore
    from storecore.errors import StorecoreError

    scheme = f"storescope-test-{uuid.uuid4().hex[:8]}"
    body = s3_uri_from(spec.uri).split("://", 1)[1]
    # Fail fast: a connection test should not sit through the full retry budget.
    storecore.register_scheme(scheme, "s3", **spec.s3_options(), max_attempts=2, connect_timeout=5)
    try:
        backend, loc = storecore.backend_for(f"{scheme}://{body}")
        count = 0
        for page in backend.ls_pages(loc.path):
            count = len(page)
            break
        else:
            backend.stat(loc.path)  # empty listing: make sure the bucket/prefix exists
        return f"Connected: {count} entr{'y' if count == 1 else 'ies'} in the first page."
    except Exception as e:  # noqa: BLE001 - re-raised naming what the user typed, not the throw-away scheme
        where = f"s3://{body}" + (f" at {spec.endpoint_url}" if spec.endpoint_url else " on AWS")
        cause = workers.describe_error(e).replace(f"{scheme}://", "s3://").replace(scheme, "s3")
        raise StorecoreError(f"{where}: {cause}", path=where) from None
    finally:
        storecore.unregister_scheme(scheme)


class MountDialog(QDialog):
    """Collects a :class:`MountSpec`; ``spec()`` returns it after ``exec()`` accepted."""

    def __init__(self, parent: QWidget | None = None, spec: MountSpec | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit mount" if spec else "Add mount")
        self.setMinimumWidth(520)
        self._test = workers.LatestOnly(owner=self)
        self._edit_id = spec.id if spec else None

        self.kind = QComboBox()
        for key, label in KIND_LABELS:
            self.kind.addItem(label, key)
        self.name = QLineEdit()
        self.name.setPlaceholderText("shown in the tree (default: last part of the path)")

        local_page = self._local_page()
        s3_page = self._s3_page()
        self.pages = QStackedWidget()
        self.pages.addWidget(local_page)
        self.pages.addWidget(s3_page)

        form = QFormLayout()
        form.addRow("Kind", self.kind)
        form.addRow("Name", self.name)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #b02020")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.pages)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.use_keys.toggled.connect(self._creds_changed)
        if spec is not None:
            self.set_spec(spec)
        self._kind_changed()
        self._creds_changed()

    # -- construction ----------------------------------------------------------
    def _local_page(self) -> QWidget:
        """The page of local folders and containers: a path and a Browse button."""
        self.path = QLineEdit()
        self.path.setPlaceholderText("/path/to/folder, store.zarr or file.h5")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        local_page = QWidget()
        local_form = QFormLayout(local_page)
        local_form.addRow("Path", path_row)
        return local_page

    def _s3_page(self) -> QWidget:
        """The page of S3 mounts: bucket, endpoint, region, credentials and "Test connection"."""
        self.bucket = QLineEdit()
        self.bucket.setPlaceholderText("bucket or bucket/prefix")
        self.endpoint = QLineEdit()
        self.endpoint.setPlaceholderText("empty for AWS, e.g. http://127.0.0.1:9000 for MinIO")
        self.region = QLineEdit()
        self.region.setPlaceholderText("e.g. us-east-1 (optional)")
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel("")
        self.test_result.setWordWrap(True)
        s3_page = QWidget()
        s3_form = QFormLayout(s3_page)
        s3_form.addRow("Bucket/prefix", self.bucket)
        s3_form.addRow("Endpoint URL", self.endpoint)
        s3_form.addRow("Region", self.region)
        s3_form.addRow(self._credentials_box())
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        s3_form.addRow(test_row)
        return s3_page

    def _credentials_box(self) -> QGroupBox:
        """A profile or access keys (remembered in the keyring only when asked)."""
        self.use_profile = QRadioButton("AWS profile / default credentials")
        self.use_keys = QRadioButton("Access keys")
        self.use_profile.setChecked(True)
        self.profile = QComboBox()
        self.profile.setEditable(True)
        self.profile.addItem("")
        self.profile.addItems(aws_profiles())
        self.access_key = QLineEdit()
        self.secret_key = QLineEdit()
        self.secret_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember = QCheckBox("Remember the keys in the system keyring")
        self.keyring_hint = QLabel(KEYRING_HINT.format(command="pip install keyring"))
        self.keyring_hint.setWordWrap(True)
        self.keyring_hint.setTextInteractionFlags(self.keyring_hint.textInteractionFlags()
                                                  | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.install_keyring_button = QPushButton("Install keyring")
        self.install_keyring_button.setToolTip(" ".join(["python", *KEYRING_INSTALL[1:]]))
        self.install_keyring_button.clicked.connect(self.install_keyring)
        #: the command "Install keyring" runs (tests swap in a harmless one)
        self.install_command = list(KEYRING_INSTALL)
        self._install: QProcess | None = None
        self.keyring_ready = keyring_available()
        hint_row = QHBoxLayout()
        hint_row.addWidget(self.keyring_hint, 1)
        hint_row.addWidget(self.install_keyring_button)
        self._show_keyring_state()
        creds = QGroupBox("Credentials")
        cform = QFormLayout(creds)
        cform.addRow(self.use_profile)
        cform.addRow("Profile", self.profile)
        cform.addRow(self.use_keys)
        cform.addRow("Access key", self.access_key)
        cform.addRow("Secret key", self.secret_key)
        cform.addRow(self.remember)
        cform.addRow(hint_row)
        return creds

    # -- the optional keyring --------------------------------------------------------
    def _show_keyring_state(self) -> None:
        """Say why "Remember" is greyed (no keyring) and offer to install it; hide all that once it is there."""
        missing = not self.keyring_ready
        self.keyring_hint.setVisible(missing)
        self.install_keyring_button.setVisible(missing)
        if missing:
            self.remember.setToolTip(KEYRING_HINT.format(command="pip install keyring"))
        else:
            self.remember.setToolTip("Keep the keys in the system keyring (never in the settings file)")
        keys = getattr(self, "use_keys", None)
        self.remember.setEnabled(self.keyring_ready and (keys is None or keys.isChecked()))

    def install_keyring(self) -> QProcess:
        """Run ``python -m pip install keyring`` in a QProcess, then check again whether keyring imports."""
        self.install_keyring_button.setEnabled(False)
        self.keyring_hint.setText("Installing keyring…")
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.finished.connect(lambda code, _status: self._keyring_installed(process, code))
        process.errorOccurred.connect(lambda _err: self._keyring_installed(process, -1))
        self._install = process
        process.start(self.install_command[0], self.install_command[1:])
        return process

    def _keyring_installed(self, process: QProcess, code: int) -> None:
        if self._install is not process:
            return
        self._install = None
        output = bytes(process.readAll().data()).decode("utf-8", "replace").strip()
        importlib.invalidate_caches()
        self.keyring_ready = keyring_available()
        self.install_keyring_button.setEnabled(True)
        if self.keyring_ready:
            self.keyring_hint.setText("keyring is installed: the keys can be remembered.")
        else:
            last = output.splitlines()[-1] if output else (process.errorString() if code < 0 else f"exit code {code}")
            self.keyring_hint.setText(f"Installing keyring did not work ({last}). "
                                      + KEYRING_HINT.format(command="pip install keyring"))
        self._show_keyring_state()
        if self.keyring_ready:
            self.keyring_hint.show()

    # -- state -----------------------------------------------------------------
    def _kind_changed(self) -> None:
        self.pages.setCurrentIndex(1 if self.kind.currentData() == "s3" else 0)

    def _creds_changed(self) -> None:
        keys = self.use_keys.isChecked()
        self.profile.setEnabled(not keys)
        for w in (self.access_key, self.secret_key):
            w.setEnabled(keys)
        self.remember.setEnabled(keys and self.keyring_ready)

    def _browse(self) -> None:
        kind = self.kind.currentData()
        if kind == "hdf5":
            path, _ = QFileDialog.getOpenFileName(self, "HDF5 file", "", "HDF5 (*.h5 *.hdf5 *.nc *.he5);;All files (*)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Zarr store" if kind == "zarr" else "Folder")
        if path:
            self.path.setText(path)

    def set_spec(self, spec: MountSpec) -> None:
        """Fill the fields from ``spec`` (editing a mount)."""
        self.kind.setCurrentIndex(max(0, [k for k, _ in KIND_LABELS].index(spec.kind) if spec.kind in dict(KIND_LABELS) else 0))
        self.name.setText(spec.name)
        if spec.kind == "s3":
            self.bucket.setText(spec.uri.split("://", 1)[-1])
            self.endpoint.setText(spec.endpoint_url)
            self.region.setText(spec.region_name)
            self.profile.setCurrentText(spec.profile_name)
            if spec.access_key or getattr(spec, "missing_keys", False):
                self.use_keys.setChecked(True)
            self.access_key.setText(spec.access_key)
            self.secret_key.setText(spec.secret_key)
            self.remember.setChecked(spec.use_keyring)
        else:
            self.path.setText(spec.uri)

    def spec(self) -> MountSpec:
        """The mount described by the fields (no validation beyond shape)."""
        kind = self.kind.currentData()
        if kind == "s3":
            uri = s3_uri_from(self.bucket.text())
            keys = self.use_keys.isChecked()
            spec = MountSpec(
                name=self.name.text().strip() or default_name(uri),
                uri=uri,
                kind="s3",
                endpoint_url=self.endpoint.text().strip(),
                region_name=self.region.text().strip(),
                profile_name="" if keys else self.profile.currentText().strip(),
                access_key=self.access_key.text().strip() if keys else "",
                secret_key=self.secret_key.text() if keys else "",
                # a ticked box without a keyring (an edited mount) must not opt in: nothing would keep the secret
                use_keyring=keys and self.remember.isChecked() and keyring_available(),
            )
        else:
            path = os.path.abspath(os.path.expanduser(self.path.text().strip())) if self.path.text().strip() else ""
            spec = MountSpec(name=self.name.text().strip() or default_name(path), uri=path, kind=kind)
        if self._edit_id:
            spec.id = self._edit_id
        return spec

    def validate(self) -> str:
        """An error message for incomplete input, or ``""``."""
        if self.kind.currentData() == "s3":
            if not self.bucket.text().strip().strip("/").split("://")[-1]:
                return "Enter a bucket (optionally bucket/prefix)."
            if self.use_keys.isChecked() and not (self.access_key.text().strip() and self.secret_key.text()):
                return "Enter both the access key and the secret key."
            return ""
        if not self.path.text().strip():
            return "Enter a path."
        return ""

    def _accept(self) -> None:
        message = self.validate()
        if message:
            self.error.setText(message)
            return
        self.accept()

    # -- test connection -----------------------------------------------------------
    def test_connection(self) -> workers.Task | None:
        """Check the S3 settings on a worker; the result shows next to the button."""
        message = self.validate()
        if message:
            self.test_result.setText(message)
            return None
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText("Connecting…")
        return self._test.submit(check_connection, self.spec(), on_done=self._tested_ok, on_error=self._tested_bad)

    def _tested_ok(self, text: str) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setStyleSheet("color: #1e7e34")
        self.test_result.setText(text)

    def _tested_bad(self, message: str, _exc: BaseException) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setStyleSheet("color: #b02020")
        self.test_result.setText(message)

    def done(self, result: int) -> None:
        self._test.cancel()
        if self._install is not None and self._install.state() != QProcess.ProcessState.NotRunning:
            self._install.kill()
            self._install.waitForFinished(3000)
        super().done(result)
