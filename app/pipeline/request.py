"""Check a request against its probed input before any model is loaded: codec and container, output size
and frame count, deinterlacing. No torch here: the upload's short-lived probe process runs these checks
(``app.pipeline.inspect``), and the run repeats them on the same input with the same limits.
"""

from __future__ import annotations

import dataclasses

from models.errors import BadOption
from models.specs import chain_scale

from .containers import check_codec, check_output
from .encoders import CODECS, frame_size
from .hdr import pick_codec
from .interlace import decide
from .limits import OutputLimits, check_output_size
from .options import EnhanceOptions
from .probing import MediaInfo
from .sizes import bit_depth, scaled_size

#: x265 (the bundled one and Debian's ffmpeg 5.1 alike) corrupts the heap and aborts the whole process on
#: tiny frames: 34x22, 40x24, 34x32 and 40x40 crashed every time under MALLOC_CHECK_=3; 48x48, 64x32 and
#: 56x40 never did. Below this longer side h265 is refused up front rather than let a worker die.
X265_MIN_SIDE = 64


def check_request(
    info: MediaInfo, options: EnhanceOptions, limits: OutputLimits | None = None
) -> tuple[int, int]:
    """Validate options and limits for a probed input, before any model is loaded; returns the output size.

    ``options.codec`` must be resolved already (``with_codec``); ``limits`` default to this process's."""
    options.validate()
    scale = chain_scale(options.model, options.model_options)
    size = scaled_size(info.width, info.height, scale, options.outscale)
    if info.kind == "video":
        bits = 16 if bit_depth(info.pix_fmt) > 8 else 8
        size = frame_size(*size, CODECS[options.codec].pix_fmt(info.pix_fmt, bits))
    frames = (
        min(info.frames, options.frames)
        if info.frames and options.frames
        else (options.frames or info.frames)
    )
    check_output_size(*size, frames if info.kind == "video" else 1, limits)
    if info.kind == "video" and options.codec == "h265" and max(size) < X265_MIN_SIDE:
        raise BadOption(
            f"h265 cannot encode {size[0]}x{size[1]} frames here: x265 corrupts memory when no side is "
            f"{X265_MIN_SIDE} pixels or more; set {{field}} to h264, or make the output larger",
            field="codec",
        )
    return size


def with_codec(options: EnhanceOptions, info: MediaInfo, suffix: str) -> EnhanceOptions:
    """``options`` with the codec resolved for this input and output file type; BadOption when the output
    cannot be written that way (an image as a video, an unsupported container, a codec it cannot hold)."""
    check_output(info.kind, suffix)
    if info.kind != "video":
        return options
    codec = pick_codec(options.codec, info.hdr, suffix.lower())
    check_codec(codec, suffix)
    return dataclasses.replace(options, codec=codec)


def frames_wanted(info: MediaInfo, options: EnhanceOptions) -> int | None:
    """How many frames a run will write: the input's count (doubled by field deinterlacing), capped by
    ``--frames``."""
    plan = decide(options.deinterlace, info.interlacing)
    frames = info.frames * 2 if info.frames and plan and plan[0] == "field" else info.frames
    if frames and options.frames:
        return min(frames, options.frames)
    return options.frames or frames


def output_container(info: MediaInfo, codec: str | None) -> str:
    """A job's result container: Matroska inputs stay Matroska (subtitles), VP9 goes to WebM, FFV1 to MKV,
    images keep their kind (JPEG stays JPEG), everything else is MP4."""
    if info.kind == "image":
        return (
            "jpg"
            if info.format_name in ("jpeg_pipe", "image2") and info.pix_fmt.startswith("yuvj")
            else "png"
        )
    if codec == "ffv1" or info.format_name.startswith("matroska") and info.subtitle_streams:
        return "mkv"
    if codec == "vp9":
        return "webm"
    return "mp4"
