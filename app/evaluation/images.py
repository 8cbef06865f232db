"""The clean images an evaluation starts from, as 8-bit RGB arrays of bounded size.

The default set ships inside scikit-image (no download), so ``flask evaluate`` runs anywhere. A folder
may hold anything: grey and RGBA become RGB (alpha is dropped), 16-bit becomes 8-bit, and files that
are not images are reported, not fatal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.pipeline.image import read_image
from models.errors import InvalidVideo

#: bundled with scikit-image (its ``data`` folder), loaded without pooch or a network
DEFAULT_IMAGES = ("astronaut", "chelsea", "coffee", "rocket")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
#: smaller images leave too little for x4 and for SSIM's 7x7 window
MIN_SIDE = 32


@dataclass(frozen=True)
class EvalImage:
    """One clean image: a name for the tables and its pixels (H, W, 3) uint8 RGB."""

    name: str
    pixels: np.ndarray


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Any OpenCV-decoded image (grey, BGR, BGRA; 8 or 16 bit) -> uint8 RGB."""
    if image.dtype == np.uint16:
        image = np.rint(image / 257.0).astype(np.uint8)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)


def centre_crop(image: np.ndarray, max_size: int) -> np.ndarray:
    """The central ``max_size`` x ``max_size`` (at most) of ``image``; 0 keeps the whole image."""
    if not max_size:
        return image
    h, w = image.shape[:2]
    top, left = max(0, (h - max_size) // 2), max(0, (w - max_size) // 2)
    return image[top : top + max_size, left : left + max_size]


def default_images(max_size: int = 0) -> list[EvalImage]:
    """The bundled scikit-image photos (astronaut, chelsea, coffee, rocket), centre-cropped."""
    from skimage import data

    return [
        EvalImage(n, centre_crop(np.ascontiguousarray(getattr(data, n)()), max_size)) for n in DEFAULT_IMAGES
    ]


def folder_images(folder: Path, max_size: int = 0) -> tuple[list[EvalImage], list[tuple[str, str]]]:
    """The images of ``folder`` (sorted by name) and the (file, reason) of every file left out."""
    images, left_out = [], []
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            left_out.append((path.name, f"not an image ({path.suffix or 'no suffix'})"))
            continue
        try:
            pixels = centre_crop(to_rgb8(read_image(path)), max_size)
        except InvalidVideo as exc:
            left_out.append((path.name, exc.detail))
            continue
        if min(pixels.shape[:2]) < MIN_SIDE:
            left_out.append((path.name, f"smaller than {MIN_SIDE} px on a side"))
            continue
        images.append(EvalImage(path.name, np.ascontiguousarray(pixels)))
    return images, left_out
