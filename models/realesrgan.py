"""Real-ESRGAN upscalers, built with spandrel from the official ``.pth`` files.

Each frame goes through the steps of the official ``RealESRGANer``: RGB in [0, 1], a 10-pixel reflect
pre-pad on the bottom and right, the network, the pre-pad cropped off, clamp. ``realesr-general-x4v3``
blends its two official checkpoints (deep network interpolation) to set the denoise strength, exactly as
the official ``inference_realesrgan.py`` does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from spandrel import MAIN_REGISTRY

from .base import Enhancer, EnhancerInfo
from .custom import read_state_dict
from .declarations.realesrgan import DEFAULT_DENOISE, DENOISE_OPTION, LICENCE, VARIANTS, Variant  # noqa: F401
from .errors import WeightsCorrupt
from .specs import ModelSpec
from .weights import require

#: RealESRGANer's default pre_pad: the bottom/right borders get reflected context, as in the official code
PRE_PAD = 10
_ARCH_LABELS = {"Compact": "SRVGGNetCompact", "ESRGAN": "RRDBNet"}


class RealESRGANEnhancer(Enhancer):
    """A Real-ESRGAN network, run as the official RealESRGANer runs it (reflect pre-pad, crop)."""

    pre_pad = PRE_PAD

    def __init__(
        self,
        info: EnhancerInfo,
        device: torch.device,
        dtype: torch.dtype,
        tile: int,
        net: torch.nn.Module,
        variant: Variant,
    ):
        super().__init__(info, device, dtype, tile)
        self.net = net
        self.size_multiple = variant.size_multiple
        self.tile_pad = variant.tile_pad
        self._int_scale = variant.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-pad (reflect) bottom/right, run the network, crop the pre-pad off the output."""
        h, w = x.shape[-2:]
        p = self.pre_pad
        # Tiles are pre-padded too: at a tile's inner edges that only changes context beyond its tile_pad
        # overlap, which is cropped away. For x2 the base class pads to even sizes before this pre-pad
        # (the official code pads after it): the two orders differ only in pixels that are cropped off.
        # Reflect needs the pad smaller than the frame; tiny frames fall back to edge replication.
        x = F.pad(x, (0, p, 0, p), mode="reflect" if p < h and p < w else "replicate")
        out = self.net(x.contiguous(memory_format=torch.channels_last))
        s = self._int_scale
        return out[..., : h * s, : w * s]


# -- checkpoints -----------------------------------------------------------------------------------


def read_official(relpath: str, model: str) -> dict[str, torch.Tensor]:
    """The tensors of an official weights file (``params_ema`` preferred over ``params``), loaded safely."""
    hint = f"fetch it again with: flask weights download {model}"
    return read_state_dict(require(relpath, model=model), model, hint)


def dni_blend(
    net_a: dict[str, torch.Tensor],
    net_b: dict[str, torch.Tensor],
    weights: tuple[float, float],
    model: str = "",
) -> dict[str, torch.Tensor]:
    """Deep network interpolation: ``weights[0] * a + weights[1] * b`` for every tensor (official ``dni``)."""
    if net_a.keys() != net_b.keys() or any(net_a[k].shape != net_b[k].shape for k in net_a):
        raise WeightsCorrupt(f"{model}: the two checkpoints to blend do not have the same layout")
    return {k: weights[0] * v + weights[1] * net_b[k] for k, v in net_a.items()}


def variant_state_dict(variant: Variant, options: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """The state dict for ``variant`` (blended by denoise strength where it has one) and info extras."""
    sd = read_official(variant.weights, variant.name)
    if variant.wdn_weights is None:
        return sd, {}
    strength = float(options.get(DENOISE_OPTION, DEFAULT_DENOISE))  # parsed by the registry already
    if strength != 1.0:  # the official script loads x4v3 alone at strength 1, the blend otherwise
        wdn = read_official(variant.wdn_weights, variant.name)
        sd = dni_blend(sd, wdn, (strength, 1.0 - strength), variant.name)
    return sd, {DENOISE_OPTION: strength}


def build_network(variant: Variant, state_dict: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The spandrel network for ``variant`` with ``state_dict`` loaded; WeightsCorrupt if it does not fit."""
    label = f"{_ARCH_LABELS[variant.arch]} x{variant.scale} {variant.hyper}"
    support = MAIN_REGISTRY.get(variant.arch)
    if support is None or not support.detect(state_dict):
        raise WeightsCorrupt(f"{variant.name}: {variant.weights} is not a {label} checkpoint")
    try:
        desc = support.architecture.load(state_dict)
    except Exception as exc:  # spandrel reports bad layouts as KeyError, RuntimeError, AssertionError...
        raise WeightsCorrupt(f"{variant.name}: {variant.weights} does not fit {label}: {exc}") from exc
    found = {k: desc.model.hyperparameters.get(k) for k in variant.hyper}
    if found != variant.hyper or desc.scale != variant.scale or desc.input_channels != 3:
        raise WeightsCorrupt(
            f"{variant.name}: {variant.weights} is a {desc.architecture.name} x{desc.scale} {found} "
            f"checkpoint, expected {label}; is it the right file?"
        )
    return desc.model


def build(spec: ModelSpec, device: torch.device, dtype: torch.dtype, tile: int, **options) -> Enhancer:
    """Load ``spec``'s official weights once and return its enhancer on ``device`` in ``dtype``."""
    variant = VARIANTS[spec.name]
    sd, extra = variant_state_dict(variant, options)
    net = build_network(variant, sd)
    # eval mode and one move/cast: parameters live on the device in the compute dtype from here on
    net = net.eval().requires_grad_(False).to(device=device, dtype=dtype, memory_format=torch.channels_last)
    info = EnhancerInfo(
        name=spec.name,
        task=spec.task,
        scale=float(variant.scale),
        licence=spec.licence,
        extra={"architecture": _ARCH_LABELS[variant.arch], **extra},
    )
    return RealESRGANEnhancer(info, device, dtype, tile, net, variant)
