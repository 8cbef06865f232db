"""The ``bicubic`` and ``lanczos`` baselines (``models/resize.py`` builds them)."""

from __future__ import annotations

from ..options import OptionSpec
from ..specs import ModelSpec, register

SCALE_OPTION = OptionSpec(4, "resize factor", "number", minimum=0.125, maximum=8)

for _name, _what in (("bicubic", "bicubic interpolation"), ("lanczos", "Lanczos-3 interpolation")):
    register(
        ModelSpec(
            name=_name,
            task="upscale",
            scale=4,
            licence="none (classic filter)",
            weights=(),
            build=f"models.resize:build_{_name}",
            description=f"Reference baseline: {_what}, no network",
            options={"scale": SCALE_OPTION},
        )
    )
