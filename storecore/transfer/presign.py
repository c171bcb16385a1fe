"""Presigned S3 URLs for path-style endpoints, signed the way botocore's SigV4 query signer does it.

``client.generate_presigned_url`` runs botocore's whole request pipeline
(parameter validation, endpoint rules, event hooks) for every URL: about
0.2 ms of CPU, the largest single cost of moving a small object.  The
signature itself is a few HMACs.  :class:`Presigner` computes exactly what
botocore would (the tests compare both URLs byte for byte and send them to a
real server) for the one request shape the transfer engine needs: a GET or
PUT of ``/bucket/key`` with a few signed ``x-amz-*`` headers.  Credentials
come from a botocore credentials object on every call, so refreshing ones
(profiles with roles, instance metadata) keep working.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import threading
import time
import urllib.parse
from typing import Any

_ALGORITHM = "AWS4-HMAC-SHA256"


def _quote(text: str, safe: str) -> str:
    return urllib.parse.quote(text.encode("utf-8"), safe=safe)


#: path text that quoting leaves as it is (unreserved characters and ``/``): most keys, quoted for free
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~/-]*\Z")


def _path(text: str) -> str:
    return text if _PLAIN_PATH.match(text) else _quote(text, "/~")


class Presigner:
    """Signs ``/bucket/key`` URLs on one path-style endpoint with SigV4 query parameters."""

    def __init__(self, endpoint: str, region: str, credentials: Any) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.prefix = parts.path.rstrip("/")
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        # the Host header as the server sees it: the port only when it is not the scheme's own
        hostname = parts.hostname or ""
        self.host = hostname if parts.port in (None, default_port) else f"{hostname}:{parts.port}"
        self.region = region
        self.credentials = credentials
        self._keys: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()
        self._queries: dict[tuple, str] = {}
        self._clock = (-1, "")  # (second, its X-Amz-Date): one tuple, replaced whole, so threads share it safely

    def _signing_key(self, secret: str, day: str) -> bytes:
        with self._lock:
            key = self._keys.get((secret, day))
        if key is None:
            key = ("AWS4" + secret).encode("utf-8")
            for part in (day, self.region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
            with self._lock:
                self._keys = {(secret, day): key}  # one day at a time is all that is ever needed
        return key

    def _query(self, creds: Any, stamp: str, scope: str, names: str, expires: int) -> str:
        """The sorted ``X-Amz-*`` query (without the signature): the same for every URL signed in one second."""
        cache_key = (stamp, creds.access_key, creds.token, names, expires)
        cached = self._queries.get(cache_key)
        if cached is None:
            params = {
                "X-Amz-Algorithm": _ALGORITHM,
                "X-Amz-Credential": f"{creds.access_key}/{scope}",
                "X-Amz-Date": stamp,
                "X-Amz-Expires": str(int(expires)),
                "X-Amz-SignedHeaders": names,
            }
            if creds.token:
                params["X-Amz-Security-Token"] = creds.token
            cached = "&".join(f"{_quote(k, '-_.~')}={_quote(v, '-_.~')}" for k, v in sorted(params.items()))
            if len(self._queries) > 64:
                self._queries = {}
            self._queries[cache_key] = cached
        return cached

    def url(self, method: str, bucket: str, key: str, headers: dict[str, str] | None = None, *,
            expires: int = 900, now: datetime.datetime | None = None, params: dict[str, str] | None = None) -> str:
        """A presigned URL for ``method`` on ``bucket``/``key``; ``headers`` (lower-case ``x-amz-*`` names)
        are signed, so the request must send them; ``params`` are more query parameters (a listing's)."""
        creds = self.credentials.get_frozen_credentials()
        if now is None:
            second = int(time.time())
            clock = self._clock
            if clock[0] != second:
                clock = self._clock = (second, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second)))
            stamp = clock[1]
        else:
            stamp = now.strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        scope = f"{day}/{self.region}/s3/aws4_request"
        if headers:
            signed = {"host": self.host, **{k.lower(): " ".join(str(v).split()) for k, v in headers.items()}}
            names = ";".join(sorted(signed))
            canonical_headers = "".join(f"{k}:{signed[k]}\n" for k in sorted(signed))
        else:
            names, canonical_headers = "host", f"host:{self.host}\n"
        query = self._query(creds, stamp, scope, names, expires)
        if params:
            pairs = [tuple(q.split("=", 1)) for q in query.split("&")]
            pairs += [(_quote(k, "-_.~"), _quote(v, "-_.~")) for k, v in params.items()]
            query = "&".join(f"{k}={v}" for k, v in sorted(pairs))
        quoted = f"{_path(bucket)}/{_path(key)}"
        canonical = "\n".join([
            method, f"{self.prefix}/{quoted}", query, canonical_headers, names, "UNSIGNED-PAYLOAD",
        ])
        to_sign = "\n".join([_ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
        # hmac.new, not hmac.digest: the one-shot form lets go of the GIL for every message, and a GIL handoff
        # costs more than the HMAC of these few hundred bytes once a dozen workers wait for it
        signature = hmac.new(self._signing_key(creds.secret_key, day), to_sign.encode("utf-8"),
                             hashlib.sha256).hexdigest()
        return f"{self.base}/{quoted}?{query}&X-Amz-Signature={signature}"


__all__ = ["Presigner"]
