"""S3 settings for :class:`~storecore.AutoStore` (``from storecore.s3 import S3Options``).

``S3Options`` carries the fields of autostore's class and maps them onto the
options of storecore's S3 backend.  Credentials are kept out of ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .apis.autostore import Options


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
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunksize: int = 16 * 1024 * 1024
    max_concurrency: int = 10

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


__all__ = ["S3Options"]
