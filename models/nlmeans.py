"""``nlmeans``: OpenCV's non-local-means denoiser as a reference baseline, like bicubic for upscaling.

It lets the comparison answer "does denoise-then-upscale beat upscale alone?" with weights that are always
present (``nlmeans+realesr-animevideov3``), and gives the learned denoisers a classic method to beat.
It runs on the CPU, frame by frame, on 8-bit pixels: a baseline, not a fast path.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .base import Enhancer, EnhancerInfo
from .specs import ModelSpec


class NLMeansEnhancer(Enhancer):
    """Non-local means (OpenCV ``fastNlMeansDenoisingColored``) on each frame."""

    tileable = False

    def __init__(self, info: EnhancerInfo, device: torch.device, strength: float):
        super().__init__(info, device, torch.float32, tile=0)
        self.strength = strength

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoise every frame of the batch."""
        frames = x.float().mul(255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        out = np.stack(
            [
                cv2.fastNlMeansDenoisingColored(
                    np.ascontiguousarray(f), None, self.strength, self.strength, 7, 21
                )
                for f in frames
            ]
        )
        return torch.from_numpy(out).to(x.device).permute(0, 3, 1, 2).float().div_(255)


def build(spec: ModelSpec, device, dtype, tile, strength: float) -> Enhancer:
    """The enhancer; ``strength`` arrives parsed and in range (models.registry.link_options)."""
    info = EnhancerInfo(name=spec.name, task=spec.task, scale=1, licence=spec.licence)
    return NLMeansEnhancer(info, device, strength)
