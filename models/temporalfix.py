"""TemporalFix (pifroggi, Apache-2.0): a learned 7-frame post-filter against per-frame upscaler flicker.

For output frame t the network sees frames t-3 .. t+3 (``B x 7 x 3 x H x W`` in [0, 1]) and returns a new
frame t. It aligns each of the six neighbours to the centre frame with a coarse-to-fine flow estimator
(three stages at 1/8, 1/4 and 1/2 resolution, RIFE-style: each stage predicts a flow update, a confidence
logit and a small latent), warps the neighbours with the final flow, refines a per-pixel confidence at half
resolution, and averages the centre with the neighbours it trusts. Where too few neighbours are trusted
the centre frame is kept, so new content, occlusions and cuts pass through unchanged.

This is our own implementation of the architecture of ``vs_temporalfix/models/temporalfix_arch.py``
(vs-temporalfix 2.4.1). Module and parameter names follow the official state dicts, so the released files
``temporalfix_s{0,1,2,3}*.pth`` load with ``strict=True``. The arithmetic is the original's, reorganised
for speed where that changes nothing but rounding:

* every downsample is "5x5 binomial low-pass at full resolution, then bilinear resize"; the input frames
  and their features are resized to each level in one call (not per tensor), the blur runs as a
  channels-last depthwise conv, and for exact even factors blur + resize is one strided 6x6 kernel;
* tensors that are resized to the same size are concatenated and resized in one call;
* the final warp moves the six neighbours and the validity mask in one ``grid_sample`` call;
* convolutions run in the compute dtype (bf16 on CPUs that have it), everything else in fp32: flows and
  sampling grids in bf16 would move pixels by whole pixels at 640 px width (8-bit mantissa).

    load_temporalfix(weights, strength, device, dtype) -> TemporalFix   official files, strength 0-3
    temporalfix_frame(model, window)                    -> frame t         what a pipeline stage calls
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .base import load_weights_state
from .declarations.temporalfix import (  # noqa: F401 - the network's constants are declared there
    CENTER,
    DEFAULT_STRENGTH,
    LICENCE,
    MAX_STRENGTH,
    NAME,
    STRENGTH_FILES,
)
from .errors import BadOption, UnsupportedInput, WeightsCorrupt
from .weights import require

#: frames per window (frames t-3 .. t+3; the centre is CENTER)
WINDOW = 7
#: the window positions of the six neighbours, and their time offsets as the network was trained to see
#: them (a constant input plane per neighbour: -1 for t-3 .. +1 for t+3)
NEIGHBOURS = (0, 1, 2, 4, 5, 6)
NEIGHBOUR_TIMES = (-1.0, -2.0 / 3.0, -1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 1.0)
#: downscale factors of the three alignment stages, coarse to fine, and of the confidence refiner
STAGE_SCALES = (8, 4, 2)
CONFIDENCE_SCALE = 2
#: the original's averaging constants (its defaults, also what vs-temporalfix passes)
CONF_THRESHOLD = 0.6
MIN_NEIGHBOURS = 1
GATE_SLOPE = 12.0
COUNT_SLOPE = 4.0
#: feature channels of the frame encoder, and channels of each stage's output
FEATURES = 4
STAGE_OUTPUTS = 11  # 2 flow + 1 confidence logit + 8 latent
NEGATIVE_SLOPE = 0.2


# -- resampling helpers ----------------------------------------------------------------------------


def scaled_size(size: tuple[int, int], scale: int) -> tuple[int, int]:
    """(h, w) divided by ``scale``, rounded up: every pyramid level keeps the frame's last pixels."""
    h, w = size
    return (-(-h // scale), -(-w // scale))


#: the 1-D binomial taps [1, 4, 6, 4, 1] / 16; their outer product is the original's 5x5 blur kernel
BINOMIAL = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)
#: the blur followed by a bilinear halving (the mean of two neighbours): [1, 5, 10, 10, 5, 1] / 32
BINOMIAL_HALVED = (1 / 32, 5 / 32, 10 / 32, 10 / 32, 5 / 32, 1 / 32)


def _depthwise(x: torch.Tensor, taps: tuple[float, ...], stride: int = 1, padding: int = 0) -> torch.Tensor:
    """The same separable 2-D kernel (outer product of ``taps``) on every channel of x (N, C, H, W).

    Run as one 2-D depthwise conv in channels-last layout: oneDNN's fastest form on the CPU here
    (4x faster than NCHW, and than two 1-D passes or shifted-slice sums).
    """
    c = x.shape[1]
    line = torch.tensor(taps, dtype=x.dtype, device=x.device)
    kernel = torch.outer(line, line).expand(c, 1, -1, -1).contiguous(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
    return F.conv2d(x, kernel, stride=stride, padding=padding, groups=c)


def lowpass(x: torch.Tensor) -> torch.Tensor:
    """The original's 5x5 binomial blur with zero padding, per channel (N, C, H, W)."""
    return _depthwise(x, BINOMIAL, padding=2)


def downsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Blur, then bilinear to the smaller ``size``; fused into one strided conv for exact even factors.

    With align_corners=False an exact factor s samples the blurred frame halfway between pixels
    s*i + s/2 - 1 and s*i + s/2, so blur + resize is one 6x6 kernel ([1,5,10,10,5,1]/32 squared) at
    stride s: the same sums in another order, computed only where they are used. Other sizes (a side
    not divisible by s) take the literal path.
    """
    h, w = x.shape[-2:]
    s = h // size[0]
    if s >= 2 and s % 2 == 0 and (h, w) == (size[0] * s, size[1] * s):
        # output i reads rows s*i + s/2 - 3 .. s*i + s/2 + 2: padding 3 - s/2, a crop when negative
        pad = 3 - s // 2
        if pad < 0:
            x, pad = x[..., -pad:, -pad:], 0
        return _depthwise(x, BINOMIAL_HALVED, stride=s, padding=pad)[..., : size[0], : size[1]]
    return bilinear(lowpass(x), size)


def bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize to ``size`` (half-pixel centres, no antialias); a no-op at the same size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The original's resize: low-pass first when either side shrinks, then bilinear."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if size[0] < x.shape[-2] or size[1] < x.shape[-1]:
        return downsample(x, size)
    return bilinear(x, size)


def rescale_flow(flow: torch.Tensor, old: tuple[int, int]) -> torch.Tensor:
    """Flow (N, 2, h, w) in pixels of an ``old``-sized frame, resampled already -> pixels of (h, w)."""
    h, w = flow.shape[-2:]
    if (h, w) == tuple(old):
        return flow
    scale = torch.tensor([w / old[1], h / old[0]], dtype=flow.dtype, device=flow.device)
    return flow * scale.view(1, 2, 1, 1)


def _pixel_centres(h: int, w: int, device: torch.device) -> torch.Tensor:
    """grid_sample coordinates (1, h, w, 2) of every pixel centre (align_corners=False), in fp32."""
    xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) * (2.0 / w) - 1.0
    ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) * (2.0 / h) - 1.0
    return torch.stack((xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w)), dim=-1).unsqueeze(0)


def backwarp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``x`` (N, C, h, w) at each pixel + ``flow`` (N, 2, h, w) pixels; zeros outside the frame."""
    h, w = flow.shape[-2:]
    # the grid is built in fp32 whatever x's dtype: normalised coordinates need more than 8 bits
    step = torch.tensor([2.0 / w, 2.0 / h], dtype=torch.float32, device=flow.device)
    grid = _pixel_centres(h, w, flow.device) + flow.float().permute(0, 2, 3, 1) * step
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)


# -- network blocks (attribute names = official state-dict keys) -----------------------------------


def _conv_act(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv + LeakyReLU(0.2), wrapped in a Sequential as the official ``conv`` helper is (keys ``.0``)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True))


