"""The weight-free ``stabilize`` temporal stage (``models/stabilize.py`` builds it)."""

from __future__ import annotations

from ..options import OptionSpec
from ..specs import ModelSpec, register

NAME = "stabilize"
#: 0.5: a recursive blend with weight w keeps (1 - w) / (1 + w) of still noise's variance (a third at 0.5,
#: i.e. ~1.7x less flicker), remembers ~3 frames (like TemporalFix's +-3 window), and even where the mask
#: is wrong at most half of a pixel comes from the past, fading to an eighth within three frames
DEFAULT_STRENGTH = 0.5

register(
    ModelSpec(
        name=NAME,
        task="temporal",
        scale=1,
        licence="none (classic filter)",
        weights=(),
        build="models.stabilize:build",
        description="Motion-compensated filter against flicker: blends the previous frame in along "
        "the source's optical flow where motion is reliable, e.g. realesr-animevideov3+stabilize",
        options={
            "strength": OptionSpec(
                DEFAULT_STRENGTH,
                "most of a pixel taken from the motion-compensated previous frame (0 = off)",
                minimum=0.0,
                maximum=1.0,
            )
        },
        window=(1, 0),
    )
)
