"""Files as real tools write them (Pillow/tifffile images, polars/pyarrow tables, spreadsheets' CSV), read with
the values the reference library gives, or refused with one line naming the file and the cause."""

from __future__ import annotations

import importlib.util
import io

import numpy as np
from PIL import Image

from storecore import backend_for
from storecore.formats import load


def put(root: str, name: str, data: bytes) -> str:
    """Write ``data`` as object ``name`` of the memory store ``root`` and return its URI."""
    uri = f"{root}/{name}"
    backend, loc = backend_for(uri)
    backend.write_bytes(loc.path, data)
    return uri


def test_a_signed_8bit_tiff_reads_as_int8_as_tifffile_gives_it(memory_root):
    values = (np.arange(20) - 10).astype(np.int8).reshape(4, 5)
    buf = io.BytesIO()
    Image.fromarray(values.view(np.uint8)).save(buf, format="TIFF", tiffinfo={339: 2})  # SampleFormat: signed
    got = load(put(memory_root, "signed.tif", buf.getvalue()))
    assert got.dtype == np.int8 and np.array_equal(got, values)  # Pillow alone gives uint8: -10 as 246
    if importlib.util.find_spec("tifffile"):
        import tifffile

        assert np.array_equal(tifffile.imread(io.BytesIO(buf.getvalue())), got)


def test_animation_frames_in_different_modes_stack_as_rgba(memory_root):
    frames = [Image.fromarray(np.full((8, 6), 40 * i, np.uint8)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])  # frame 0 'P', then 'RGB'
    got = load(put(memory_root, "anim.gif", buf.getvalue()))
    assert got.shape == (3, 8, 6, 4)
    assert [int(got[i, 0, 0, 0]) for i in range(3)] == [0, 40, 80] and (got[..., 3] == 255).all()


def test_tiff_pages_of_another_size_after_the_first_series_are_left_out(memory_root):
    pages = [Image.fromarray(np.full((10, 10), i, np.uint8)) for i in range(3)] + [Image.fromarray(np.ones((4, 7), np.uint8))]
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    got = load(put(memory_root, "mixed.tif", buf.getvalue()))
    assert got.shape == (3, 10, 10) and [int(got[i, 0, 0]) for i in range(3)] == [0, 1, 2]
