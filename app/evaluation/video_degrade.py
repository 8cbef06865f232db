"""The damages a video restorer is judged on: deterministic functions of a clean clip (T, H, W, 3) uint8.

Every definition here is also written out in ``docs/EVALUATION.md``; change one only together with it.
A clip reaches these with sides that are multiples of 8 (``videos.SIDE_MULTIPLE``), so x4 leaves even
sides for H.264's 4:2:0 chroma and the clean clip itself is the ground truth.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np

from .degrade import Degradation, add_noise, downscale, pick_named

FACTOR = 4
NOISE_SIGMA = 10.0
#: x264's constant-rate factor for ``x4+h264``: high enough that blocks and mosquito noise show and
#: change from frame to frame, as in a heavily compressed upload
H264_CRF = 35
H264_PRESET = "medium"
FPS = 24

_RESIZE_TASKS = frozenset({"upscale"})
#: an upscaler alone, after a denoiser, or followed by a temporal stage (+stabilize, +temporalfix)
_ALLOWED_TASKS = frozenset({"upscale", "denoise", "temporal"})


@dataclass(frozen=True)
class VideoDegradation(Degradation):
    """One damage of a whole clip: an image Degradation's fields (``plan`` matches models against its
    factor, needs and allows), but ``damage`` takes and returns a clip."""

    def apply(self, clip: np.ndarray) -> np.ndarray:
        """The damaged clip, (T, H/factor, W/factor, 3) uint8 RGB."""
        return self.damage(clip)


def downscale_clip(clip: np.ndarray, factor: int = FACTOR) -> np.ndarray:
    """Every frame shrunk by ``factor`` with INTER_AREA (the image ``x4``'s definition, frame by frame)."""
    return np.stack([downscale(frame, factor) for frame in clip])


def h264_round_trip(clip: np.ndarray, crf: int = H264_CRF) -> np.ndarray:
    """Encode with libx264 (yuv420p, ``crf``, preset medium, one thread) in memory and decode again."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = clip.shape[2], clip.shape[1], "yuv420p"
        # one thread: x264's output then depends on nothing but the frames and these settings
        stream.options = {"crf": str(crf), "preset": H264_PRESET, "threads": "1"}
        for frame in clip:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer, "r") as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(decoded)


VIDEO_DEGRADATIONS: dict[str, VideoDegradation] = {
    d.name: d
    for d in (
        VideoDegradation(
            "x4",
            FACTOR,
            _RESIZE_TASKS,
            _ALLOWED_TASKS,
            "downscale every frame by 4 (INTER_AREA)",
            downscale_clip,
        ),
        VideoDegradation(
            "x4+noise10",
            FACTOR,
            _RESIZE_TASKS,
            _ALLOWED_TASKS,
            "x4, then fresh Gaussian noise (sigma 10) on every frame: temporal noise",
            # one draw for the whole stack: every frame gets its own noise, the same on every run
            lambda clip: add_noise(downscale_clip(clip), NOISE_SIGMA),
        ),
        VideoDegradation(
            "x4+h264",
            FACTOR,
            _RESIZE_TASKS,
            _ALLOWED_TASKS,
            f"x4, then H.264 (libx264, CRF {H264_CRF}, 4:2:0) and back: compression",
            lambda clip: h264_round_trip(downscale_clip(clip)),
        ),
    )
}

DEFAULT_VIDEO_DEGRADATIONS = tuple(VIDEO_DEGRADATIONS)


def parse_video_degradations(text: str | None) -> list[VideoDegradation]:
    """``x4,x4+h264`` -> the video degradations, in the given order; BadOption names the allowed ones."""
    return pick_named(text, VIDEO_DEGRADATIONS, DEFAULT_VIDEO_DEGRADATIONS, "video degradation")
