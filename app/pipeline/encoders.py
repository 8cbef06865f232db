"""Which encoder writes the enhanced video, and with which settings.

The encoder shares the machine with the model. On the CPU x264 gets one thread for frames up to 1080p: the
model's workers already keep every core busy, so x264's frame threads only add context switches and
lookahead copies (one thread costs the least CPU time, and measured as fast end to end: lut3d at 720p 43.3
and 43.4 frames/s against 38.7 and 44.4 with x264's own threads; at 1080p 20.1-20.8 against 20.1-22.0). One
x264 thread encodes a 640x480 frame in ~6 ms, 720p in ~17 ms and 1080p in ~36 ms at ``veryfast``, CRF 18;
above 1080p a single thread would become the slowest stage, so x264 threads itself there. With the model on
a CUDA device the cores are free: x264 threads itself, or NVENC encodes on the GPU when this FFmpeg has it
and the driver answers.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from fractions import Fraction

import av

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodecChoice:
    """How one ``--codec`` value is encoded."""

    encoder: str
    pix_fmt: str
    pix_fmt_10bit: str
    default_crf: int | None
    needs_even: bool


CODECS = {
    "h264": CodecChoice("libx264", "yuv420p", "yuv420p10le", 18, True),
    "h265": CodecChoice("libx265", "yuv420p", "yuv420p10le", 20, True),
    "vp9": CodecChoice("libvpx-vp9", "yuv420p", "yuv420p", 31, True),  # the bundled libvpx is 8-bit only
    "ffv1": CodecChoice("ffv1", "yuv444p", "yuv444p10le", None, False),
}
CODEC_IDS = {"h264": "h264", "h265": "hevc", "vp9": "vp9", "ffv1": "ffv1"}
NVENC = "h264_nvenc"
#: x264/x265 preset -> NVENC preset (p1 fastest .. p7 best)
_NVENC_PRESETS = {
    "ultrafast": "p1",
    "superfast": "p2",
    "veryfast": "p3",
    "faster": "p4",
    "fast": "p4",
    "medium": "p5",
    "slow": "p6",
    "slower": "p7",
    "veryslow": "p7",
}


@functools.cache
def nvenc_usable() -> bool:
    """True when this FFmpeg has NVENC and a GPU driver accepts a session (probed once, by opening one)."""
    if NVENC not in av.codecs_available:
        return False
    try:
        ctx = av.CodecContext.create(NVENC, "w")
        ctx.width, ctx.height, ctx.pix_fmt = 256, 256, "yuv420p"
        ctx.time_base = Fraction(1, 25)
        ctx.open()
    except Exception as exc:  # noqa: BLE001 - no GPU, no driver, no free session: all mean "use x264"
        log.debug("NVENC is not usable here: %s", exc)
        return False
    return True


def pick_encoder(codec: str, device_type: str, bits: int) -> str:
    """The FFmpeg encoder for ``codec``: NVENC for 8-bit H.264 when the model runs on CUDA and it works."""
    choice = CODECS[codec]
    if codec == "h264" and device_type == "cuda" and bits == 8 and nvenc_usable():
        return NVENC
    return choice.encoder


#: output pixels per frame up to which x264 runs on one thread when the model is on the CPU (1080p)
SINGLE_THREAD_PIXELS = 1920 * 1080


def encoder_options(
    encoder: str,
    crf: int | None,
    preset: str,
    device_type: str,
    no_bframes: bool = False,
    pixels: int = 0,
    hdr=None,
) -> dict[str, str]:
    """The encoder's private options for ``pixels``-sized frames; ``no_bframes`` for concatenated segments;
    ``hdr`` (an app.pipeline.hdr.HdrInfo) writes the input's HDR signalling into an x265 stream."""
    options: dict[str, str] = {}
    if encoder == NVENC:
        # constant quality like x264's CRF; NVENC's cq scale is close to x264's crf scale
        options.update({"preset": _NVENC_PRESETS.get(preset, "p4"), "rc": "vbr", "b": "0"})
        if crf is not None:
            options["cq"] = str(crf)
        if no_bframes:
            options["bf"] = "0"
        return options
    if crf is not None:
        options["crf"] = str(crf)
    if encoder in ("libx264", "libx265"):
        options["preset"] = preset
    if encoder == "libx264":
        if device_type == "cpu" and pixels <= SINGLE_THREAD_PIXELS:
            options["threads"] = "1"  # see the module docstring
        if no_bframes:
            options["bf"] = "0"
    if encoder == "libx265":
        params = "log-level=error" + (":bframes=0" if no_bframes else "")
        options["x265-params"] = params + (f":{hdr.x265_params()}" if hdr else "")
    if encoder == "libvpx-vp9":
        options.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"})
    return options
