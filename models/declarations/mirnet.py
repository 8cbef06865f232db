"""MIRNetv2, one network per task (``models/mirnet.py`` builds them); non-commercial licence: opt-in."""

from __future__ import annotations

from ..specs import ModelSpec, register

LICENCE = "Academic Public License (non-commercial)"

# name -> (checkpoint file, task, scale, description)
MODELS = {
    "mirnetv2-denoise": ("real_denoising", "denoise", 1, "real camera noise removal (SIDD)"),
    "mirnetv2-lowlight": ("enhancement_lol", "low-light", 1, "low-light enhancement (LOL)"),
    "mirnetv2-enhance": ("enhancement_fivek", "enhance", 1, "photo retouching (MIT-Adobe FiveK)"),
    "mirnetv2-sr-x2": ("sr_x2", "upscale", 2, "real-image super-resolution x2 (RealSR)"),
    "mirnetv2-sr-x3": ("sr_x3", "upscale", 3, "real-image super-resolution x3 (RealSR)"),
    "mirnetv2-sr-x4": ("sr_x4", "upscale", 4, "real-image super-resolution x4 (RealSR)"),
}


def weights_path(name: str) -> str:
    """The manifest path (relative to a weights folder) of a MIRNetv2 model's checkpoint."""
    return f"mirnetv2/{MODELS[name][0]}.pth"


for _name, (_, _task, _scale, _what) in MODELS.items():
    register(
        ModelSpec(
            name=_name,
            task=_task,
            scale=float(_scale),
            licence=LICENCE,
            weights=(weights_path(_name),),
            build="models.mirnet:build",
            description=f"MIRNetv2 {_what}",
            noncommercial=True,
        )
    )
