"""Make small test videos and images with PyAV (no media is committed to the repo)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def gradient_frame(width: int, height: int, index: int) -> np.ndarray:
    """A moving colour gradient (RGB uint8), different for every frame index."""
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255 // max(1, width - 1) + index * 7) % 256
    g = (y * 255 // max(1, height - 1) + index * 13) % 256
    b = ((x + y + index * 5) * 3) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def make_video(
    path: Path,
    *,
    width: int = 64,
    height: int = 48,
    frames: int = 8,
    fps: int = 12,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: str | None = "aac",
    audio_tracks: int = 1,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int = 0,
    gop: int | None = None,
) -> Path:
    """Write a small video; ``pts`` (in ``time_base``) makes it VFR; ``audio`` None makes it silent."""
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = width, height, pix_fmt
        tb = time_base or Fraction(1, fps)
        v.codec_context.time_base = tb
        if gop:
            v.codec_context.gop_size = gop  # a keyframe every ``gop`` frames (segment boundaries)
        if codec == "libx265":
            v.options = {"x265-params": "log-level=error"}
        if rotation:
            v.set_display_rotation(rotation)
        streams = []
        for _ in range(audio_tracks if audio else 0):
            a = out.add_stream(audio, rate=48000)
            a.layout = "stereo"
            streams.append(a)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(gradient_frame(width, height, i), format="rgb24")
            frame.pts = pts[i] if pts else i
            frame.time_base = tb
            out.mux(v.encode(frame.reformat(format=pix_fmt)))
        out.mux(v.encode(None))
        duration = (pts[-1] + 1) * tb if pts else Fraction(frames, fps)
        for k, a in enumerate(streams):
            write_tone(out, a, float(duration), 440 * (k + 1))
    return path


def write_tone(out, stream, seconds: float, hz: float) -> None:
    """Encode ``seconds`` of a sine tone into an audio stream."""
    rate = stream.codec_context.sample_rate
    step = 1024
    total = int(seconds * rate)
    for start in range(0, total, step):
        n = min(step, total - start)
        t = (np.arange(start, start + n) / rate).astype(np.float32)
        tone = (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def make_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """An m4a with only an AAC track."""
    with av.open(str(path), "w", format="mp4") as out:
        a = out.add_stream("aac", rate=48000)
        a.layout = "stereo"
        write_tone(out, a, seconds, 440)
    return path


def read_video(path: Path) -> dict:
    """Facts about a video for assertions: size, codec, frame count, pts, audio streams and duration."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        info = {
            "codec": v.codec_context.name,
            "width": v.codec_context.width,
            "height": v.codec_context.height,
            "pix_fmt": v.codec_context.pix_fmt,
            "frames": len(frames),
            "times": [float(f.pts * f.time_base) for f in frames],
            "rotation": frames[0].rotation if frames else 0,
            "audio": [s.codec_context.name for s in c.streams.audio],
            "subtitles": [s.codec_context.name for s in c.streams.subtitles],
            "first_frame": frames[0].to_ndarray(format="rgb24") if frames else None,
        }
    with av.open(str(path)) as c:
        info["audio_seconds"] = [
            sum(f.samples for f in c.decode(s)) / s.codec_context.sample_rate for s in c.streams.audio
        ]
    return info
