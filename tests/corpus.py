"""Where the shared corpus of real files is: ``STORESCOPE_CORPUS``, else ``shared/corpus`` beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: the corpus folder (its ``hdf5`` folder holds files written by beamlines and the NeXus tools)
CORPUS_ROOT = Path(os.environ.get("STORESCOPE_CORPUS") or REPO.parent / "shared" / "corpus")
HDF5_CORPUS = CORPUS_ROOT / "hdf5"
