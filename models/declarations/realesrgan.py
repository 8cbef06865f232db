"""Real-ESRGAN upscalers: the official networks and their weights (``models/realesrgan.py`` builds them)."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import OptionSpec
from ..specs import ModelSpec, register

LICENCE = "BSD-3-Clause"
DENOISE_OPTION = "denoise_strength"
DEFAULT_DENOISE = 0.5  # the official inference_realesrgan.py default


@dataclass(frozen=True)
class Variant:
    """One official Real-ESRGAN network: its weights file, spandrel architecture and hyper-parameters."""

    name: str
    weights: str
    arch: str  # spandrel architecture id
    scale: int
    hyper: dict  # spandrel hyper-parameters the checkpoint must have
    size_multiple: int
    tile_pad: int
    description: str
    wdn_weights: str | None = None  # the "weak denoise" partner blended in by denoise_strength


# Tile pads, in input pixels: SRVGGNetCompact sees (num_conv + 2) pixels around each output pixel, so a pad
# that large makes a tiled run identical to a whole-frame run. RRDBNet sees far wider but its trained
# response fades within a few dozen pixels. RRDBNet x2 works on a pixel-unshuffled (half-size) frame, so it
# needs even sizes (the official mod_scale = 2; spandrel asks for 4, more than the network needs).
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "realesr-animevideov3",
            "realesr-animevideov3.pth",
            "Compact",
            4,
            {"num_feat": 64, "num_conv": 16},
            1,
            18,
            "Real-ESRGAN x4 for anime video (SRVGGNetCompact, XS): fast",
        ),
        Variant(
            "realesrgan-x4plus",
            "RealESRGAN_x4plus.pth",
            "ESRGAN",
            4,
            {"num_filters": 64, "num_blocks": 23},
            1,
            32,
            "Real-ESRGAN x4plus (RRDBNet, 23 blocks): general photos and video, slow",
        ),
        Variant(
            "realesrgan-x2plus",
            "RealESRGAN_x2plus.pth",
            "ESRGAN",
            2,
            {"num_filters": 64, "num_blocks": 23},
            2,
            32,
            "Real-ESRGAN x2plus (RRDBNet, 23 blocks, pixel-unshuffle): general, slow",
        ),
        Variant(
            "realesr-general-x4v3",
            "realesr-general-x4v3.pth",
            "Compact",
            4,
            {"num_feat": 64, "num_conv": 32},
            1,
            34,
            "Real-ESRGAN general x4 v3 (SRVGGNetCompact, S) with a denoise_strength option in [0, 1]",
            wdn_weights="realesr-general-wdn-x4v3.pth",
        ),
    )
}


def _spec(variant: Variant) -> ModelSpec:
    """The registry entry of one variant."""
    weights = (variant.weights,) + ((variant.wdn_weights,) if variant.wdn_weights else ())
    options = {}
    if variant.wdn_weights:
        options[DENOISE_OPTION] = OptionSpec(
            DEFAULT_DENOISE,
            "0 keeps noise (weak denoise), 1 removes it (strong denoise); blends the two official weights",
            minimum=0,
            maximum=1,
        )
    return ModelSpec(
        name=variant.name,
        task="upscale",
        scale=float(variant.scale),
        licence=LICENCE,
        weights=weights,
        build="models.realesrgan:build",
        description=variant.description,
        options=options,
    )


for _variant in VARIANTS.values():
    register(_spec(_variant))
