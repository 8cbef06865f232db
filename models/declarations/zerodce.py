"""Zero-DCE low-light enhancement (``models/zerodce.py`` builds it)."""

from __future__ import annotations

from ..specs import ModelSpec, register

NAME = "zero-dce"
LICENCE = "CC BY-NC 4.0 (non-commercial)"
WEIGHTS = "zero-dce/Epoch99.pth"

register(
    ModelSpec(
        name=NAME,
        task="low-light",
        scale=1.0,
        licence=LICENCE,
        weights=(WEIGHTS,),
        build="models.zerodce:build",
        description="Zero-DCE low-light enhancement (deep curve estimation, tiny and fast)",
        noncommercial=True,
    )
)
