"""Frame sizes and bit depths, known without decoding (shared by the request checks and the run)."""

from __future__ import annotations

import av


def scaled_size(width: int, height: int, model_scale: float, outscale: float | None) -> tuple[int, int]:
    """The enhanced frame size: the model's own scale, or ``outscale`` when given."""
    scale = outscale if outscale is not None else model_scale
    return max(1, round(width * scale)), max(1, round(height * scale))


def bit_depth(pix_fmt: str | None) -> int:
    """8 for ordinary formats; 10/12/16 for high-bit-depth ones (from the pixel format name)."""
    if not pix_fmt:
        return 8
    fmt = av.VideoFormat(pix_fmt)
    return max(c.bits for c in fmt.components) if fmt.components else 8
