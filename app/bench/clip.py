"""The benchmark's input: a generated H.264 clip with an AAC track, so every run measures the same thing.

The picture is cartoon-like (flat shapes with hard edges moving over a gradient, a little grain): enough
detail that x264 works as on real footage, nothing that depends on a file outside the repository.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FPS = 24
AUDIO_RATE = 48000


def clip_frame(width: int, height: int, index: int, grain: np.ndarray) -> np.ndarray:
    """Frame ``index`` (RGB uint8): a drifting gradient, three moving shapes, static grain."""
    y, x = np.ogrid[0:height, 0:width]
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[..., 0] = (x * 200 // max(1, width) + index) % 256
    frame[..., 1] = (y * 180 // max(1, height) + 2 * index) % 256
    frame[..., 2] = 96
    for k, colour in enumerate(((250, 220, 40), (30, 60, 200), (230, 40, 90))):
        cx = (width * (0.2 + 0.3 * k) + index * (3 + k)) % width
        cy = height * (0.5 + 0.3 * np.sin(index / (9 + 4 * k) + k))
        r = max(3, min(width, height) // (5 + k))
        if k == 1:
            mask = (abs(x - cx) < r) & (abs(y - cy) < r * 0.6)
        else:
            mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        frame[mask] = colour
    return np.clip(frame.astype(np.int16) + grain, 0, 255).astype(np.uint8)


def make_clip(path: Path, width: int, height: int, frames: int, fps: int = FPS) -> Path:
    """Write ``frames`` frames of ``width`` x ``height`` H.264 (yuv420p) at ``fps`` with a stereo AAC tone."""
    rng = np.random.default_rng(0)
    grain = rng.integers(-6, 7, size=(height, width, 1), dtype=np.int16)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = Fraction(1, fps)
        video.options = {"crf": "20", "preset": "ultrafast"}
        audio = out.add_stream("aac", rate=AUDIO_RATE)
        audio.layout = "stereo"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(clip_frame(width, height, i, grain), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame.reformat(format="yuv420p")))
        out.mux(video.encode(None))
        _write_tone(out, audio, frames / fps)
    return path


def _write_tone(out, stream, seconds: float) -> None:
    """Encode ``seconds`` of a 440 Hz stereo tone."""
    step = 1024
    total = int(seconds * AUDIO_RATE)
    for start in range(0, total, step):
        t = np.arange(start, min(start + step, total)) / AUDIO_RATE
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