class FrameEncoder(nn.Module):
    """Per-frame features: four 3x3 convs at half resolution, 4 channels, resized back to the frame."""

    def __init__(self):
        super().__init__()
        self.cnn0 = nn.Conv2d(3, 16, 3, 2, 1)
        self.cnn1 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn2 = nn.Conv2d(16, 16, 3, 1, 1)
        self.proj = nn.Conv2d(16, FEATURES, 3, 1, 1)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (N, 3, H, W) -> features (N, 4, H, W)."""
        y = self.act(self.cnn0(frames))
        y = self.act(self.cnn1(y))
        y = self.act(self.cnn2(y))
        return bilinear(self.proj(y), frames.shape[-2:])


class ScaledResidual(nn.Module):
    """relu(conv(x) * beta + x) with a learned per-channel ``beta``; full 3x3 conv (the coarse stage)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones((1, channels, 1, 1)))
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One residual step."""
        return self.act(torch.addcmul(x, self.conv(x), self.beta))


class SeparableScaledResidual(nn.Module):
    """As ScaledResidual with a depthwise 3x3 + pointwise 1x1 conv (the two finer, larger stages)."""

    def __init__(self, channels: int):
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels)
        self.pw = nn.Conv2d(channels, channels, 1, 1, 0)
        self.beta = nn.Parameter(torch.ones((1, channels, 1, 1)))
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One residual step."""
        return self.act(torch.addcmul(x, self.pw(self.dw(x)), self.beta))


