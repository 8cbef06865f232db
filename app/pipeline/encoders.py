"""Which encoder writes the enhanced video, and with which settings.

The encoder shares the machine with the model. On the CPU x264 gets one thread for frames up to 1080p: the
model's workers already keep every core busy, so x264's frame threads only add context switches and
lookahead copies (one thread costs the least CPU time, and measured as fast end to end: lut3d at 720p 43.3
and 43.4 frames/s against 38.7 and 44.4 with x264's own threads; at 1080p 20.1-20.8 against 20.1-22.0). One
x264 thread encodes a 640x480 frame in ~6 ms, 720p in ~17 ms and 1080p in ~36 ms at ``veryfast``, CRF 16-18;
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
    #: chroma formats it encodes (4:2:0, 4:2:2, 4:4:4); an input's own is kept when listed, else the first
    chromas: tuple[str, ...]
    ten_bit: bool  # high-bit-depth input is encoded at 10 bits (else 8)

    def pix_fmt(self, input_pix_fmt: str | None, bits: int) -> str:
        """The encoder's pixel format for an input in ``input_pix_fmt`` decoded at ``bits`` bits."""
        chroma = chroma_of(input_pix_fmt)
        chroma = chroma if chroma in self.chromas else self.chromas[0]
        return f"yuv{chroma}p" + ("10le" if bits > 8 and self.ten_bit else "")


CODECS = {
    # x264 (High 4:2:2 / High 4:4:4 Predictive) and x265 (RExt) keep 4:2:2 and 4:4:4, at 8 or 10 bits
    "h264": CodecChoice("libx264", ("420", "422", "444"), True),
    "h265": CodecChoice("libx265", ("420", "422", "444"), True),
    # the bundled libvpx is 8-bit only
    "vp9": CodecChoice("libvpx-vp9", ("420", "422", "444"), False),
    # lossless: always full chroma, so nothing is lost after the enhancer's RGB output either
    "ffv1": CodecChoice("ffv1", ("444",), True),
}


def chroma_of(pix_fmt: str | None) -> str:
    """Chroma subsampling of a pixel format: "444" (RGB too), "422", or "420" (grey and the rest)."""
    if not pix_fmt:
        return "420"
    try:
        components = av.VideoFormat(pix_fmt, 4, 4).components
    except ValueError:
        return "420"
    if len(components) < 3:
        return "420"  # grey: no chroma to keep; 4:2:0 is what every player reads
    chroma = (components[1].width, components[1].height)
    return {(4, 4): "444", (2, 4): "422"}.get(chroma, "420")


def frame_size(width: int, height: int, pix_fmt: str) -> tuple[int, int]:
    """``width`` x ``height`` rounded up to what ``pix_fmt`` can hold: even for subsampled chroma (4:2:0
    both ways, 4:2:2 the width); 4:4:4 keeps any size."""
    chroma = av.VideoFormat(pix_fmt, 4, 4).components[1]
    return width + width % (4 // chroma.width), height + height % (4 // chroma.height)


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


def pick_encoder(codec: str, device_type: str, bits: int, chroma: str = "420") -> str:
    """The FFmpeg encoder for ``codec``: NVENC for 8-bit 4:2:0 H.264 when the model runs on CUDA and it
    works (4:4:4 stays on x264: not every NVENC generation encodes it)."""
    choice = CODECS[codec]
    if codec == "h264" and device_type == "cuda" and bits == 8 and chroma == "420" and nvenc_usable():
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
