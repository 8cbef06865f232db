"""Dense optical flow helpers shared by ``stabilize`` and the deinterlacer's motion fill (numpy, no torch)."""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=8)
def pixel_grid(h: int, w: int) -> np.ndarray:
    """Each pixel's own (x, y) position (h, w, 2) float32, built once per size (read only): a flow plus
    this grid is the map ``cv2.remap`` samples at."""
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    grid = np.dstack([xs, ys])
    grid.flags.writeable = False
    return grid
