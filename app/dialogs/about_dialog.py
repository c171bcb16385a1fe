"""The About dialog: what Storescope is and the versions of everything it runs on."""

from __future__ import annotations

import platform
from importlib import metadata

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

PACKAGES = ("storescope", "PySide6-Essentials", "pyqtgraph", "numpy", "zarr", "h5py", "polars", "boto3", "platformdirs")


def versions() -> dict[str, str]:
    """Installed versions (from package metadata, so nothing heavy is imported)."""
    out = {"Python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name == "PySide6-Essentials":
                try:
                    out[name] = metadata.version("PySide6")
                    continue
                except metadata.PackageNotFoundError:
                    pass
            out[name] = "not installed"
    from PySide6.QtCore import qVersion

    out["Qt"] = qVersion()
    return out


class AboutDialog(QDialog):
    """Shows the application name, a one-line description and a versions table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Storescope")
        rows = "".join(f"<tr><td>{k}</td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in versions().items())
        text = QLabel(
            "<h2>Storescope</h2>"
            "<p>A desktop browser for local folders, S3-compatible buckets, Zarr stores and HDF5 files.</p>"
            f"<table>{rows}</table>"
        )
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = text
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)
