"""Dense optical flow helpers shared by ``stabilize``, the deinterlacer's motion fill and the warping error
(numpy and OpenCV, no torch)."""

from __future__ import annotations

import functools

import cv2
import numpy as np

#: forward-backward consistency (Sundaram et al. 2010, as in Lai et al. 2018): a pixel p is consistent when
#: |f(p) + b(p + f(p))|^2 <= RELATIVE * (|f|^2 + |b|^2) + ABSOLUTE, f the flow one way and b the other
RELATIVE, ABSOLUTE = 0.01, 0.5


@functools.lru_cache(maxsize=8)
def pixel_grid(h: int, w: int) -> np.ndarray:
    """Each pixel's own (x, y) position (h, w, 2) float32, built once per size (read only): a flow plus
    this grid is the map ``cv2.remap`` samples at."""
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    grid = np.dstack([xs, ys])
    grid.flags.writeable = False
    return grid


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at p + flow(p) for every pixel p of the flow (bilinear, edges replicated)."""
    return _sample(image, pixel_grid(*flow.shape[:2]) + flow)


def round_trip(flow: np.ndarray, back: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The forward-backward check of ``flow`` (frame a -> b, on a's pixels) against ``back`` (b -> a):
    (error / its bound, where a ratio of at most 1 is consistent; whether p + flow(p) lies in the frame),
    each (h, w)."""
    h, w = flow.shape[:2]
    target = pixel_grid(h, w) + flow
    there = _sample(back, target)
    ratio = _squared(flow + there) / (RELATIVE * (_squared(flow) + _squared(there)) + ABSOLUTE)
    inside = (target[..., 0] >= 0) & (target[..., 0] <= w - 1)
    inside &= (target[..., 1] >= 0) & (target[..., 1] <= h - 1)
    return ratio, inside


def _sample(image: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``image`` at the points ``target`` (h, w, 2)."""
    return cv2.remap(image, target[..., 0], target[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _squared(vectors: np.ndarray) -> np.ndarray:
    """|v|^2 of each (h, w, 2) vector: einsum, as numpy's sum over a last axis of 2 is a strided reduction,
    5x slower, and this runs for every frame."""
    return np.einsum("hwc,hwc->hw", vectors, vectors)
