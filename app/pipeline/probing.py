"""Look inside a file with PyAV (never by its extension): is it a video or an image, and how big."""

from __future__ import annotations

import math
from dataclasses import dataclass

import av

from models.errors import InvalidVideo, NoVideoStream, TooLarge

from .hdr import HdrInfo, hdr_info
from .interlace import Interlacing, detect
from .limits import DecodeLimits, current

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
    interlacing: Interlacing | None = None  # None: progressive (or not detected as interlaced)
    hdr: HdrInfo | None = None  # PQ/HLG with BT.2020 primaries, and its HDR10 metadata


def open_input(path: str, limits: DecodeLimits | None = None) -> av.container.InputContainer:
    """Open a media file with decoder limits (default: this process's), translating PyAV's errors into
    InvalidVideo / TooLarge."""
    limits = limits or current().decode
    try:
        # FFmpeg itself refuses more streams than this while demuxing (a crafted MKV can declare thousands).
        container = av.open(
            str(path),
            mode="r",
            metadata_errors="ignore",
            container_options={"max_streams": str(limits.max_streams + 1)},
        )
    except av.error.MemoryError as exc:
        raise TooLarge(
            f"the file declares more than {limits.max_streams} streams (ENHANCE_MAX_STREAMS)"
        ) from exc
    except (av.error.InvalidDataError, av.error.EOFError) as exc:
        raise InvalidVideo(
            "the file is not a video or image we can read (unknown format or corrupt)"
        ) from exc
    except av.error.FFmpegError as exc:
        raise InvalidVideo(f"cannot open the file as media: {exc.strerror or exc}") from exc
    for stream in container.streams.video:
        # The decoder refuses bigger pictures before allocating them, even when the bitstream disagrees
        # with the header we checked (every later decode of this container inherits it).
        ctx = stream.codec_context
        if ctx is not None:  # None: FFmpeg has no decoder for it (refused by the probe)
            ctx.options = {**ctx.options, "max_pixels": str(limits.max_pixels)}
    return container


def check_limits(container, stream, limits: DecodeLimits) -> None:
    """Raise TooLarge when the header alone says the input is over a decoder limit."""
    count = len(container.streams)
    if count > limits.max_streams:
        raise TooLarge(
            f"the file has {count} streams, over the limit of {limits.max_streams} (ENHANCE_MAX_STREAMS)"
        )
    if stream.codec_context is None:
        raise InvalidVideo("the video stream uses a codec this server cannot decode (unknown or corrupt)")
    width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
    if width * height > limits.max_pixels:
        raise TooLarge(
            f"the input frames are {width}x{height} = {width * height} pixels, over the limit of "
            f"{limits.max_pixels} (ENHANCE_MAX_INPUT_PIXELS)"
        )


def probe(path: str, limits: DecodeLimits | None = None) -> MediaInfo:
    """Describe ``path``; raises InvalidVideo / NoVideoStream / TooLarge when it cannot be enhanced."""
    limits = limits or current().decode
    with open_input(path, limits) as container:
        fmt = container.format.name.split(",")[0]
        if not container.streams.video:
            what = "audio only" if container.streams.audio else "no streams"
            raise NoVideoStream(f"the file has no video stream ({what})")
        stream = container.streams.video[0]
        check_limits(container, stream, limits)
        ctx = stream.codec_context
        width, height = ctx.width, ctx.height
        first = _first_frame(container, stream)
        if not width or not height:
            width, height = first.width, first.height
        if first.width * first.height > limits.max_pixels:
            raise TooLarge(
                f"the input frames are {first.width}x{first.height}, over the limit of {limits.max_pixels} "
                "pixels (ENHANCE_MAX_INPUT_PIXELS)"
            )
        rotation = int(first.rotation or 0)
        kind = "image" if fmt in IMAGE_FORMATS else "video"
        fps = float(stream.average_rate or stream.guessed_rate or 0) or None
        duration = _duration(container, stream)
        if duration is not None and duration > limits.max_duration:
            raise TooLarge(
                f"the input lasts {duration:.0f} s, over the limit of {limits.max_duration:.0f} s "
                "(ENHANCE_MAX_DURATION_SECONDS); cut it shorter"
            )
        hdr = hdr_info(ctx, first) if kind == "video" else None
        interlacing = detect(container, stream) if kind == "video" else None
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
            interlacing=interlacing,
            hdr=hdr,
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
