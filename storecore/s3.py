"""S3 settings for :class:`~storecore.AutoStore` (``from storecore.s3 import S3Options``).

``S3Options`` carries the fields of autostore's class and maps them onto the
options of storecore's S3 backend; it is defined in :mod:`storecore.apis.options`.
"""

from __future__ import annotations

from .apis.options import S3Options

__all__ = ["S3Options"]
