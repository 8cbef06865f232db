"""Quality metrics against the clean image: PSNR and SSIM always, LPIPS when it can run offline."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

#: the torchvision AlexNet file lpips builds on; without it lpips would try to download it
_ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB of two uint8 RGB images over every pixel and channel (inf when identical)."""
    if reference.shape != test.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {test.shape}")
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """SSIM of two uint8 RGB images: scikit-image's defaults (7x7 uniform window), channels averaged."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(reference, test, channel_axis=2, data_range=255))


def load_lpips(device: torch.device) -> tuple[Callable[[np.ndarray, np.ndarray], float] | None, str]:
    """An LPIPS (AlexNet) scorer, or None and the reason it cannot run without a download."""
    try:
        import lpips
    except ImportError:
        return None, "the lpips package is not installed (pip install lpips)"
    backbone = Path(torch.hub.get_dir()) / "checkpoints" / _ALEXNET_FILE
    if not backbone.is_file():
        return None, f"its AlexNet weights are not in the torch hub cache ({backbone})"
    net = lpips.LPIPS(net="alex", verbose=False).eval().to(device)

    def score(reference: np.ndarray, test: np.ndarray) -> float:
        """LPIPS distance (lower is better) of two uint8 RGB images."""

        def prep(im):
            return torch.from_numpy(im).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(device)

        with torch.inference_mode():
            return float(net(prep(reference), prep(test)).item())

    return score, ""
