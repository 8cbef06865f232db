"""Refuse work whose output would be too large, before any frame is processed."""

from __future__ import annotations

import os

from models.errors import BadOption, TooLarge

DEFAULT_MAX_OUTPUT_PIXELS = 7680 * 4320  # 8K UHD per frame


def _env_int(name: str, default: int | None) -> int | None:
    """An integer from the environment; a malformed value is a configuration error, not a silent default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadOption(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise BadOption(f"{name} must be > 0, got {value}")
    return value


def max_output_pixels() -> int:
    """ENHANCE_MAX_OUTPUT_PIXELS, or 8K UHD."""
    return _env_int("ENHANCE_MAX_OUTPUT_PIXELS", DEFAULT_MAX_OUTPUT_PIXELS)


def max_frames() -> int | None:
    """ENHANCE_MAX_FRAMES, or no limit."""
    return _env_int("ENHANCE_MAX_FRAMES", None)


def check_output_size(
    width: int,
    height: int,
    frames: int | None,
    pixel_limit: int | None = None,
    frame_limit: int | None = None,
) -> None:
    """Raise TooLarge when the frame size or the frame count is over the limits (default: from env)."""
    limit = pixel_limit or max_output_pixels()
    if width * height > limit:
        raise TooLarge(
            f"the output would be {width}x{height} = {width * height} pixels per frame, over the limit of "
            f"{limit} (ENHANCE_MAX_OUTPUT_PIXELS); set {{field}} lower or use a smaller input",
            field="outscale",
        )
    cap = frame_limit or max_frames()
    if cap is not None and frames is not None and frames > cap:
        raise TooLarge(
            f"the input has {frames} frames, over the limit of {cap} (ENHANCE_MAX_FRAMES); "
            "use {field} to process fewer",
            field="frames",
        )
