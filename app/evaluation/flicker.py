"""Warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency"): how much a video flickers.

The motion between frames t and t+1 is measured once, on the clean original (OpenCV's DIS optical flow),
together with where it can be trusted: pixels that stay in the frame and pass the forward-backward check
(occlusions and disocclusions fail it). A clip's warping error is then the mean, over t, of the mean
squared difference (RGB, 0-1 scale) between frame t and frame t+1 warped back onto it, over the trusted
pixels; a pair across a scene cut (the pipeline's rule, ``app.pipeline.temporal.CutDetector``) has
nothing to compare and is left out. A steady video scores near the original's own value; flicker
(noise, invented texture that changes from frame to frame) adds to it. Smoothing detail away can lower
it too, so it is read beside PSNR, never alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.pipeline.temporal import CutDetector
from models.flow import round_trip, warp


@dataclass(frozen=True)
class Motion:
    """The flow from frame t to t+1 (H, W, 2: frame t's pixel p is at p + flow in t+1) and its mask."""

    flow: np.ndarray
    visible: np.ndarray  # (H, W) bool: in frame and consistent both ways


def measure_motion(frames: np.ndarray) -> list[Motion]:
    """The motion between every pair of consecutive frames of a clean clip (T, H, W, 3) uint8 RGB."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    h, w = grey[0].shape
    cuts = CutDetector().push(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))
    motions = []
    for t in range(len(grey) - 1):
        if cuts[t + 1]:
            # flow between unrelated shots is noise; what a stage does at a cut is not flicker
            motions.append(Motion(np.zeros((h, w, 2), np.float32), np.zeros((h, w), bool)))
            continue
        forward = dis.calc(grey[t], grey[t + 1], None)
        backward = dis.calc(grey[t + 1], grey[t], None)
        # consistent both ways (occlusions fail it); content that leaves the frame has nothing to compare
        ratio, inside = round_trip(forward, backward)
        motions.append(Motion(forward, (ratio <= 1.0) & inside))
    return motions


def warping_error(frames: np.ndarray, motions: list[Motion]) -> float:
    """Mean over t of the MSE (0-1 scale) between frame t and frame t+1 warped onto it, on visible pixels."""
    if len(frames) != len(motions) + 1:
        raise ValueError(f"{len(frames)} frames for {len(motions)} motions")
    h, w = frames.shape[1:3]
    if motions and motions[0].flow.shape[:2] != (h, w):
        fh, fw = motions[0].flow.shape[:2]
        raise ValueError(f"frames are {w}x{h}, the motion {fw}x{fh}")
    errors = []
    for t, motion in enumerate(motions):
        if not motion.visible.any():
            continue  # nothing comparable (a cut): the pair says nothing about flicker
        warped = warp(frames[t + 1].astype(np.float32), motion.flow)
        diff = ((warped - frames[t].astype(np.float32)) / 255.0) ** 2
        errors.append(float(diff.mean(axis=2)[motion.visible].mean()))
    return float(np.mean(errors)) if errors else 0.0
