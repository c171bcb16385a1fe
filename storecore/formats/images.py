"""Image handlers (Pillow): ``.png``, ``.jpg``, ``.tif`` and friends, read as numpy arrays."""

from __future__ import annotations

import io
from typing import IO, Any

from ..errors import FormatError
from .registry import Handler

_PIL_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
               ".bmp": "BMP", ".gif": "GIF", ".webp": "WEBP"}


def _read_image(f: IO[bytes], **_kw: Any) -> Any:
    """An ``(H, W)`` or ``(H, W, C)`` array; a multi-page TIFF gives ``(pages, H, W[, C])``."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(f.read())) as im:
            frames = getattr(im, "n_frames", 1)
            if frames == 1:
                return np.asarray(im)
            pages = []
            for i in range(frames):
                im.seek(i)
                pages.append(np.asarray(im))
            return np.stack(pages)
    except UnidentifiedImageError as e:
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
