"""Refuse work whose output would be too large, before any frame is processed; this process's bounds.

The bounds are passed in (``Settings.limits``): the app factory sets this process's default once with
``configure``, and callers may pass their own. Nothing here reads the environment.
"""

from __future__ import annotations

from app.config import DecodeLimits, Limits, OutputLimits
from models.errors import TooLarge

__all__ = ["DecodeLimits", "Limits", "OutputLimits", "check_output_size", "configure", "current"]

_current = Limits()  # library use without an app: the documented defaults


def configure(limits: Limits) -> None:
    """Set the bounds this process uses when a caller passes none (the app factory does, from Settings)."""
    global _current
    _current = limits


def current() -> Limits:
    """The bounds this process uses when a caller passes none."""
    return _current


def check_output_size(
    width: int, height: int, frames: int | None, limits: OutputLimits | None = None
) -> None:
    """Raise TooLarge when the frame size or the frame count is over the limits (default: ``current()``)."""
    limits = limits or _current.output
    if width * height > limits.max_pixels:
        raise TooLarge(
            f"the output would be {width}x{height} = {width * height} pixels per frame, over the limit of "
            f"{limits.max_pixels} (ENHANCE_MAX_OUTPUT_PIXELS); set {{field}} lower or use a smaller input",
            field="outscale",
        )
    cap = limits.max_frames
    if cap is not None and frames is not None and frames > cap:
        raise TooLarge(
            f"the input has {frames} frames, over the limit of {cap} (ENHANCE_MAX_FRAMES); "
            "use {field} to process fewer",
            field="frames",
        )
