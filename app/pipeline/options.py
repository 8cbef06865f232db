"""The options of one enhancement run, validated in one place for the CLI, the API and workers."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from models.device import DEVICES, PRECISIONS
from models.errors import BadOption

from .interlace import DEINTERLACE_MODES

CODECS = ("h264", "h265", "vp9", "ffv1")
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
        """Raise BadOption naming the allowed values when something is out of range."""
        if self.outscale is not None and not (math.isfinite(self.outscale) and 0.0625 <= self.outscale <= 16):
            raise BadOption(f"outscale must be between 0.0625 and 16, got {self.outscale}")
        if not isinstance(self.tile, int) or self.tile < 0 or 0 < self.tile < 32:
            raise BadOption(f"tile must be 0 (automatic) or >= 32, got {self.tile}")
        if self.device not in DEVICES and not str(self.device).startswith("cuda:"):
            raise BadOption(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise BadOption(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.codec is not None and self.codec not in CODECS:
            raise BadOption(f"codec must be one of {', '.join(CODECS)}, got {self.codec!r}")
        if self.crf is not None and not (0 <= self.crf <= 63):
            raise BadOption(f"crf must be between 0 and 63, got {self.crf}")
        if self.preset not in PRESETS:
            raise BadOption(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.frames is not None and self.frames < 1:
            raise BadOption(f"frames must be >= 1, got {self.frames}")
        if not isinstance(self.batch, int) or not (0 <= self.batch <= 256):
            raise BadOption(f"batch must be between 0 (automatic) and 256, got {self.batch}")
        if self.deinterlace not in DEINTERLACE_MODES:
            raise BadOption(
                f"deinterlace must be one of {', '.join(DEINTERLACE_MODES)}, got {self.deinterlace!r}"
            )
        return self

    def to_dict(self) -> dict:
        """Plain JSON-able form (stored with a job)."""
        return asdict(self)
