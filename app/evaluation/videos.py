"""The clean clips a video evaluation starts from: frame stacks (T, H, W, 3) uint8 RGB = the ground truth.

By default the clips are rendered from the bundled scikit-image photos by a known camera motion (a pan,
a zoom, or both), so a high-resolution original exists for every frame and nothing is downloaded. A
folder of clean videos may be given instead; its clips are read, centre-cropped and cut to length the same
way. Every definition here is also written out in ``docs/EVALUATION.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from .images import centre_crop

#: frames per clip (and the most read from a folder's video) unless ``--frames`` says otherwise
CLIP_FRAMES = 12
#: the rendered clips' size (width, height): x4 gives 96 x 64, small enough for TemporalFix on a CPU
CLIP_SIZE = (384, 256)
#: a ground truth is cropped to a multiple of this: 4 (the downscale) x 2 (H.264's 4:2:0 chroma)
SIDE_MULTIPLE = 8
#: smaller clips leave under 16 px after x4: too little for the flow and for the encoder
MIN_SIDE = 64
VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".ts"}


@dataclass(frozen=True)
class Motion:
    """A camera path over a still image: per frame, a pan in pixels and a zoom about the image centre."""

    image: str  # a scikit-image ``data`` function
    pan: tuple[float, float]  # (dx, dy) pixels per frame at the clip's resolution (content moves by -pan)
    zoom: float  # magnification per frame: frame t is magnified zoom ** t
    description: str


#: the rendered clips: integer pans move whole pixels (no interpolation blur in the original), which
#: after x4 are quarter-pixel steps: the sub-pixel motion that makes per-frame upscalers shimmer
MOTIONS: dict[str, Motion] = {
    "astronaut-pan": Motion("astronaut", (3.0, 1.0), 1.0, "pan 3 px right, 1 px down per frame"),
    "chelsea-zoom": Motion("chelsea", (0.0, 0.0), 1.015, "zoom in 1.5 % per frame about the centre"),
    "coffee-pan": Motion("coffee", (-2.0, -2.0), 1.0, "pan 2 px left, 2 px up per frame"),
    "rocket-panzoom": Motion("rocket", (2.0, 0.0), 1.01, "pan 2 px right and zoom in 1 % per frame"),
}


@dataclass(frozen=True)
class EvalClip:
    """One clean clip: a name for the tables and its frames (T, H, W, 3) uint8 RGB."""

    name: str
    frames: np.ndarray
    description: str = ""


def camera_matrix(motion: Motion, t: int, image_size: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """The 2x3 map from frame ``t``'s pixel to the image's pixel (for ``cv2.WARP_INVERSE_MAP``)."""
    (iw, ih), (w, h) = image_size, size
    s = motion.zoom**t
    # frame pixel p -> image pixel: image centre + (p - frame centre) / s + pan * t
    cx = (iw - 1) / 2 + motion.pan[0] * t - (w - 1) / 2 / s
    cy = (ih - 1) / 2 + motion.pan[1] * t - (h - 1) / 2 / s
    return np.array([[1 / s, 0, cx], [0, 1 / s, cy]], np.float64)


def render(image: np.ndarray, motion: Motion, frames: int, size: tuple[int, int] = CLIP_SIZE) -> np.ndarray:
    """``frames`` frames of ``size`` (w, h) seen by a camera moving over ``image`` along ``motion``."""
    h, w = image.shape[:2]
    out = np.empty((frames, size[1], size[0], 3), np.uint8)
    for t in range(frames):
        matrix = camera_matrix(motion, t, (w, h), size)
        # bicubic reads exact pixels at whole-pixel positions, so a pure integer pan copies pixels
        out[t] = cv2.warpAffine(
            image, matrix, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT
        )
    return out


def default_clips(frames: int = CLIP_FRAMES) -> list[EvalClip]:
    """The rendered clips of MOTIONS, ``frames`` frames of CLIP_SIZE each."""
    from skimage import data

    clips = []
    for name, motion in MOTIONS.items():
        image = np.ascontiguousarray(getattr(data, motion.image)())
        clips.append(EvalClip(name, render(image, motion, frames), motion.description))
    return clips


def read_frames(path: Path, limit: int | None = None) -> np.ndarray:
    """The first ``limit`` frames (all when None) of ``path``'s first video stream, (T, H, W, 3) uint8 RGB."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if limit is not None and len(frames) >= limit:
                break
    if not frames:
        raise ValueError("no video frames")
    return np.stack(frames)


def folder_clips(
    folder: Path, frames: int = CLIP_FRAMES, max_size: int = 0
) -> tuple[list[EvalClip], list[tuple[str, str]]]:
    """The clean clips of ``folder`` (sorted by name) and the (file, reason) of every file left out."""
    clips, left_out = [], []
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            left_out.append((path.name, f"not a video ({path.suffix or 'no suffix'})"))
            continue
        try:
            stack = read_frames(path, frames)
        except (av.FFmpegError, ValueError) as exc:
            left_out.append((path.name, f"cannot be decoded ({exc})"))
            continue
        if len(stack) < 2:
            left_out.append((path.name, "fewer than 2 frames: no motion to measure"))
            continue
        stack = np.stack([centre_crop(f, max_size) for f in stack])
        h, w = stack.shape[1:3]
        stack = stack[:, : h - h % SIDE_MULTIPLE, : w - w % SIDE_MULTIPLE]
        if min(stack.shape[1:3]) < MIN_SIDE:
            left_out.append((path.name, f"smaller than {MIN_SIDE} px on a side"))
            continue
        clips.append(EvalClip(path.name, np.ascontiguousarray(stack)))
    return clips, left_out
