"""Logging of swallowed errors: what was swallowed, never a secret.

``describe(exc)`` names an exception for a log line with URL query strings
(presigned signatures, tokens) and credential-looking values removed;
``suppress_logged(logger, what)`` is ``contextlib.suppress(Exception)`` that
leaves a debug line.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

_URL_QUERY = re.compile(r"(\w+://[^\s?'\"]*)\?[^\s'\"]*")
_SECRET = re.compile(r"(?i)(secret|token|password|signature|credential|access_key)([\w-]*)(['\"]?\s*[=:]\s*)['\"]?[^\s,'\"&]+")


def describe(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` with URL queries and credential-looking values removed, at most ``limit`` characters."""
    text = str(exc)
    text = _URL_QUERY.sub(r"\1?…", text)
    text = _SECRET.sub(r"\1\2\3…", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def suppress_logged(logger: logging.Logger, what: str, *exceptions: type[BaseException],
                    level: int = logging.DEBUG) -> Iterator[None]:
    """Swallow ``exceptions`` (default: ``Exception``) raised in the block, logging ``what`` failed and why."""
    caught = exceptions or (Exception,)
    try:
        yield
    except caught as e:  # noqa: BLE001 - the caller chose to go on; the log says why
        logger.log(level, "%s failed (ignored): %s", what, describe(e))


__all__ = ["describe", "suppress_logged"]
