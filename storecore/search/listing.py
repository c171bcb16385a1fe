"""A small in-process cache of recursive object-store listings, reused while fresh.

Listing a large bucket is the slow part of a search; a second search over
the same prefix within ``ttl`` seconds replays the recorded pages instead of
asking the server again.  Only complete listings are stored (a cancelled
walk records nothing), only S3 listings are kept (local folders and memory
stores are cheap to list and change under our feet), and a listing of
``a/`` also serves ``a/b/``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..backends.base import Backend, Entry

DEFAULT_TTL = 30.0
MAX_LISTINGS = 16
#: keys in the first and the following pages of an S3 listing
FIRST_PAGE = 100
PAGE = 1000


@dataclass
class _Listing:
    backend: Backend
    created: float
    pages: list[list[Entry]]


class ListingCache:
    """Recursive listings keyed by backend and prefix, valid for ``ttl`` seconds."""

    def __init__(self, ttl: float = DEFAULT_TTL, max_listings: int = MAX_LISTINGS) -> None:
        self.ttl = ttl
        self.max_listings = max_listings
        self._data: OrderedDict[tuple[str, str, str], _Listing] = OrderedDict()
        self._lock = threading.Lock()
        #: how many listings were served from the cache (for tests and benchmarks)
        self.hits = 0

    @staticmethod
    def cacheable(backend: Backend) -> bool:
        """True for backends whose listings are worth keeping: remote ones (local and memory listings are cheap)."""
        return backend.is_remote

    def _lookup(self, backend: Backend, key: str) -> list[list[Entry]] | None:
        now = time.monotonic()
        with self._lock:
            for (scheme, bucket, prefix), listing in list(self._data.items()):
                if now - listing.created > self.ttl:
                    del self._data[(scheme, bucket, prefix)]
                    continue
                if listing.backend is not backend:
                    continue
                if prefix == key:
                    self._data.move_to_end((scheme, bucket, prefix))
                    return listing.pages
                if prefix == "" or key.startswith(prefix + "/"):
                    base = key + "/"
                    return [[e for e in page if e.path.startswith(base)] for page in listing.pages]
        return None

    def pages(
        self,
        backend: Backend,
        prefix: str,
        *,
        use_cache: bool = True,
        cancel: Callable[[], bool] | None = None,
    ) -> Iterator[list[Entry]]:
        """Yield the pages of ``backend.ls_pages(prefix, recursive=True)``, from the cache when fresh."""
        key = backend.key(prefix)
        if use_cache and self.cacheable(backend):
            cached = self._lookup(backend, key)
            if cached is not None:
                with self._lock:
                    self.hits += 1
                for page in cached:
                    if page:
                        yield page
                return
        recorded: list[list[Entry]] = []
        for page in _ramped_pages(backend, prefix):
            recorded.append(page)
            yield page
            if cancel is not None and cancel():
                return
        if self.cacheable(backend):
            with self._lock:
                self._data[(backend.scheme, backend.bucket, key)] = _Listing(backend, time.monotonic(), recorded)
                while len(self._data) > self.max_listings:
                    self._data.popitem(last=False)

    def clear(self, backend: Backend | None = None) -> None:
        """Forget every listing (or those of one backend)."""
        with self._lock:
            if backend is None:
                self._data.clear()
            else:
                for k in [k for k, v in self._data.items() if v.backend is backend]:
                    del self._data[k]


def _ramped_pages(backend: Backend, prefix: str) -> Iterator[list[Entry]]:
    """A recursive listing whose first page is small on object stores, so the first matches come sooner.

    Some S3 servers take time in proportion to the keys a page returns
    (SeaweedFS: about 0.5 ms a key), so 100 keys first, then 1,000 a page
    (:meth:`Backend.ls_pages_ramped`).  Other backends list as they always do.
    """
    return backend.ls_pages_ramped(prefix, FIRST_PAGE, PAGE)


#: the process-wide listing cache used by :func:`storecore.find`
listing_cache = ListingCache()


def clear_listing_cache() -> None:
    """Drop every cached listing (e.g. after writing to a bucket from outside storecore)."""
    listing_cache.clear()
