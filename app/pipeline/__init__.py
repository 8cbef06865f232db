"""The enhancement pipeline, usable without a server: ``enhance_file(src, dst, options)``."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from models import load_enhancer
from models.errors import BadOption
from models.registry import chain_scale

from .atomic import atomic_output
from .containers import check_codec, check_output
from .encoders import frame_size
from .frames import scaled_size
from .hdr import pick_codec
from .image import enhance_image
from .limits import Limits, OutputLimits, check_output_size, current
from .options import EnhanceOptions
from .probe import MediaInfo, probe
from .progress import Progress, ProgressCallback
from .video import CODECS, RunResult, bit_depth, enhance_video

__all__ = [
    "EnhanceOptions",
    "MediaInfo",
    "Progress",
    "RunResult",
    "check_request",
    "enhance_file",
    "enhancer_for",
    "probe",
    "with_codec",
]


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


def enhancer_for(options: EnhanceOptions):
    """The (cached) enhancer that ``options`` ask for."""
    return load_enhancer(
        options.model,
        device=options.device,
        precision=options.precision,
        tile=options.tile,
        options=options.model_options,
    )


def enhance_file(
    src: str | Path,
    dst: str | Path,
    options: EnhanceOptions,
    progress: ProgressCallback | None = None,
    should_cancel=None,
    info: MediaInfo | None = None,
    limits: Limits | None = None,
) -> RunResult:
    """Enhance a video or image file into ``dst``; nothing is left at ``dst`` unless it succeeds.

    ``limits`` bound the probe and the output (default: this process's, see ``limits.configure``)."""
    started = time.monotonic()
    limits = limits or current()
    info = info or probe(str(src), limits.decode)
    options = with_codec(options, info, Path(dst).suffix)
    check_request(info, options, limits.output)
    enhancer = enhancer_for(options)
    with atomic_output(dst) as tmp:
        if info.kind == "image":
            result = enhance_image(src, tmp, enhancer, options, progress)
        else:
            result = enhance_video(
                src, tmp, enhancer, options, info, progress, should_cancel, limits=limits.decode
            )
    result.seconds = time.monotonic() - started
    return result
