"""The damages a restorer is judged on: deterministic functions of a clean 8-bit RGB image.

Every definition here is also written out in ``docs/EVALUATION.md``; change one only together with it.
Resolution damages crop the clean image to a multiple of the factor first (bottom and right rows go),
and that cropped clean image is the ground truth, so the restored image has exactly its size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from models.errors import BadOption

#: the fixed seed of every noise draw; a fresh generator per image keeps results independent of order
NOISE_SEED = 0
#: ``dark``: out = 255 * EXPOSURE * (in / 255) ** GAMMA
DARK_EXPOSURE = 0.5
DARK_GAMMA = 2.0
JPEG_QUALITY = 20

_RESIZE_TASKS = frozenset({"upscale"})
_LIGHT_TASKS = frozenset({"low-light", "colour", "enhance"})
_DENOISE_TASKS = frozenset({"denoise"})


@dataclass(frozen=True)
class Degradation:
    """One damage: how to apply it, the scale a restorer must have, and which tasks may restore it."""

    name: str
    factor: int
    #: a model (or chain) qualifies when it has at least one of these tasks ...
    needs: frozenset[str]
    #: ... and none outside these
    allows: frozenset[str]
    description: str
    damage: Callable[[np.ndarray], np.ndarray]

    def ground_truth(self, clean: np.ndarray) -> np.ndarray:
        """The clean image cropped to a multiple of ``factor``: what a restoration is compared to."""
        return crop_to_multiple(clean, self.factor)

    def apply(self, clean: np.ndarray) -> np.ndarray:
        """The damaged image (H/factor x W/factor after the crop), uint8 RGB."""
        return self.damage(self.ground_truth(clean))


def crop_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Drop the last rows and columns so that height and width are multiples of ``multiple``."""
    h, w = image.shape[:2]
    return image[: h - h % multiple, : w - w % multiple]


def downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Shrink by an integer ``factor`` with OpenCV's INTER_AREA (the mean of each factor x factor block)."""
    h, w = image.shape[:2]
    if h % factor or w % factor:
        raise ValueError(f"{w}x{h} is not a multiple of {factor}; crop it first")
    return cv2.resize(image, (w // factor, h // factor), interpolation=cv2.INTER_AREA)


def add_noise(image: np.ndarray, sigma: float, seed: int = NOISE_SEED) -> np.ndarray:
    """Add Gaussian noise of std ``sigma`` (0-255 scale) from ``default_rng(seed)``, rounded and clipped."""
    rng = np.random.default_rng(seed)
    noisy = image.astype(np.float64) + rng.normal(0.0, sigma, size=image.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def darken(image: np.ndarray, exposure: float = DARK_EXPOSURE, gamma: float = DARK_GAMMA) -> np.ndarray:
    """Simulated under-exposure: ``255 * exposure * (x / 255) ** gamma``, rounded (no noise added)."""
    x = image.astype(np.float64) / 255.0
    return np.clip(np.rint(255.0 * exposure * x**gamma), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """Encode as JPEG at ``quality`` with OpenCV's libjpeg (4:2:0 chroma) and decode it again."""
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _resize(factor: int) -> Degradation:
    """The ``xN`` damage: downscale by N."""
    return Degradation(
        f"x{factor}",
        factor,
        _RESIZE_TASKS,
        _RESIZE_TASKS,
        f"downscale by {factor} (INTER_AREA)",
        lambda im: downscale(im, factor),
    )


DEGRADATIONS: dict[str, Degradation] = {
    d.name: d
    for d in (
        _resize(2),
        _resize(3),
        _resize(4),
        Degradation(
            "noise25",
            1,
            _DENOISE_TASKS,
            _DENOISE_TASKS,
            "Gaussian noise, sigma 25",
            lambda im: add_noise(im, 25.0),
        ),
        Degradation(
            "x4+noise10",
            4,
            _RESIZE_TASKS,
            _RESIZE_TASKS | _DENOISE_TASKS,  # an upscaler alone, or a denoise-then-upscale chain
            "downscale by 4, then Gaussian noise, sigma 10",
            lambda im: add_noise(downscale(im, 4), 10.0),
        ),
        Degradation(
            "dark",
            1,
            _LIGHT_TASKS,
            _LIGHT_TASKS,
            f"under-exposure: {DARK_EXPOSURE} * x^{DARK_GAMMA}",
            darken,
        ),
        Degradation(
            "jpeg20",
            1,
            # no registered model removes compression artefacts; a denoiser is the nearest task
            _DENOISE_TASKS,
            _DENOISE_TASKS,
            f"JPEG, quality {JPEG_QUALITY}",
            jpeg,
        ),
    )
}

#: what runs when --degradations is not given (x3 only on request: no shipped model needs it by default)
DEFAULT_DEGRADATIONS = ("x4", "x2", "noise25", "x4+noise10", "dark", "jpeg20")


def parse_degradations(text: str | None) -> list[Degradation]:
    """``x4,noise25`` -> the degradations, in the given order; BadOption names the allowed ones."""
    return pick_named(text, DEGRADATIONS, DEFAULT_DEGRADATIONS, "degradation")


def pick_named(text: str | None, catalogue: dict, default: tuple[str, ...], kind: str) -> list:
    """The entries of ``catalogue`` a comma-separated ``text`` names (``default`` when empty), in order,
    each once; BadOption names the unknown ones and the allowed ones."""
    names = [n.strip() for n in text.split(",")] if text else list(default)
    unknown = [n for n in names if n not in catalogue]
    if unknown or not names or "" in names:
        raise BadOption(
            f"unknown {kind}(s) {', '.join(repr(n) for n in unknown) or repr(text)}; "
            f"allowed: {', '.join(catalogue)}"
        )
    return [catalogue[n] for n in dict.fromkeys(names)]