class FlowStage(nn.Module):
    """One alignment stage: two stride-2 convs, residual blocks, an 11-channel head at the stage size."""

    def __init__(self, in_channels: int, channels: int, blocks: int, separable: bool):
        super().__init__()
        self.conv0 = nn.Sequential(
            _conv_act(in_channels, channels // 2, stride=2), _conv_act(channels // 2, channels, stride=2)
        )
        block = SeparableScaledResidual if separable else ScaledResidual
        self.convblock = nn.Sequential(*[block(channels) for _ in range(blocks)])
        self.out_conv = nn.Conv2d(channels, STAGE_OUTPUTS, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Stage input (N, C, h, w) -> (N, 11, h, w): flow update, confidence logit, latent."""
        return bilinear(self.out_conv(self.convblock(self.conv0(x))), x.shape[-2:])


class Aligner(nn.Module):
    """Coarse-to-fine flow from the centre frame to each neighbour (``aligner.blocks.*`` in the files)."""

    def __init__(self, channels=(96, 64, 48), blocks: int = 4, separable=(False, True, True)):
        super().__init__()
        # stage 0 sees centre, neighbour, their features and the time plane (3+3+4+4+1); later stages
        # see the neighbour warped by the flow so far, plus the previous confidence, latent and flow
        inputs = (15,) + (15 + 1 + 8 + 2,) * (len(channels) - 1)
        self.blocks = nn.ModuleList(
            FlowStage(cin, c, blocks, sep) for cin, c, sep in zip(inputs, channels, separable, strict=True)
        )


class ConfidenceRefiner(nn.Module):
    """Corrects the aligner's confidence logit at half resolution from colour and feature agreement."""

    def __init__(self, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            _conv_act(25, hidden), _conv_act(hidden, hidden), nn.Conv2d(hidden, 1, 3, 1, 1)
        )


class TemporalFix(nn.Module):
    """The TemporalFix network: (B, 7, 3, H, W) in [0, 1] -> frame t (B, 3, H, W); any H and W."""

    def __init__(self):
        super().__init__()
        self.encode = FrameEncoder()
        self.aligner = Aligner()
        self.conf_head = ConfidenceRefiner()
        #: the dtype convolutions run in; set by load_temporalfix (parameters are cast to it)
        self.compute_dtype = torch.float32

    # convolutions in the compute dtype, their results back in fp32 for the resampling and blending
    def _run(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Apply ``module`` in the compute dtype, channels-last (oneDNN's fast layout), fp32 out."""
        return module(x.to(self.compute_dtype, memory_format=torch.channels_last)).float()

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """Window (B, 7, 3, H, W) -> the filtered centre frame (B, 3, H, W), fp32, not clamped."""
        if window.dim() != 5 or window.shape[1] != WINDOW or window.shape[2] != 3:
            raise UnsupportedInput(f"{NAME} needs a (B, 7, 3, H, W) window, got {tuple(window.shape)}")
        window = window.float()
        b, _, _, h, w = window.shape
        n = len(NEIGHBOURS)
        full = (h, w)
        # channels-last once: the encoder's convs and the blurs all run in that layout
        frames = window.reshape(b * WINDOW, 3, h, w).contiguous(memory_format=torch.channels_last)
        feats = self._run(self.encode, frames)

        # frames and features of all 7 frames at every level needed, each level resized from full size
        both = torch.cat((frames, feats), dim=1)  # (B*7, 7, H, W)
        sizes = {scaled_size(full, s) for s in (*STAGE_SCALES, CONFIDENCE_SCALE)}
        pyramid = {size: _split_window(resize(both, size), b) for size in sizes}
        times = torch.tensor(NEIGHBOUR_TIMES, device=window.device).view(1, n, 1, 1, 1)

        flow, conf_logit = self._align(pyramid, full, times, b)
        flow, conf_logit = _upsample_flow_conf(flow, conf_logit, full)

        # warp the neighbours (and a plane of ones: which pixels came from inside the frame) at full size
        neighbours = window[:, NEIGHBOURS].reshape(b * n, 3, h, w)
        ones = neighbours.new_ones((b * n, 1, h, w))
        warped_all = backwarp(torch.cat((neighbours, ones), dim=1), flow)
        warped, valid = warped_all[:, :3], warped_all[:, 3:]

        conf_logit = self._refine(
            pyramid[scaled_size(full, CONFIDENCE_SCALE)], times, warped, flow, conf_logit
        )
        conf = torch.sigmoid(bilinear(conf_logit, full)) * valid
        return _conservative_average(window[:, CENTER], warped.view(b, n, 3, h, w), conf.view(b, n, 1, h, w))

    def _align(self, pyramid: dict, full: tuple[int, int], times: torch.Tensor, b: int):
        """The three stages: flow (B*6, 2, h, w) and confidence logit (B*6, 1, h, w) at the 1/2 level."""
        flow = conf_logit = latent = None
        size = None
        for scale, stage in zip(STAGE_SCALES, self.aligner.blocks, strict=True):
            previous, size = size, scaled_size(full, scale)
            centre, others = pyramid[size]
            n = others.shape[1]
            centre = centre[:, None].expand(-1, n, -1, -1, -1)
            time_plane = times.expand(b, -1, 1, *size)
            if flow is None:
                parts = (centre[:, :, :3], others[:, :, :3], centre[:, :, 3:], others[:, :, 3:], time_plane)
                x = _flatten_pairs(torch.cat(parts, dim=2))
                out = self._run(stage, x)
                flow = out[:, :2]
            else:
                # upsampling never blurs, so flow, confidence and latent go through one bilinear call
                carried = bilinear(torch.cat((flow, conf_logit, latent), dim=1), size)
                flow = rescale_flow(carried[:, :2], previous)
                conf_logit, latent = carried[:, 2:3], carried[:, 3:]
                moved = backwarp(_flatten_pairs(others), flow).view(b, n, 7, *size)
                parts = (centre[:, :, :3], moved[:, :, :3], centre[:, :, 3:], moved[:, :, 3:], time_plane)
                x = torch.cat((_flatten_pairs(torch.cat(parts, dim=2)), conf_logit, latent, flow), dim=1)
                out = self._run(stage, x)
                flow = flow + out[:, :2]
            conf_logit, latent = out[:, 2:3], out[:, 3:]
        return flow, conf_logit

    def _refine(
        self, level: tuple, times: torch.Tensor, warped: torch.Tensor, flow: torch.Tensor, conf: torch.Tensor
    ) -> torch.Tensor:
        """The refined confidence logit (B*6, 1, h/2, w/2) from the full-size warp and flow."""
        centre, others = level
        b, n = others.shape[:2]
        size = tuple(others.shape[-2:])
        # the original takes the full-size flow, confidence and warped frames back down with its blur;
        # one blur and one resize for all three
        down = resize(torch.cat((warped, flow, conf), dim=1), size)
        warped_h, flow_h, conf_h = down[:, :3], rescale_flow(down[:, 3:5], flow.shape[-2:]), down[:, 5:6]
        feats_moved = backwarp(_flatten_pairs(others[:, :, 3:]), flow_h)
        centre = _flatten_pairs(centre[:, None].expand(-1, n, -1, -1, -1))
        centre_rgb, centre_feat = centre[:, :3], centre[:, 3:]
        x = torch.cat(
            (
                centre_rgb,
                warped_h,
                (warped_h - centre_rgb).abs(),
                centre_feat,
                feats_moved,
                (feats_moved - centre_feat).abs(),
                flow_h,
                torch.hypot(flow_h[:, :1], flow_h[:, 1:2]),  # the flow's length, 4x faster than vector_norm
                _flatten_pairs(times.expand(b, -1, 1, *size)),
            ),
            dim=1,
        )
        return conf_h + self._run(self.conf_head.net, x)


def _split_window(level: torch.Tensor, b: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A level (B*7, 7, h, w) -> centre (B, 7, h, w) and neighbours (B, 6, 7, h, w)."""
    level = level.view(b, WINDOW, *level.shape[1:])
    return level[:, CENTER], level[:, NEIGHBOURS]


def _flatten_pairs(x: torch.Tensor) -> torch.Tensor:
    """(B, 6, C, h, w) -> (B*6, C, h, w): each centre/neighbour pair is one batch item."""
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def _upsample_flow_conf(flow: torch.Tensor, conf: torch.Tensor, size: tuple[int, int]):
    """Flow and confidence logit from the finest stage to the full frame (one bilinear call)."""
    if tuple(flow.shape[-2:]) == tuple(size):
        return flow, conf
    both = bilinear(torch.cat((flow, conf), dim=1), size)
    return rescale_flow(both[:, :2], flow.shape[-2:]), both[:, 2:]


def _conservative_average(centre: torch.Tensor, warped: torch.Tensor, conf: torch.Tensor) -> torch.Tensor:
    """Centre (B, 3, H, W) averaged with the neighbours (B, 6, 3, H, W) whose confidence passes a soft gate.

    Each neighbour's weight is its confidence times a steep sigmoid gate at 0.6; the centre always
    weighs 1. A second sigmoid on the number of neighbours through the gate fades back to the centre
    frame when fewer than one passes, so unaligned content is never averaged in.
    """
    gate = torch.sigmoid((conf - CONF_THRESHOLD) * GATE_SLOPE)
    weight = conf * gate
    blended = (centre + (weight * warped).sum(dim=1)) / (1.0 + weight.sum(dim=1)).clamp_min(1e-6)
    ready = torch.sigmoid((gate.sum(dim=1) - MIN_NEIGHBOURS + 0.5) * COUNT_SLOPE)
    return centre + ready * (blended - centre)


# -- loading ---------------------------------------------------------------------------------------


def check_strength(strength: float) -> float:
    """``strength`` as the original takes it: 0-3, rounded to two decimals; BadOption outside."""
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise BadOption(f"{NAME} strength must be a number from 0 to 3, got {strength!r}") from None
    if not 0.0 <= value <= MAX_STRENGTH:  # also rejects NaN
        raise BadOption(f"{NAME} strength must be from 0 to 3, got {strength!r}")
    return round(value, 2)


def strength_paths(weights: str | Path | Mapping[int, str | Path] | None, strength: float) -> list[Path]:
    """The one or two files a strength needs: the integer strengths just below and above it."""
    wanted = sorted({math.floor(strength), math.ceil(strength)})
    if weights is None:  # the project's weights lookup (ENHANCE_WEIGHTS_PATH, then weights/)
        return [require(STRENGTH_FILES[k], model=NAME) for k in wanted]
    if isinstance(weights, Mapping):
        return [Path(weights[k]) for k in wanted]
    folder = Path(weights)
    return [folder / Path(STRENGTH_FILES[k]).name for k in wanted]


def blend_states(lower: Mapping, upper: Mapping, t: float) -> dict:
    """``lower`` + t * (upper - lower) for every float tensor: the original's fractional strengths."""
    return {k: torch.lerp(v, upper[k], t) if torch.is_floating_point(v) else v for k, v in lower.items()}


def load_temporalfix(
    weights: str | Path | Mapping[int, str | Path] | None = None,
    strength: float = DEFAULT_STRENGTH,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TemporalFix:
    """A TemporalFix in eval mode with the official weights for ``strength`` (0-3, fractions blended).

    ``weights`` is None (the project's weights lookup), a folder holding the four official files, or a
    mapping {integer strength: file}. As in vs-temporalfix, a fractional strength interpolates the
    parameters of the two neighbouring files (not their outputs), and strength 0 turns the filter off:
    :func:`temporalfix_frame` then returns the centre frame unchanged. Convolutions run in ``dtype``.
    """
    strength = check_strength(strength)
    paths = strength_paths(weights, strength)
    states = [load_weights_state(p, NAME) for p in paths]
    state = (
        states[0] if len(states) == 1 else blend_states(states[0], states[1], strength - math.floor(strength))
    )
    model = TemporalFix()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsCorrupt(
            f"{NAME}: {', '.join(map(str, paths))} is not a TemporalFix state dict: {exc}"
        ) from exc
    model.strength = strength
    model.compute_dtype = dtype
    model = model.to(device=device, dtype=dtype, memory_format=torch.channels_last)
    return model.eval().requires_grad_(False)


def temporalfix_frame(model: TemporalFix, window: torch.Tensor) -> torch.Tensor:
    """Window (B, 7, 3, H, W), frames t-3 .. t+3 in [0, 1] -> the filtered frame t (B, 3, H, W), fp32.

    No padding is needed: every internal size is the frame size divided by 2, 4 or 8 rounded up, and
    every stage resizes its output back to its input's exact size, so any H and W work (odd ones too)
    and give the original network's output for that frame. Inputs are clamped to [0, 1] first, as
    vs-temporalfix does; the output is a confidence-weighted average of in-range pixels, clamped only
    against rounding. Runs on the model's device and returns on the window's.
    """
    if window.dim() != 5 or window.shape[1] != WINDOW or window.shape[2] != 3:
        raise UnsupportedInput(f"{NAME} needs a (B, 7, 3, H, W) window, got {tuple(window.shape)}")
    if getattr(model, "strength", DEFAULT_STRENGTH) == 0:
        return window[:, CENTER].float().clone()
    device = next(model.parameters()).device
    with torch.inference_mode():
        x = window.to(device=device, dtype=torch.float32).clamp(0.0, 1.0)
        out = model(x).clamp_(0.0, 1.0)
    return out.to(window.device)


def window_indices(t: int, frames: int, radius: int = CENTER) -> list[int]:
    """The frame indices of t's window in a ``frames``-long run, mirrored at the ends as the original does.

    vs-temporalfix pads its clip with the frames next to each end in reverse (t=0's window is
    3, 2, 1, 0, 1, 2, 3); the caller applies the same rule at scene cuts.
    """
    if frames < radius + 1:
        raise ValueError(f"a {WINDOW}-frame window needs at least {radius + 1} frames, got {frames}")
    out = []
    for i in range(t - radius, t + radius + 1):
        if i < 0:
            i = -i
        elif i >= frames:
            i = 2 * (frames - 1) - i
        out.append(i)
    return out


def scene_window(t: int, frames: int, radius: int = CENTER) -> list[int]:
    """Indices of t's window in a run (a video or one scene) of ``frames`` frames, mirrored at its ends.

    The original's rule (``window_indices``); a run too short to mirror once (fewer than radius + 1
    frames, e.g. a flash between two cuts) is reflected back and forth until every index falls inside it.
    """
    if frames > radius:
        return window_indices(t, frames, radius)
    period = 2 * (frames - 1)
    out = []
    for i in range(t - radius, t + radius + 1):
        i = abs(i) % period if period else 0
        out.append(period - i if i >= frames else i)
    return out


__all__: Sequence[str] = (
    "TemporalFix",
    "load_temporalfix",
    "temporalfix_frame",
    "window_indices",
    "scene_window",
    "check_strength",
    "STRENGTH_FILES",
)
