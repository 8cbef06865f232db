"""Still images (PNG/JPEG, RGBA, 16-bit, grey) through the same enhancers as video frames.

OpenCV reads and writes them because it keeps 16-bit depth and alpha, which Pillow does not for RGB.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from models.base import Enhancer
from models.errors import BadOption, InvalidVideo, OutputError

from .frames import fit, from_tensor, scaled_size, to_tensor
from .options import EnhanceOptions
from .progress import ProgressTracker
from .video import RunResult

_NO_ALPHA = {".jpg", ".jpeg"}
#: formats OpenCV writes at 8 bits only (it would reduce 16-bit images itself, with a warning on stderr)
_EIGHT_BIT = {".jpg", ".jpeg", ".webp", ".bmp"}


def read_image(src) -> np.ndarray:
    """Read an image file unchanged (depth, channels); InvalidVideo when it cannot be decoded."""
    data = np.fromfile(str(src), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise InvalidVideo(f"cannot decode {Path(src).name} as an image")
    if image.dtype not in (np.uint8, np.uint16):
        raise InvalidVideo(f"unsupported image sample type {image.dtype}")
    return image


def enhance_image(
    src, tmp_dst: Path, enhancer: Enhancer, options: EnhanceOptions, progress=None
) -> RunResult:
    """Enhance one image file into ``tmp_dst``; alpha is resized (Lanczos), grey stays grey."""
    image = read_image(src)
    grey = image.ndim == 2 or image.shape[2] == 1
    if grey:
        image = cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    alpha = image[..., 3] if image.shape[2] == 4 else None
    if alpha is not None and tmp_dst.suffix.lower() in _NO_ALPHA:
        raise BadOption("the input has an alpha channel, which JPEG cannot hold; write a .png output")
    bits = 16 if image.dtype == np.uint16 else 8
    rgb = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)
    tracker = ProgressTracker(1, progress)
    h, w = rgb.shape[:2]
    size = scaled_size(w, h, enhancer.scale, options.outscale)
    batch = to_tensor(rgb[None], enhancer.device)
    out = from_tensor(fit(enhancer.process(batch), size, size), bits)[0]
    out = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
    if alpha is not None:
        a = to_tensor(np.repeat(alpha[None, ..., None], 3, axis=3), enhancer.device)
        a = from_tensor(fit(a, size, size), bits)[0][..., :1]
        out = np.concatenate([out, a], axis=2)
    if grey:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
    if bits == 16 and tmp_dst.suffix.lower() in _EIGHT_BIT:
        out = (out / 257).round().astype(np.uint8)
    ok, encoded = cv2.imencode(tmp_dst.suffix or ".png", out)
    if not ok:
        raise BadOption(f"cannot write images as {tmp_dst.suffix!r}; use .png or .jpg")
    try:
        encoded.tofile(str(tmp_dst))
    except OSError as exc:
        raise OutputError(f"cannot write the image: {exc.strerror or exc}") from exc
    tracker.advance(1)
    tracker.finish()
    return RunResult(1, size[0], size[1])
