"""Entry point of the ``storescope`` command.

``storescope [URI...]`` opens the window (on the demo data and the home folder
when nothing is mounted); ``storescope --screenshot FILE [URI...]`` saves a PNG
of the loaded window and exits; ``storescope mounts`` lists the saved mounts;
other subcommands (``ls``, ``info``, ``cp``...) are handed to ``storecore.cli``.
Heavy libraries are not imported here: the window must be on screen fast.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import re
import sys
import time

#: subcommands that belong to storecore's command line (used when it cannot be imported)
EXPECTED_CLI_COMMANDS = {"ls", "info", "cat", "cp", "mv", "rm", "find", "compare"}
SCREENSHOT_TIMEOUT_S = 60.0


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of the window command."""
    parser = argparse.ArgumentParser(
        prog="storescope",
        description="Browse local, S3, Zarr and HDF5 data. Subcommands: mounts, ls, info, cat, cp, mv, rm, find, "
        "compare (see 'storescope COMMAND --help').",
    )
    parser.add_argument("uris", nargs="*", help="locations to mount (paths, s3://bucket/prefix, file.h5, ...)")
    parser.add_argument("--select", metavar="URI", help="expand the tree down to URI and select it")
    parser.add_argument("--screenshot", metavar="FILE", help="save a PNG of the window once loaded, then exit")
    parser.add_argument("--quit-after-show", action="store_true", help="exit as soon as the window is shown")
    parser.add_argument("--settings", metavar="INI", help="use this settings file instead of the user's")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error", "critical"), default=None,
                        help="log at this level and above to the log file (and to stderr); default: warning, file only")
    return parser


def mounts_command(argv: list[str]) -> int:
    """``storescope mounts``: list the saved mounts (name, kind, URI) without starting the GUI."""
    parser = argparse.ArgumentParser(prog="storescope mounts", description="List the saved mounts.")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--settings", metavar="INI", help="use this settings file instead of the user's")
    args = parser.parse_args(argv)
    from .mounts import MountStore, open_settings

    specs = MountStore(open_settings(args.settings)).load()
    if args.json:
        print(json.dumps([{"name": s.name, "kind": s.kind, "uri": s.uri, "endpoint_url": s.endpoint_url,
                           "profile": s.profile_name} for s in specs], indent=2))
        return 0
    if not specs:
        print("no saved mounts")
        return 0
    width = max(len(s.name) for s in specs)
    for s in specs:
        extra = f"  ({s.endpoint_url})" if s.endpoint_url else ""
        print(f"{s.name:<{width}}  {s.kind:<5}  {s.uri}{extra}")
    return 0


def _cli_dispatch(argv: list[str]) -> int | None:
    """Run a storecore subcommand when ``argv[0]`` names one; ``None`` when it is not a subcommand."""
    word = argv[0]
    if not re.fullmatch(r"[a-z][a-z0-9-]*", word) or os.path.exists(word):
        return None
    try:
        from storecore import cli
    except ImportError:
        if word in EXPECTED_CLI_COMMANDS:
            print(f"storescope: the '{word}' command is not available in this installation", file=sys.stderr)
            return 2
        return None
    if word not in getattr(cli, "COMMANDS", ()):
        return None
    return int(cli.main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    """Run ``storescope``: a subcommand, or the window."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "mounts":
        return mounts_command(argv[1:])
    if argv:
        code = _cli_dispatch(argv)
        if code is not None:
            return code
    args = build_parser().parse_args(argv)
    from .logs import setup_logging

    path = setup_logging(args.log_level or "warning", stderr=args.log_level is not None)
    logging.getLogger(__name__).info("storescope starting (log file %s)", path)
    return run_window(args)


def configure_high_dpi() -> None:
    """Fractional scale factors as the screen asks (150 % stays 150 %, not 200 %); before the QApplication exists.

    The icons are SVG drawings (``resources/icons``) rendered by Qt's SVG icon engine at the size and
    device pixel ratio asked for, so they stay crisp at any factor.
    """
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)


def run_window(args: argparse.Namespace) -> int:
    """Show the window; honour ``--screenshot``/``--quit-after-show``; return the exit code."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from . import workers
    from .icons import app_icon
    from .mounts import open_settings
    from .qtcompat import protect_singletons
    from .window import MainWindow

    protect_singletons()
    configure_high_dpi()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "storescope"])
    app.setApplicationName("Storescope")
    app.setOrganizationName("storescope")
    app.setDesktopFileName("storescope")
    app.setWindowIcon(app_icon())
    shooting = bool(args.screenshot)
    if shooting and args.select is None and len(args.uris) == 1:
        # A screenshot of one file shows its preview (a NeXus file's default plot), not a bare tree.
        args.select = args.uris[0]
    window = MainWindow(open_settings(args.settings), persist=not shooting, lazy=True)
    window.show()

    if args.quit_after_show:
        window.first_shown.connect(lambda: app.exit(0))
    else:
        def start() -> None:
            window.finish_startup(args.uris, select=args.select, demo=True, restore=not (shooting and args.uris))
            # Start-up objects (modules, widgets) live as long as the app: keep full garbage
            # collections from walking them again and again (each walk holds the GIL).
            gc.freeze()

        window.first_shown.connect(start)
    if shooting:
        _arm_screenshot(app, window, args.screenshot, args.select, QTimer)
    try:
        return app.exec()
    finally:
        pool = workers.pool()
        workers.cancel_all()
        pool.clear()
        pool.waitForDone(3000)


def _arm_screenshot(app, window, path: str, select: str | None, QTimer) -> None:  # noqa: ANN001, N803
    """Save ``path`` once the tree (and the selected URI's preview) has loaded, then quit."""
    loaded: set[str] = set()
    target = None
    if select:
        import storecore

        try:
            target = str(storecore.Location.parse(select))
        except Exception as e:  # noqa: BLE001 - a bad --select just means "nothing to wait for"
            logging.getLogger(__name__).debug("--select %r not parsed: %s", select, e)
            target = None
    started = time.monotonic()
    state = {"stable": 0, "hooked": False}

    def poll() -> None:
        if window.preview is not None and not state["hooked"]:
            state["hooked"] = True
            window.preview.loaded.connect(loaded.add)
        selected = window.current_node()
        # Wait for the preview only when the selection really reached the target.
        ready = window.idle() and (target is None or target in loaded or selected is None or selected.uri != target)
        state["stable"] = state["stable"] + 1 if ready else 0
        timed_out = time.monotonic() - started > SCREENSHOT_TIMEOUT_S
        if state["stable"] >= 3 or timed_out:
            timer.stop()
            if timed_out:
                print("storescope: still loading after 60 s; saving the screenshot as it is", file=sys.stderr)
            ok = window.grab().save(path)
            if not ok:
                print(f"storescope: cannot write {path}", file=sys.stderr)
            app.exit(0 if ok else 1)

    timer = QTimer(window)
    timer.setInterval(100)
    timer.timeout.connect(poll)
    timer.start()


if __name__ == "__main__":
    sys.exit(main())
