"""Image handlers (Pillow): ``.png``, ``.jpg``, ``.tif`` and friends, read as numpy arrays."""

from __future__ import annotations

import io
from typing import IO, Any

from ..errors import FormatError
from .registry import Handler

_PIL_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
               ".bmp": "BMP", ".gif": "GIF", ".webp": "WEBP"}


#: TIFF SampleFormat (tag 339) values and the numpy kind each stands for
_SAMPLE_KINDS = {1: "u", 2: "i", 3: "f"}


def _tag(im: Any, number: int, default: Any = None) -> Any:
    """A TIFF tag's value (the first one when it is given per sample), ``default`` when absent."""
    value = getattr(im, "tag_v2", {}).get(number, default)
    return value[0] if isinstance(value, tuple) and value else value


def tiff_dtype(im: Any) -> Any:
    """The numpy dtype a one-sample-per-pixel TIFF page stores (SampleFormat and BitsPerSample), else None.

    Pillow has no signed 8-bit or unsigned 32-bit mode: it decodes int8 pages as ``L`` (uint8) and uint32 pages
    as ``I`` (int32), the same bits under another type, and int16 pages widened to int32; this is what
    tifffile (the reference reader) gives instead.
    """
    import numpy as np

    if getattr(im, "format", None) != "TIFF" or _tag(im, 277, 1) != 1:
        return None
    kind, bits = _SAMPLE_KINDS.get(_tag(im, 339, 1)), _tag(im, 258, 1)
    if kind is None or bits not in (8, 16, 32, 64) or (kind == "f" and bits < 32):
        return None
    return np.dtype(f"{kind}{bits // 8}")


def pil_array(im: Any) -> Any:
    """The current frame of Pillow image ``im`` as numpy values, with a TIFF page's own dtype (:func:`tiff_dtype`)."""
    import numpy as np

    arr = np.asarray(im)
    want = tiff_dtype(im)
    if want is None or arr.dtype == want:
        return arr
    arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)
    if arr.dtype.itemsize == want.itemsize:
        return arr.view(want)  # the same bits, read as the type the file declares
    return arr.astype(want)  # widened by Pillow: every value fits the stored type


def _read_image(f: IO[bytes], **_kw: Any) -> Any:
    """An ``(H, W)`` or ``(H, W, C)`` array; a multi-page TIFF gives ``(pages, H, W[, C])``.

    A TIFF's pages are stacked while they have the first page's shape and type (what tifffile calls its first
    series: a thumbnail or a page of another size after them is left out); the frames of an animation (GIF,
    APNG, WebP), which Pillow may give in different modes (a palette first frame, RGB ones after), are all
    converted to RGBA when they differ.
    """
    return read_image(f.read())


#: the first bytes of a TIFF (little- or big-endian; classic or BigTIFF)
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _unreadable_tiff(data: bytes) -> Any:
    """A TIFF Pillow cannot decode (float64 or float16 samples, 64-bit integers, a compression it lacks) read by
    tifffile when it is installed (its first series, as tifffile.imread gives it), else a :class:`FormatError`
    that names the package."""
    import importlib.util

    if importlib.util.find_spec("tifffile") is None:
        raise FormatError("a TIFF Pillow cannot decode (float64/float16 or 64-bit integer samples, or a compression "
                          "it lacks): tifffile reads it: pip install tifffile")
    import tifffile

    return tifffile.imread(io.BytesIO(data))


def read_image(data: bytes) -> Any:
    """The image in ``data`` as numpy values (see :func:`_read_image`); :class:`FormatError` when it is none."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            frames = getattr(im, "n_frames", 1)
            first = pil_array(im)
            if frames == 1:
                return first
            pages = [first]
            for i in range(1, frames):
                im.seek(i)
                pages.append(pil_array(im))
            if all(p.shape == first.shape and p.dtype == first.dtype for p in pages):
                return np.stack(pages)
            if im.format == "TIFF":
                series = next((i for i, p in enumerate(pages) if p.shape != first.shape or p.dtype != first.dtype))
                return np.stack(pages[:series]) if series > 1 else first
            rgba = []
            for i in range(frames):
                im.seek(i)
                rgba.append(np.asarray(im.convert("RGBA")))
            return np.stack(rgba)
    except UnidentifiedImageError as e:
        if data[:4] in TIFF_MAGIC:
            return _unreadable_tiff(data)
        raise FormatError("not an image Pillow can read") from e


def _write_image(obj: Any, f: IO[bytes], *, extension: str = ".png", **kw: Any) -> None:
    import numpy as np
    from PIL import Image

    kw.pop("allow_pickle", None)
    fmt = kw.pop("image_format", None) or _PIL_FORMAT.get(extension.lower(), "PNG")
    if isinstance(obj, Image.Image):
        obj.save(f, format=fmt, **kw)
        return
    arr = np.asarray(obj)
    if fmt == "TIFF" and arr.ndim == 3 and arr.shape[-1] not in (3, 4):
        # A stack of pages: save them as a multi-page TIFF.
        pages = [Image.fromarray(p) for p in arr]
        pages[0].save(f, format="TIFF", save_all=True, append_images=pages[1:], **kw)
        return
    if arr.ndim not in (2, 3):
        raise FormatError(f"an image needs a 2-D or 3-D array, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    try:
        Image.fromarray(arr).save(f, format=fmt, **kw)
    except (TypeError, ValueError, OSError) as e:
        raise FormatError(f"cannot write a {arr.dtype} array of shape {arr.shape} as {fmt}: {e}") from e


class ImageHandler(Handler):
    """Pillow images; the extension decides the encoding."""

    wants_extension = True

    def read(self, fileobj: IO[bytes], **kw: Any) -> Any:
        kw.pop("extension", None)
        return _read_image(fileobj, **kw)

    def write(self, obj: Any, fileobj: IO[bytes], **kw: Any) -> None:
        _write_image(obj, fileobj, **kw)


HANDLERS = [
    ImageHandler("image", list(_PIL_FORMAT), ["PIL.Image:Image"], 10),
]
