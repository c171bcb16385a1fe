"""The settings of :class:`~storecore.AutoStore`: :class:`Options` and, for S3, :class:`S3Options`.

They sit here, below both ``storecore.apis.autostore`` and ``storecore.s3``
(which re-export them), so neither imports the other.  Credentials are kept
out of ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..tuning import tuning_for

_TUNING = tuning_for("s3")


@dataclass
class Options:
    """Settings shared by every backend.

    ``cache_enabled`` keeps copies of remote objects in ``cache_dir`` (default:
    the per-user cache folder), refetched after ``cache_expiry_hours`` (0 =
    never expire) and always validated by ETag.  ``timeout`` (seconds) and
    ``max_retries`` tune the remote connections; ``retry_delay`` is accepted
    for compatibility (boto3 backs off by itself).  ``scheme`` names the URI
    scheme the options apply to (``None``: the store's own).
    """

    cache_enabled: bool = False
    cache_dir: str | None = None
    cache_expiry_hours: float = 24
    timeout: int = 30
    max_retries: int = 3
    retry_delay: float = 1.0
    scheme: str | None = None

    def backend_options(self) -> dict[str, Any]:
        """The storecore backend options these settings map onto."""
        return {}



@dataclass
class S3Options(Options):
    """Options for an S3-compatible service reached through ``scheme://bucket/key`` URIs.

    ``scheme`` names the URI scheme they apply to (``"s3"``, ``"minio"``...);
    an unknown scheme is registered as S3-compatible when a store uses it.
    Without keys or ``profile_name`` the usual AWS chain (environment,
    ``~/.aws``, instance role) applies.
    """

    scheme: str | None = "s3"
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    profile_name: str | None = None
    region_name: str | None = None
    endpoint_url: str | None = None
    multipart_threshold: int = _TUNING.store_multipart_threshold
    multipart_chunksize: int = _TUNING.store_multipart_chunksize
    max_concurrency: int = _TUNING.store_max_concurrency

    def backend_options(self) -> dict[str, Any]:
        """The storecore S3 backend options (boto3 names plus transfer tuning)."""
        out: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("endpoint_url", "region_name", "profile_name", "aws_access_key_id",
                         "aws_secret_access_key", "aws_session_token")
            if getattr(self, name)
        }
        out.update(
            multipart_threshold=int(self.multipart_threshold),
            multipart_chunksize=int(self.multipart_chunksize),
            max_concurrency=int(self.max_concurrency),
            max_attempts=max(1, int(self.max_retries) + 1),
            connect_timeout=self.timeout,
            read_timeout=max(self.timeout, 60),
        )
        return out


__all__ = ["Options", "S3Options"]
