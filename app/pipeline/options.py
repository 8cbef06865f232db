"""The options of one enhancement run, validated in one place for the CLI, the API and workers."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import NoReturn

from models.choices import DEVICES, PRECISIONS
from models.errors import BadOption

#: ``--deinterlace`` / form field ``deinterlace`` (what each does: app.pipeline.interlace)
DEINTERLACE_MODES = ("auto", "off", "frame", "field")
CODECS = ("h264", "h265", "vp9", "ffv1")
#: the CRF scale of each codec's encoder (x264/x265 and NVENC's cq: 0-51, libvpx: 0-63); FFV1 is lossless
CRF_RANGES: dict[str, tuple[int, int] | None] = {
    "h264": (0, 51),
    "h265": (0, 51),
    "vp9": (0, 63),
    "ffv1": None,
}
#: each codec's CRF when none is given. H.264's is 16, not the "visually lossless" 18: an enhancer's output
#: is a master whose model-made detail the encode should keep, and a lower CRF costs x264 no CPU, only bits.
#: Measured on seven 720x576 lut3d pans (docs/BENCHMARKS.md, "Default H.264 quality"): 0.7-1.1 dB closer
#: to the unencoded frames than CRF 18, the same x264 CPU per frame (17.4 ms at 1280x960), files ~30% larger.
DEFAULT_CRF: dict[str, int | None] = {"h264": 16, "h265": 20, "vp9": 31, "ffv1": None}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass
class EnhanceOptions:
    """What to do with one input: which enhancer, how to run it, how to encode the result."""

    model: str = "realesr-animevideov3"
    outscale: float | None = None  # final size / input size; None = the model's own scale
    tile: int = 0  # 0 = automatic
    device: str = "auto"
    precision: str = "auto"
    codec: str | None = None  # None = the container's default (HDR input: h265; .webm: vp9; else h264)
    crf: int | None = None  # None = the codec's default quality
    preset: str = "veryfast"
    frames: int | None = None  # process only the first N frames (a preview)
    batch: int = 0  # 0 = automatic
    model_options: dict = field(default_factory=dict)  # e.g. {"denoise_strength": 0.5}
    deinterlace: str = "auto"  # auto | off | frame | field (app.pipeline.interlace)

    def validate(self) -> EnhanceOptions:
        """Raise BadOption naming the field and the allowed values when something is out of range.

        With no codec yet (it follows the output container) crf is checked against the widest scale;
        callers validate again once ``app.pipeline.with_codec`` has chosen it."""
        if self.outscale is not None and not (math.isfinite(self.outscale) and 0.0625 <= self.outscale <= 16):
            _bad("outscale", f"must be between 0.0625 and 16, got {self.outscale}")
        if not isinstance(self.tile, int) or self.tile < 0 or 0 < self.tile < 32:
            _bad("tile", f"must be 0 (automatic) or >= 32, got {self.tile}")
        if self.device not in DEVICES and not str(self.device).startswith("cuda:"):
            _bad("device", f"must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            _bad("precision", f"must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.codec is not None and self.codec not in CODECS:
            _bad("codec", f"must be one of {', '.join(CODECS)}, got {self.codec!r}")
        if self.crf is not None:
            check_crf(self.crf, self.codec)
        if self.preset not in PRESETS:
            _bad("preset", f"must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.frames is not None and self.frames < 1:
            _bad("frames", f"must be >= 1, got {self.frames}")
        if not isinstance(self.batch, int) or not (0 <= self.batch <= 256):
            _bad("batch", f"must be between 0 (automatic) and 256, got {self.batch}")
        if self.deinterlace not in DEINTERLACE_MODES:
            _bad("deinterlace", f"must be one of {', '.join(DEINTERLACE_MODES)}, got {self.deinterlace!r}")
        return self

    def to_dict(self) -> dict:
        """Plain JSON-able form (stored with a job)."""
        return asdict(self)


def default_crf_text() -> str:
    """The default CRFs as help texts say them: "h264 16, h265 20, vp9 31"."""
    return ", ".join(f"{codec} {crf}" for codec, crf in DEFAULT_CRF.items() if crf is not None)


def check_crf(crf: int, codec: str | None) -> None:
    """BadOption unless ``crf`` is on ``codec``'s scale (no codec yet: the widest one); FFV1 takes none."""
    if codec is not None and CRF_RANGES.get(codec, ()) is None:
        _bad("crf", f"does not apply to {codec}, which is lossless; leave it unset")
    low, high = CRF_RANGES[codec] if codec else (0, max(r[1] for r in CRF_RANGES.values() if r))
    if not (low <= crf <= high):
        scale = f"for {codec} " if codec else ""
        _bad("crf", f"must be between {low} and {high} {scale}(lower is better), got {crf}")


def _bad(field: str, what: str) -> NoReturn:
    """Raise BadOption for ``field``, worded by each boundary in its caller's terms."""
    raise BadOption(f"{{field}} {what}", field=field)
