"""Find things across mounts (names, sizes, array metadata, attributes) and compare two locations.

``find`` walks a local folder, bucket or memory store — and, when asked, the
Zarr stores and HDF5 files it meets, from their metadata alone — yielding
matches as they are found.  ``compare`` pairs the files of two locations on
any backends; ``sync_plan`` turns its result into copies.
"""

from __future__ import annotations

from .compare import CompareEntry, compare, delete_plan, file_md5, group_by_folder, same_content, sync_plan
from .criteria import Criteria, parse_attrs, parse_shape, parse_size, shape_matches
from .find import FindStats, Match, find
from .listing import ListingCache, clear_listing_cache, listing_cache
from .metadata import NodeMeta, ReadStats, container_type, hdf5_nodes

__all__ = [
    "CompareEntry",
    "Criteria",
    "FindStats",
    "ListingCache",
    "Match",
    "NodeMeta",
    "ReadStats",
    "clear_listing_cache",
    "compare",
    "container_type",
    "delete_plan",
    "file_md5",
    "find",
    "group_by_folder",
    "hdf5_nodes",
    "listing_cache",
    "parse_attrs",
    "parse_shape",
    "parse_size",
    "same_content",
    "shape_matches",
    "sync_plan",
]
