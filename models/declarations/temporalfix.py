"""The learned TemporalFix post-filter, a temporal stage (``models/temporal.py`` builds it)."""

from __future__ import annotations

from ..options import OptionSpec
from ..specs import ModelSpec, register

NAME = "temporalfix"
LICENCE = "Apache-2.0"
#: the centre's index in the 7-frame window (frames t-3 .. t+3)
CENTER = 3
#: the official weights files, by integer strength
STRENGTH_FILES = {
    0: "temporalfix/temporalfix_s0_v1.pth",
    1: "temporalfix/temporalfix_s1_v1.1.pth",
    2: "temporalfix/temporalfix_s2_v1.pth",
    3: "temporalfix/temporalfix_s3_v1.pth",
}
DEFAULT_STRENGTH = 2.0
MAX_STRENGTH = 3.0

register(
    ModelSpec(
        name=NAME,
        task="temporal",
        scale=1,
        licence=LICENCE,
        weights=tuple(STRENGTH_FILES.values()),
        build="models.temporal:build_temporalfix",
        description="Learned TemporalFix post-filter against per-frame flicker (7-frame window), "
        "used after an upscaler: realesr-animevideov3+temporalfix",
        options={
            "strength": OptionSpec(
                DEFAULT_STRENGTH,
                "how strongly neighbouring frames are averaged in (0 = off; fractions blend weight sets)",
                minimum=0.0,
                maximum=MAX_STRENGTH,
            )
        },
        window=(CENTER, CENTER),
    )
)
