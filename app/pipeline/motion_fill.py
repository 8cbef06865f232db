"""Motion-compensated line filling: the lines bwdif interpolated, taken from the neighbouring fields instead.

A field holds every other line; the lines it lacks were seen by the fields just before and after it (the
other parity). bwdif (motion-adaptive) falls back to interpolating them from the field's own lines wherever
the picture moves, which softens every moving edge. Here, for each field bwdif rebuilt:

1. each neighbouring field (the previous and the next, from the raw woven frames) is made into a full
   picture (its own lines kept, the others interpolated within it: only a guide for the flow);
2. DIS optical flow (OpenCV, no weights) from bwdif's picture to each neighbour says where every pixel was
   and will be;
3. the missing lines are sampled from both neighbours along that motion (bicubic); where the two samples
   agree with each other (``AGREE``) and with bwdif's line (``NEAR_BWDIF``) their mean replaces bwdif's,
   elsewhere (occlusions, scene cuts, motion the flow got wrong) bwdif's line stays. With one neighbour
   (the first and last field of a video) its sample must agree with bwdif's within ``AGREE``.

For a camera pan the neighbours hold the true lines, so they come back as they were shot instead of
interpolated; lines bwdif kept (the field's own) are never touched. Only the neighbours' raw frames are
used, the same frames bwdif itself reads, so a segment of a split job sees what an unsplit run sees.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.flow import pixel_grid

#: most the previous and next field's samples may differ (8-bit levels) for their mean to replace a line
AGREE = 8.0
#: most that mean may differ from bwdif's interpolation (8-bit levels): beyond it the flow is not trusted
NEAR_BWDIF = 16.0


def new_flow() -> cv2.DISOpticalFlow:
    """A DIS optical flow (its fast preset: the fill's accuracy barely changes with the slower ones)."""
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)


def fill_missing_lines(
    flow: cv2.DISOpticalFlow,
    planes: list[np.ndarray],
    parity: int,
    previous: list[np.ndarray] | None,
    following: list[np.ndarray] | None,
    bits: int,
) -> None:
    """Replace, in place, the lines of ``planes`` (bwdif's picture of the field whose own lines have row
    parity ``parity``) that the neighbouring woven frames' opposite-parity fields show along the motion.

    ``previous``/``following``: the planes of the raw woven frames holding the fields just before and after
    (None at the ends of the video). Plane 0 drives the flow; other planes (chroma) follow it, scaled.
    """
    missing = 1 - parity
    sides = [side for side in (previous, following) if side is not None]
    if not sides:
        return
    scale = float(1 << (bits - 8))
    pictures = [[_full_picture(plane, missing) for plane in side] for side in sides]
    guide = _eight_bit(planes[0], bits)
    flows = [flow.calc(guide, _eight_bit(picture[0], bits), None) for picture in pictures]
    samples: list[list[np.ndarray]] = [[] for _ in planes]
    for picture, motion in zip(pictures, flows, strict=True):
        maps: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}  # chroma planes share theirs
        for index, plane in enumerate(picture):
            if plane.shape not in maps:
                maps[plane.shape] = _row_maps(motion, plane.shape, missing)
            samples[index].append(
                cv2.remap(plane, *maps[plane.shape], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
            )
    for plane, (first, *second) in zip(planes, samples, strict=True):
        current = plane[missing::2].astype(np.float32)
        if second:
            estimate = (first + second[0]) * 0.5
            trusted = (np.abs(first - second[0]) <= AGREE * scale) & (
                np.abs(estimate - current) <= NEAR_BWDIF * scale
            )
        else:
            estimate = first
            trusted = np.abs(estimate - current) <= AGREE * scale
        filled = np.where(trusted, estimate, current)
        plane[missing::2] = np.clip(filled + 0.5, 0, np.iinfo(plane.dtype).max).astype(plane.dtype)


def _full_picture(plane: np.ndarray, parity: int) -> np.ndarray:
    """``plane`` with its lines of ``parity`` kept and the others interpolated from them (4-tap, float32)."""
    field = plane[parity::2].astype(np.float32)
    n = field.shape[0]
    rows = np.arange(n)

    def line(k: np.ndarray) -> np.ndarray:
        return field[np.clip(k, 0, n - 1)]

    # a missing line halfway between field lines j and j + 1: the (-1, 9, 9, -1) / 16 half-sample filter
    first = rows if parity == 0 else rows - 1
    between = (9 * (line(first) + line(first + 1)) - line(first - 1) - line(first + 2)) / 16
    full = np.empty(plane.shape, np.float32)
    full[parity::2] = field
    other = full[1 - parity :: 2]
    other[:] = between[: other.shape[0]]
    return full


def _row_maps(motion: np.ndarray, shape: tuple[int, int], parity: int) -> tuple[np.ndarray, np.ndarray]:
    """remap's (fixed-point) maps to the points p + motion(p) for the rows of ``parity`` of a plane of
    ``shape`` (a subsampled chroma plane takes the luma's motion, resized and rescaled)."""
    h, w = shape
    if motion.shape[:2] != (h, w):
        factor = np.float32([w / motion.shape[1], h / motion.shape[0]])
        motion = cv2.resize(motion, (w, h), interpolation=cv2.INTER_LINEAR) * factor
    where = pixel_grid(h, w)[parity::2] + motion[parity::2]
    return cv2.convertMaps(where, None, cv2.CV_16SC2)


def _eight_bit(plane: np.ndarray, bits: int) -> np.ndarray:
    """A plane as contiguous uint8 for the flow (deeper planes shifted down)."""
    if plane.dtype == np.uint8:
        return np.ascontiguousarray(plane)  # a frame's plane is a view with the rows' padding between
    if plane.dtype == np.float32:
        return np.clip(plane / (1 << (bits - 8)) + 0.5, 0, 255).astype(np.uint8)
    return (plane >> (bits - 8)).astype(np.uint8)
