"""Logging of the app: module loggers (``logging.getLogger(__name__)``) go to a rotating file.

:func:`setup_logging` is called once by ``storescope`` (``--log-level``): the file
is ``storescope.log`` in ``platformdirs.user_log_dir("storescope")``, rotated at
1 MiB with 3 old files kept.  Its formatter masks what looks like a secret (keys,
passwords, tokens, signed-URL signatures) in every record, as a last line of
defence: the app never logs mount keys on purpose.
"""

from __future__ import annotations

import logging
import os
import re
from logging.handlers import RotatingFileHandler

LOG_FILE = "storescope.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 3
LEVELS = ("debug", "info", "warning", "error", "critical")
FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"

_SECRET = re.compile(
    r"(?i)((?:aws_)?(?:secret(?:_access)?_key|access_key(?:_id)?|session_token|password|passwd|token|signature"
    r"|x-amz-signature|x-amz-credential|x-amz-security-token)[\"']?\s*[=:]\s*[\"']?)([^\s\"'&,;]+)"
)


def redact(text: str) -> str:
    """``text`` with the values of ``secret_key=…``-like pairs replaced by ``***``."""
    return _SECRET.sub(r"\1***", text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks secret-looking values in the whole text (message, arguments, traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def log_dir() -> str:
    """The folder of the log file (the user's log dir for storescope)."""
    import platformdirs

    return platformdirs.user_log_dir("storescope")


def setup_logging(level: str = "warning", directory: str | None = None, *, stderr: bool = False) -> str | None:
    """Send the app's and storecore's records at ``level`` and above to the rotating log file; return its path.

    ``stderr=True`` also prints them (``--log-level`` given on the command line).
    The file is skipped (None returned) when its folder cannot be created.
    """
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper()))
    for handler in list(root.handlers):
        if getattr(handler, "_storescope", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = []
    path: str | None = os.path.join(directory or log_dir(), LOG_FILE)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handlers.append(RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"))
    except OSError as e:
        path = None
        stderr = True
        logging.getLogger(__name__).warning("no log file: %s", e)
    if stderr:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler._storescope = True  # type: ignore[attr-defined]
        handler.setFormatter(RedactingFormatter(FORMAT))
        root.addHandler(handler)
    # chatty third-party loggers (every HTTP request, every PNG chunk) stay at warning
    for name in ("botocore", "boto3", "urllib3", "s3transfer", "PIL"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return path
