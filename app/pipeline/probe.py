"""Look inside a file with PyAV (never by its extension): is it a video or an image, and how big."""

from __future__ import annotations

import math
from dataclasses import dataclass

import av

from models.errors import InvalidVideo, NoVideoStream

# Demuxers that hold a single still picture: these inputs go through the image path.
IMAGE_FORMATS = {
    "image2",
    "png_pipe",
    "jpeg_pipe",
    "webp_pipe",
    "bmp_pipe",
    "tiff_pipe",
    "gif",
    "jpegls_pipe",
    "pgm_pipe",
    "ppm_pipe",
}


@dataclass(frozen=True)
class MediaInfo:
    """What a probe learns about an input file."""

    kind: str  # "video" or "image"
    width: int
    height: int
    frames: int | None  # None when the container does not say and duration is unknown
    fps: float | None
    duration: float | None
    rotation: int
    pix_fmt: str | None
    audio_streams: int
    subtitle_streams: int
    format_name: str


def open_input(path: str) -> av.container.InputContainer:
    """Open a media file, translating PyAV's errors into InvalidVideo."""
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.InvalidDataError, av.error.EOFError) as exc:
        raise InvalidVideo(
            "the file is not a video or image we can read (unknown format or corrupt)"
        ) from exc
    except av.error.FFmpegError as exc:
        raise InvalidVideo(f"cannot open the file as media: {exc.strerror or exc}") from exc


def probe(path: str) -> MediaInfo:
    """Describe ``path``; raises InvalidVideo / NoVideoStream when it cannot be enhanced."""
    with open_input(path) as container:
        fmt = container.format.name.split(",")[0]
        if not container.streams.video:
            what = "audio only" if container.streams.audio else "no streams"
            raise NoVideoStream(f"the file has no video stream ({what})")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        width, height = ctx.width, ctx.height
        first = _first_frame(container, stream)
        if not width or not height:
            width, height = first.width, first.height
        rotation = int(first.rotation or 0)
        kind = "image" if fmt in IMAGE_FORMATS else "video"
        fps = float(stream.average_rate or stream.guessed_rate or 0) or None
        duration = _duration(container, stream)
        frames = stream.frames or None
        if frames is None and kind == "image":
            frames = 1
        if frames is None and duration and fps:
            frames = max(1, math.ceil(duration * fps - 1e-6))
        return MediaInfo(
            kind=kind,
            width=width,
            height=height,
            frames=frames,
            fps=fps,
            duration=duration,
            rotation=rotation,
            pix_fmt=ctx.pix_fmt,
            audio_streams=len(container.streams.audio),
            subtitle_streams=len(container.streams.subtitles),
            format_name=fmt,
        )


def _first_frame(container, stream) -> av.VideoFrame:
    """Decode one frame, so a file whose header parses but whose data does not is refused now."""
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise InvalidVideo(f"the video stream cannot be decoded (truncated or corrupt): {exc}") from exc
    raise InvalidVideo("the video stream holds no decodable frame (truncated or empty)")


def _duration(container, stream) -> float | None:
    """Duration in seconds from the stream, else the container."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None
