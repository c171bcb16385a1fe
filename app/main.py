"""Entry point of the ``storescope`` command."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of the window command."""
    parser = argparse.ArgumentParser(prog="storescope", description="Browse local, S3, Zarr and HDF5 data.")
    parser.add_argument("uris", nargs="*", help="locations to mount (paths, s3://bucket/prefix, ...)")
    parser.add_argument("--screenshot", metavar="FILE", help="save a PNG of the window once loaded, then exit")
    parser.add_argument("--quit-after-show", action="store_true", help="exit as soon as the window is shown")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the window (placeholder until the GUI lands)."""
    args = build_parser().parse_args(argv)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    label = QLabel("Storescope")
    label.resize(640, 400)
    label.show()
    if args.screenshot:
        QTimer.singleShot(0, lambda: (label.grab().save(args.screenshot), app.quit()))
    elif args.quit_after_show:
        QTimer.singleShot(0, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
