"""Streaming windows for a temporal stage: frames in, in order; (window, timestamp) out, in order.

For output frame t a temporal stage sees frames t-before .. t+after of its input (the per-frame links'
output). Windows never cross a scene cut: each scene is a run of its own, and at a run's ends (the video's
first and last frame, a ``--frames`` preview's last, either side of a cut) the window is mirrored as
TemporalFix's original does (frame 0's window is 3, 2, 1, 0, 1, 2, 3; models.temporalfix.scene_window).
At most before + 1 + after frames are held, however long the video is. A recursive stage (``stabilize``)
needs no window (it keeps its own past): the pipeline hands it frame t itself, with its source frame and
whether it starts a scene, and the stage restarts its history there.

Scene cuts are found on the source frames (before any link ran): a cut is where the mean absolute
difference between consecutive frames' 32x18 grey thumbnails (area averages of the channels' mean), on a
0-1 scale, is above CUT_THRESHOLD.

A segment of a split job (app/jobs/segmented.py) gives the unsplit run's frames: it also reads the frames
``overlap`` names before and after its own, runs them through the chain and the stage, and writes only its
own. Its first read frame starts a scene as far as the segment knows, and its last ends one; with at least
max(before, after) frames read on either side (and one before, so a cut at its first frame is seen), no
window of its own frames reaches or is mirrored at those false ends. A recursive stage also warms up on
``warmup`` frames before the segment, from a fresh history: what differs from the unsplit run's history
shrinks with every frame (stabilize blends at most ``strength`` of the past in), so that at its default
0.5, 30 frames give the unsplit run's frames exactly (README "Temporal stages in split jobs").
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
import torch

from models.temporalfix import scene_window

#: thumbnail (width, height) compared between consecutive source frames: small enough that noise,
#: grain and compression blocks average out, big enough that a cut between two similar-toned shots shows
THUMB = (32, 18)
#: mean absolute grey difference (0-1) above which two consecutive frames are a hard cut. Motion moves
#: thumbnails by a few hundredths (a fast pan of the test gradient: 0.03-0.06); a cut between unrelated
#: shots changes them by 0.15 and more. 0.1 is PySceneDetect's content threshold (27 of 255) in spirit.
CUT_THRESHOLD = 0.1


#: frames a segment reads before its own to warm a recursive stage's history up (ENHANCE_SEGMENT_WARMUP)
DEFAULT_WARMUP = 30


def overlap(stage, warmup: int = DEFAULT_WARMUP) -> tuple[int, int]:
    """(frames before, frames after) a segment reads beyond its own for a temporal ``stage`` (None: 0, 0)."""
    if stage is None:
        return 0, 0
    radius = max(stage.window_before, stage.window_after)
    lead = max(radius, 1)  # one at least: the cut detector compares the first frame with the one before
    return (max(lead, warmup) if stage.recursive else lead), radius


class CutDetector:
    """Marks the source frames that start a new scene (the first frame of the video starts one)."""

    def __init__(self, threshold: float = CUT_THRESHOLD):
        self.threshold = threshold
        self.previous: np.ndarray | None = None

    def push(self, planes: np.ndarray) -> list[bool]:
        """For a batch of planar RGB integer frames (N, 3, H, W): True where a frame starts a scene."""
        peak = 65535.0 if planes.dtype == np.uint16 else 255.0
        cuts = []
        for frame in planes:
            # numpy and OpenCV, not torch: this runs in the pipeline's calling thread, whose torch operators
            # would wake an OpenMP team that spins on the cores the enhance workers fill (compute.py)
            grey = frame.mean(axis=0, dtype=np.float32) / peak
            thumb = cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA)
            previous, self.previous = self.previous, thumb
            cuts.append(previous is None or float(np.abs(thumb - previous).mean()) > self.threshold)
        return cuts


class WindowStream:
    """Holds the last frames of the current scene; hands out each frame's window as soon as it is complete."""

    def __init__(self, before: int, after: int):
        self.before, self.after = before, after
        self.held: deque = deque()  # (index in the scene, frame, timestamp), oldest first
        self.count = 0  # frames of the current scene seen so far
        self.next = 0  # the scene index of the next frame to hand out
        self.most_held = 0  # the largest number of frames held at once (tests check the bound)

    def push(self, frame: torch.Tensor, stamp, cut: bool) -> list[tuple[torch.Tensor, object]]:
        """Add the next frame (3, H, W); returns the windows (1, T, 3, H, W) now complete, with timestamps."""
        ready = self.finish() if cut else []
        # a copy, not a view: a view would keep its whole batch alive
        self.held.append((self.count, frame.clone(), stamp))
        self.count += 1
        self.most_held = max(self.most_held, len(self.held))
        while self.next < self.count and self._complete(self.next):
            ready.append(self._window(self.next, None))
        return ready

    def finish(self) -> list[tuple[torch.Tensor, object]]:
        """The scene (or video) ended: every frame still owed, mirrored at the end; the next scene starts."""
        ready = [self._window(t, self.count) for t in range(self.next, self.count)]
        self.held.clear()
        self.count = self.next = 0
        return ready

    def _complete(self, t: int) -> bool:
        """True when t's window holds no frame not seen yet, whatever the scene's length turns out to be."""
        # before the start the window mirrors onto frames up to ``before - t``
        return self.count > max(t + self.after, self.before - t)

    def _window(self, t: int, frames: int | None) -> tuple[torch.Tensor, object]:
        """t's window; ``frames`` is the scene's length once known (None: t's window stops short of it)."""
        first = self.held[0][0]
        indices = scene_window(t, frames or self.count, max(self.before, self.after))
        if self.before != self.after:  # scene_window is symmetric: drop the side this stage does not see
            radius = max(self.before, self.after)
            indices = indices[radius - self.before : radius + 1 + self.after]
        window = torch.stack([self.held[i - first][1] for i in indices]).unsqueeze(0)
        stamp = self.held[t - first][2]
        self.next = t + 1
        while self.held and self.held[0][0] < self.next - self.before:
            self.held.popleft()  # no later window of this scene reaches back to it
        return window, stamp
