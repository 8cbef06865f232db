"""MIRNetv2 (Zamir et al., TPAMI 2022): denoising, low-light, FiveK retouching and real-image SR.

The network comes from ``spandrel_extra_arches`` (a port of the official ``MIRNet_v2`` with the same
parameter names); the official release checkpoints are ``{"params": state_dict}``. Every checkpoint uses
the same hyper-parameters (n_feat 80, chan_factor 1.5, n_RRG 4, n_MRB 2, bias False) and keeps the
image size: even the SR models are "scale 1" networks trained on RealSR v1, whose LR images were already
zoomed to the HR size with bicubic interpolation during alignment. So the SR enhancers upsample first
(Keys cubic, a = -0.5, the kernel of that MATLAB alignment) and then restore.

Licence: Academic Public License, non-commercial; refused unless ENHANCE_ALLOW_NONCOMMERCIAL=1.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from spandrel import ModelLoader, UnsupportedModelError
from spandrel_extra_arches import EXTRA_REGISTRY

from .base import Enhancer, EnhancerInfo
from .declarations.mirnet import LICENCE, MODELS, weights_path  # noqa: F401
from .errors import WeightsCorrupt
from .specs import ModelSpec
from .weights import require

log = logging.getLogger(__name__)

ARCH_ID = "MIRNet2"
#: the network pools twice by 2 (MRB down4) and must upsample back to the same size
NET_MULTIPLE = 4
#: the official demo's tile overlap; also a multiple of NET_MULTIPLE so tiles stay on the pooling grid
TILE_PAD = 32

# -- the pre-resize of the SR models ---------------------------------------------------------------


def _keys_cubic(d: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys' cubic convolution kernel at distances ``d``; a = -0.5 is MATLAB's (and PIL's) bicubic."""
    d = d.abs()
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((d - 5) * d + 8) * d * a - 4 * a
    return torch.where(d <= 1, near, torch.where(d < 2, far, torch.zeros_like(d)))


def _upsample_axis(x: torch.Tensor, scale: int, dim: int) -> torch.Tensor:
    """Cubic upsampling by an integer ``scale`` along one axis, pixel centres aligned, edges replicated."""
    n = x.shape[dim]
    pos = (torch.arange(n * scale, dtype=torch.float64) + 0.5) / scale - 0.5
    base = pos.floor()
    frac = pos - base
    out = None
    for k in range(-1, 3):
        idx = (base + k).clamp_(0, n - 1).long().to(x.device)
        w = _keys_cubic(frac - k).to(x.dtype).to(x.device)
        shape = [1] * x.dim()
        shape[dim] = -1
        term = x.index_select(dim, idx) * w.view(shape)
        out = term if out is None else out.add_(term)
    return out


def cubic_upsample(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Upsample an NCHW batch by an integer factor with the bicubic (a = -0.5) kernel, separably."""
    return _upsample_axis(_upsample_axis(x, scale, -2), scale, -1)


# -- the enhancer ----------------------------------------------------------------------------------


class MIRNetEnhancer(Enhancer):
    """One MIRNetv2 checkpoint; SR variants upsample the frame before the (same-size) network."""

    tile_pad = TILE_PAD

    def __init__(self, info: EnhancerInfo, net: torch.nn.Module, device, dtype, tile: int, upscale: int):
        # The network's input must be a multiple of 4 *after* the upsampling: fewer input pixels will do.
        self.size_multiple = NET_MULTIPLE // math.gcd(NET_MULTIPLE, upscale)
        # The network runs on the upsampled frame: start automatic tiling at the same network size.
        self.auto_tile_pixels = Enhancer.auto_tile_pixels // upscale**2
        self.upscale = upscale
        super().__init__(info, device, dtype, tile)
        self.net = net

    @property
    def tile(self) -> int:
        """Tile size in input pixels, always a multiple of ``size_multiple`` (0 = automatic)."""
        return self._tile

    @tile.setter
    def tile(self, value: int) -> None:
        # The network pools 4:1; a tile that starts off that grid sees different pooled features than
        # the whole frame does. Tiles and tile_pad on the grid keep tiled output close to whole-frame.
        m = self.size_multiple
        self._tile = 0 if not value else max(m, value - value % m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upsample (SR variants only), then restore with the network."""
        if self.upscale > 1:
            x = cubic_upsample(x, self.upscale)
        return self.net(x.contiguous(memory_format=torch.channels_last))


def _read_params(path: Path, name: str) -> dict:
    """The state dict of an official checkpoint (``{"params": ...}`` or bare), loaded without pickled code."""
    fix = f"fetch it again with: flask weights download {name}"
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise WeightsCorrupt(f"weights file {path} for {name} cannot be read ({exc}); {fix}") from exc
    params = ckpt.get("params", ckpt) if isinstance(ckpt, dict) else None
    if not params or not all(isinstance(v, torch.Tensor) for v in params.values()):
        raise WeightsCorrupt(f"weights file {path} for {name} holds no state dict; {fix}")
    return params


def _build_network(params: dict, path: Path, name: str):
    """Detect and load the MIRNetv2 network strictly through spandrel; WeightsCorrupt if it is not one."""
    fix = f"fetch it again with: flask weights download {name}"
    try:
        # Only the extra-arches registry: MAIN_REGISTRY stays untouched by this module.
        desc = ModelLoader(registry=EXTRA_REGISTRY).load_from_state_dict(params)
    except (UnsupportedModelError, RuntimeError, KeyError, ValueError) as exc:
        raise WeightsCorrupt(f"weights file {path} is not a MIRNetv2 checkpoint ({exc}); {fix}") from exc
    if desc.architecture.id != ARCH_ID:
        raise WeightsCorrupt(
            f"weights file {path} holds a {desc.architecture.id} network, not MIRNetv2; {fix}"
        )
    return desc


def _negotiate_dtype(dtype: torch.dtype, device: torch.device, supports_half: bool) -> torch.dtype:
    """fp16 only where the architecture supports it; otherwise bf16 on CUDA if available, else fp32."""
    if dtype != torch.float16 or supports_half:
        return dtype
    fallback = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    log.info("MIRNetv2 is not validated in fp16 (overflow risk); running it in %s", fallback)
    return fallback


def build(spec: ModelSpec, device: torch.device, dtype: torch.dtype, tile: int, **options) -> MIRNetEnhancer:
    """Load the spec's checkpoint into a MIRNetv2 enhancer on ``device`` (eval, channels_last)."""
    path = require(spec.weights[0], model=spec.name)
    desc = _build_network(_read_params(path, spec.name), path, spec.name)
    dtype = _negotiate_dtype(dtype, device, desc.supports_half)
    net = desc.model.eval().requires_grad_(False)
    net.to(device=device, dtype=dtype, memory_format=torch.channels_last)
    info = EnhancerInfo.from_spec(spec, architecture=ARCH_ID, weights=spec.weights[0])
    return MIRNetEnhancer(info, net, device, dtype, tile, upscale=int(spec.scale))
