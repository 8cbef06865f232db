"""Reference baselines ``bicubic`` and ``lanczos``, and the Lanczos resize used for ``--outscale``.

Lanczos is done as two matrix products (rows, then columns) with precomputed weight matrices, so it
runs on whatever device the frames are on; torch has no Lanczos mode in ``F.interpolate``.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .base import Enhancer, EnhancerInfo
from .declarations.resize import SCALE_OPTION  # noqa: F401
from .specs import ModelSpec

LANCZOS_A = 3


@functools.lru_cache(maxsize=32)
def _lanczos_matrix(in_len: int, out_len: int, device: str) -> torch.Tensor:
    """Weights (out_len, in_len) of a Lanczos-3 resample; widened when shrinking (antialias)."""
    ratio = in_len / out_len
    centres = (torch.arange(out_len, dtype=torch.float64) + 0.5) * ratio - 0.5
    taps = torch.arange(in_len, dtype=torch.float64)
    dist = (taps[None, :] - centres[:, None]) / max(ratio, 1.0)
    weights = torch.sinc(dist) * torch.sinc(dist / LANCZOS_A)
    weights = torch.where(dist.abs() < LANCZOS_A, weights, torch.zeros_like(weights))
    # Taps that would fall outside the image are simply absent; renormalising keeps flat areas flat.
    weights = weights / weights.sum(dim=1, keepdim=True)
    return weights.to(device=device, dtype=torch.float32)


def resize_lanczos(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize an NCHW float tensor to (height, width) with a Lanczos-3 filter."""
    n, c, h, w = x.shape
    if (h, w) == (height, width):
        return x
    dev = str(x.device)
    x32 = x.float()
    rows = _lanczos_matrix(h, height, dev)  # (H', H)
    cols = _lanczos_matrix(w, width, dev)  # (W', W)
    out = torch.matmul(rows, x32)  # (N, C, H', W)
    out = torch.matmul(out, cols.T)  # (N, C, H', W')
    return out.to(x.dtype)


def resize_bicubic(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize an NCHW float tensor with bicubic interpolation (antialiased when shrinking)."""
    shrink = height < x.shape[-2] or width < x.shape[-1]
    out = F.interpolate(
        x.float(), size=(height, width), mode="bicubic", align_corners=False, antialias=shrink
    )
    return out.to(x.dtype)


class ResizeEnhancer(Enhancer):
    """A non-neural baseline: resize by ``scale`` with a classic filter."""

    tileable = False

    def __init__(self, info: EnhancerInfo, device, dtype, resize):
        super().__init__(info, device, torch.float32, tile=0)
        self._resize = resize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Resize the batch by the enhancer's scale."""
        h, w = x.shape[-2:]
        return self._resize(x, round(h * self.scale), round(w * self.scale))


def _builder(resize):
    """A registry build function for a resize baseline."""

    def build(spec: ModelSpec, device, dtype, tile, scale: float) -> Enhancer:
        info = EnhancerInfo(name=spec.name, task=spec.task, scale=scale, licence=spec.licence)
        return ResizeEnhancer(info, device, dtype, resize)

    return build


build_bicubic = _builder(resize_bicubic)
build_lanczos = _builder(resize_lanczos)
