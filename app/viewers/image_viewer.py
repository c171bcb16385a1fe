"""Images (png, jpg, tif, ...): zoom and pan; large images are downsampled on the worker."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QHBoxLayout, QLabel, QVBoxLayout

from ..formatting import human_size
from .base import IMAGE_EXTS, Target, Viewer
from .budget import Budget
from .widgets import GuardBar, button

#: longest side of the displayed image; larger ones are downsampled on the worker
MAX_SIDE = 4096


@dataclass
class ImagePayload:
    """RGBA pixels ready for a QImage, with the original size and notes."""

    rgba: np.ndarray | None
    size: tuple[int, int]
    mode: str
    frames: int
    note: str = ""
    guard: str = ""
    full_cost: int | None = None


def _to_rgba(img: Any) -> np.ndarray:
    """Any PIL mode as 8-bit RGBA (16-bit, float and signed images scaled by their 0.5–99.5 percentiles).

    Values come from storecore's :func:`~storecore.formats.images.pil_array`: a signed 8-bit TIFF, which Pillow
    decodes as unsigned, is scaled as the signed values it holds (never -1 as the brightest grey).
    """
    from storecore.formats.images import pil_array, tiff_dtype

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F") or tiff_dtype(img) not in (None, np.uint8):
        return _scaled_rgba(pil_array(img))
    return np.asarray(img.convert("RGBA"))


def _scaled_rgba(values: np.ndarray) -> np.ndarray:
    """An ``(H, W)`` or ``(H, W, 3|4)`` array of any numbers as 8-bit RGBA, scaled by its 0.5–99.5 percentiles."""
    a = values.astype(np.float32)
    finite = a[np.isfinite(a)]
    lo, hi = (np.percentile(finite, [0.5, 99.5]) if finite.size else (0.0, 1.0))
    g = np.clip(np.nan_to_num((a - lo) / ((hi - lo) or 1.0) * 255), 0, 255).astype(np.uint8)
    if g.ndim == 3:  # colour: scaled together, alpha opaque
        return np.dstack([g[..., :3], np.full(g.shape[:2], 255, np.uint8)])
    return np.dstack([g, g, g, np.full_like(g, 255)])


def _numpy_image(target: Target, data: bytes) -> ImagePayload:
    """An image Pillow cannot open, read by storecore (a float64 TIFF through tifffile, when installed): its
    first page, downsampled by striding; or a one-line error naming the file and the cause."""
    from storecore.errors import CorruptData, StorecoreError
    from storecore.formats.images import read_image

    try:
        arr = np.asarray(read_image(data))
    except StorecoreError as e:
        raise CorruptData(f"{target.uri}: {e}", path=target.uri) from e
    except Exception as e:  # noqa: BLE001 - tifffile's own errors: a damaged file
        raise CorruptData(f"{target.uri}: cannot decode the image ({type(e).__name__}: {e})", path=target.uri) from e
    color = arr.ndim >= 3 and arr.shape[-1] in (3, 4)
    page = arr.reshape(-1, *arr.shape[-(3 if color else 2):])
    frames, arr = page.shape[0], page[0]
    h, w = arr.shape[:2]
    step = -(-max(h, w) // MAX_SIDE)
    note = f"downsampled to {-(-w // step)}×{-(-h // step)}" if step > 1 else ""
    return ImagePayload(np.ascontiguousarray(_scaled_rgba(arr[::step, ::step])), (w, h), str(arr.dtype), frames, note)


def load_image(target: Target, budget: Budget) -> ImagePayload:
    """Decode (and downsample) an image within ``budget`` (worker)."""
    from PIL import Image, UnidentifiedImageError

    from storecore.errors import CorruptData

    size = target.size or 0
    if not budget.fits(size):
        return ImagePayload(None, (0, 0), "", 0, guard=f"This image file is {human_size(size)}.", full_cost=size)
    data = target.backend.read_bytes(target.location.path) if size else b""
    try:
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            return _numpy_image(target, data)
        w, h = img.size
        frames = getattr(img, "n_frames", 1)
        bands = len(img.getbands())
        decoded = w * h * max(bands, 4)
        note = ""
        if img.format == "JPEG" and decoded > budget.max_bytes:
            img.draft("RGB", (max(1, w // 8), max(1, h // 8)))  # decode at reduced scale: cheap
            note = "decoded at reduced scale"
        elif decoded > 4 * budget.max_bytes:
            return ImagePayload(None, (w, h), img.mode, frames,
                                guard=f"Decoding this {w}×{h} image needs {human_size(decoded)}.", full_cost=decoded)  # fmt: skip
        img.load()
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise CorruptData(f"{target.uri}: cannot decode the image ({e})", path=target.uri) from e
    if max(img.size) > MAX_SIDE:
        img.thumbnail((MAX_SIDE, MAX_SIDE))
        note = f"downsampled to {img.size[0]}×{img.size[1]}"
    return ImagePayload(np.ascontiguousarray(_to_rgba(img)), (w, h), img.mode, frames, note)


class ZoomView(QGraphicsView):
    """A graphics view that zooms with the wheel (around the cursor) and pans by dragging."""

    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(Qt.GlobalColor.darkGray)

    def set_pixmap(self, pixmap: QPixmap) -> None:
        """Show ``pixmap`` fitted to the view."""
        self.item.setPixmap(pixmap)
        self.scene().setSceneRect(self.item.boundingRect())
        self.fit()

    def fit(self) -> None:
        """Fit the whole image in the view."""
        self.resetTransform()
        self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float) -> None:
        """Zoom by ``factor``."""
        self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)


class ImageViewer(Viewer):
    """An image with zoom/pan, its size and mode."""

    title = "Image"

    def __init__(self) -> None:
        super().__init__()
        self.view = ZoomView()
        self.info = QLabel()
        self.guard = GuardBar()
        self.guard.clicked.connect(self.load_full)
        bar = QHBoxLayout()
        bar.addWidget(self.info, 1)
        bar.addWidget(button("Fit", self.view.fit))
        bar.addWidget(button("1:1", lambda: self.view.resetTransform()))
        bar.addWidget(button("+", lambda: self.view.zoom(1.25)))
        bar.addWidget(button("−", lambda: self.view.zoom(0.8)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.guard)
        layout.addWidget(self.view, 1)
        layout.addLayout(bar)
        self._image: QImage | None = None

    @classmethod
    def priority(cls, target: Target) -> int:
        """Image files."""
        return 40 if target.kind == "file" and target.ext in IMAGE_EXTS else 0

    @classmethod
    def prepare(cls, target: Target, budget: Budget, token: Any) -> ImagePayload:
        """Decode and downsample on the worker."""
        return load_image(target, budget)

    def display(self, payload: ImagePayload) -> None:
        """Show the pixels (or the size guard)."""
        if payload.rgba is None:
            self.view.item.setPixmap(QPixmap())
            self.guard.offer(payload.guard + " Not loaded (preview budget).", f"Load full ({human_size(payload.full_cost)})")
            self.info.setText(f"{payload.size[0]}×{payload.size[1]} {payload.mode}" if payload.size[0] else "")
            self.ready.emit()
            return
        self.guard.hide()
        h, w = payload.rgba.shape[:2]
        self._image = QImage(payload.rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
        self.view.set_pixmap(QPixmap.fromImage(self._image))
        parts = [f"{payload.size[0]}×{payload.size[1]}", payload.mode]
        if payload.frames > 1:
            parts.append(f"{payload.frames} frames (first shown)")
        if payload.note:
            parts.append(payload.note)
        self.info.setText("  ·  ".join(parts))
        self.ready.emit()


VIEWER = ImageViewer
