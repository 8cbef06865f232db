"""Image-Adaptive 3D-LUT (``models/lut3d.py`` builds it)."""

from __future__ import annotations

from ..specs import ModelSpec, register

NAME = "lut3d"
LICENCE = "Apache-2.0"
LUTS_FILE = "lut3d/LUTs.pth"
CLASSIFIER_FILE = "lut3d/classifier.pth"

register(
    ModelSpec(
        name=NAME,
        task="colour",
        scale=1,
        licence=LICENCE,
        weights=(LUTS_FILE, CLASSIFIER_FILE),
        build="models.lut3d:build",
        description="Image-Adaptive 3D-LUT (Zeng et al.): sRGB photo retouching, FiveK expert C; real-time",
    )
)
