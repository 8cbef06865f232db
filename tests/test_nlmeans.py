"""The nlmeans baseline denoises, and chains in front of an upscaler."""

from __future__ import annotations

import numpy as np
import torch

from models import load_enhancer
from tests.media import gradient_frame


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def test_nlmeans_removes_noise_and_chains():
    clean = gradient_frame(64, 48, 0)
    noisy = (
        np.clip(clean + np.random.default_rng(0).normal(0, 20, clean.shape), 0, 255).round().astype(np.uint8)
    )
    batch = torch.from_numpy(noisy[None]).permute(0, 3, 1, 2).float() / 255
    out = load_enhancer("nlmeans", device="cpu", precision="fp32").process(batch)
    restored = (out[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert psnr(restored, clean) > psnr(noisy, clean) + 3
    chain = load_enhancer("nlmeans+bicubic", device="cpu", precision="fp32")
    assert chain.scale == 4 and chain.process(batch).shape == (1, 3, 192, 256)
