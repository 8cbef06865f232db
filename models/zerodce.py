"""Zero-DCE (Guo, Li et al., CVPR 2020): low-light enhancement by per-pixel light-enhancement curves.

spandrel has no Zero-DCE architecture, so the small curve-estimation network (DCE-Net) is ours. Its
parameter names (``e_conv1`` .. ``e_conv7``) match the official ``enhance_net_nopool``, so the official
``Epoch99.pth`` (a bare state dict) loads strictly. As in the official ``lowlight_test.py`` the input is
the RGB image scaled to [0, 1], at full resolution, without resizing or padding; the output is the image
after all eight curve iterations.

Licence: CC BY-NC 4.0, non-commercial; refused unless ENHANCE_ALLOW_NONCOMMERCIAL=1.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .base import Enhancer, EnhancerInfo
from .declarations.zerodce import LICENCE, NAME, WEIGHTS  # noqa: F401
from .errors import WeightsCorrupt
from .specs import ModelSpec
from .weights import require

FEATURES = 32
ITERATIONS = 8
#: seven 3x3 convolutions see 7 pixels each way; twice that keeps zero-padding seams out of every tile
TILE_PAD = 16


class DCENet(nn.Module):
    """The curve-estimation network: 7 convs, symmetric skip concatenations, 8 RGB curve maps out."""

    def __init__(self, features: int = FEATURES, iterations: int = ITERATIONS):
        super().__init__()
        self.iterations = iterations
        self.e_conv1 = nn.Conv2d(3, features, 3, padding=1)
        self.e_conv2 = nn.Conv2d(features, features, 3, padding=1)
        self.e_conv3 = nn.Conv2d(features, features, 3, padding=1)
        self.e_conv4 = nn.Conv2d(features, features, 3, padding=1)
        self.e_conv5 = nn.Conv2d(2 * features, features, 3, padding=1)
        self.e_conv6 = nn.Conv2d(2 * features, features, 3, padding=1)
        self.e_conv7 = nn.Conv2d(2 * features, 3 * iterations, 3, padding=1)

    def curves(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel curve parameters in [-1, 1]: (N, 3 * iterations, H, W)."""
        f1 = F.relu(self.e_conv1(x))
        f2 = F.relu(self.e_conv2(f1))
        f3 = F.relu(self.e_conv3(f2))
        f4 = F.relu(self.e_conv4(f3))
        f5 = F.relu(self.e_conv5(torch.cat((f3, f4), 1)))
        f6 = F.relu(self.e_conv6(torch.cat((f2, f5), 1)))
        return torch.tanh(self.e_conv7(torch.cat((f1, f6), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The enhanced image: the curves applied to ``x`` one after another."""
        return apply_curves(x, self.curves(x))


def apply_curves(x: torch.Tensor, curves: torch.Tensor) -> torch.Tensor:
    """Apply LE(x) = x + a * (x^2 - x) once per 3-channel group of ``curves``, in float32."""
    # Eight dependent steps: rounding to bf16/fp16 after each one would add up, so round once at the end.
    out = x.float()
    for a in curves.float().split(3, dim=1):
        out = out + a * (out * out - out)
    return out.to(x.dtype)


class ZeroDCEEnhancer(Enhancer):
    """Zero-DCE on frames in [0, 1]; fully convolutional with a small receptive field, so tiles are exact."""

    tile_pad = TILE_PAD

    def __init__(self, info: EnhancerInfo, net: DCENet, device, dtype, tile: int):
        super().__init__(info, device, dtype, tile)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Estimate the curves and apply them."""
        return self.net(x.contiguous(memory_format=torch.channels_last))


def load_network(path: Path, name: str = NAME) -> DCENet:
    """A DCENet with the official state dict at ``path`` loaded strictly (no pickled code executed)."""
    fix = f"fetch it again with: flask weights download {name}"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise WeightsCorrupt(f"weights file {path} for {name} cannot be read ({exc}); {fix}") from exc
    net = DCENet()
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise WeightsCorrupt(f"weights file {path} is not a Zero-DCE checkpoint ({exc}); {fix}") from exc
    return net


def build(spec: ModelSpec, device: torch.device, dtype: torch.dtype, tile: int, **options) -> ZeroDCEEnhancer:
    """Load Epoch99.pth into a Zero-DCE enhancer on ``device`` (eval, channels_last)."""
    path = require(spec.weights[0], model=spec.name)
    net = load_network(path, spec.name).eval().requires_grad_(False)
    net.to(device=device, dtype=dtype, memory_format=torch.channels_last)
    info = EnhancerInfo.from_spec(spec, architecture="Zero-DCE", weights=spec.weights[0])
    return ZeroDCEEnhancer(info, net, device, dtype, tile)
