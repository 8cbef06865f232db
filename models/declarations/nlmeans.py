"""The non-local means baseline (``models/nlmeans.py`` builds it)."""

from __future__ import annotations

from ..options import OptionSpec
from ..specs import ModelSpec, register

register(
    ModelSpec(
        name="nlmeans",
        task="denoise",
        scale=1,
        licence="none (classic filter)",
        weights=(),
        build="models.nlmeans:build",
        description="Reference baseline: OpenCV non-local means denoising, no network",
        # h is on the 0-255 pixel scale: below 1 it barely filters, 0 would divide by zero
        options={"strength": OptionSpec(10, "filter strength h (luma and colour)", minimum=1, maximum=50)},
    )
)
