"""Image-Adaptive 3D-LUT (Zeng et al., TPAMI 2020): the official sRGB model trained on FiveK (expert C).

A small CNN looks at the whole frame (bilinearly resized to 256x256) and predicts three numbers; the
frame's LUT is that weighted sum of three learned 33^3 LUTs (raw outputs, no softmax), applied to every
pixel by trilinear interpolation. Layout and maths follow the official code: each LUT tensor is
``[3, b, g, r]`` with r fastest, and a value v sits at LUT coordinate ``v / binsize`` with
``binsize = 1.000001 / (dim - 1)``, so 1.0 lands just below the last cell edge.

The lookup is the hot path. ``grid_sample`` on a 5-D LUT is exact but its CPU kernel is scalar
(about 30 ms for a 1280x720 frame on two cores), so the LUT is laid out as a 2-D texture instead: the
b-slices side by side, each texel carrying the slice's colour and the next slice's colour (6 channels).
One vectorised bilinear ``grid_sample`` then gives both b-neighbours of every pixel, and a lerp by the
b-fraction completes the trilinear interpolation (about 4x faster; the same eight corners and weights).
Everything runs in fp32 whatever precision was asked: the lookup gathers rather than multiplies, so
bf16/fp16 buy no speed, and an 8-bit mantissa would round the input colours before the lookup.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Enhancer, EnhancerInfo
from .errors import UnsupportedInput, WeightsCorrupt
from .registry import ModelSpec, register
from .weights import require

NAME = "lut3d"
LICENCE = "Apache-2.0"
LUTS_FILE = "lut3d/LUTs.pth"
CLASSIFIER_FILE = "lut3d/classifier.pth"
#: the official binsize numerator: values sit at v * (dim - 1) / 1.000001 in LUT index space
BIN_NUMERATOR = 1.000001
CLASSIFIER_SIZE = 256
N_LUTS = 3


# -- classifier ------------------------------------------------------------------------------------


def _down_block(cin: int, cout: int, norm: bool) -> list[nn.Module]:
    """A stride-2 3x3 conv and LeakyReLU(0.2), then an affine InstanceNorm when ``norm``."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
    if norm:
        layers.append(nn.InstanceNorm2d(cout, affine=True))
    return layers


class Classifier(nn.Module):
    """The official weight predictor; ``model.<i>`` indices match the official checkpoint keys."""

    def __init__(self, n_out: int = N_LUTS):
        super().__init__()
        self.model = nn.Sequential(
            nn.Upsample(size=(CLASSIFIER_SIZE, CLASSIFIER_SIZE), mode="bilinear", align_corners=False),
            *_down_block(3, 16, norm=True),
            *_down_block(16, 32, norm=True),
            *_down_block(32, 64, norm=True),
            *_down_block(64, 128, norm=True),
            *_down_block(128, 128, norm=False),
            nn.Dropout(p=0.5),  # identity in eval mode; kept so the indices match the checkpoint
            nn.Conv2d(128, n_out, 8, padding=0),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Frames (N, 3, H, W) in [0, 1] -> LUT weights (N, n_out)."""
        return self.model(x).flatten(1)


# -- loading ---------------------------------------------------------------------------------------


def _load_state(path) -> dict:
    """``torch.load`` a weights file safely on the CPU; unreadable files become WeightsCorrupt."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean the same thing to a person
        raise WeightsCorrupt(f"{NAME}: cannot read {path}: {exc}") from exc
    if not isinstance(state, dict):
        raise WeightsCorrupt(f"{NAME}: {path} does not hold a state dict")
    return state


def load_luts(path) -> torch.Tensor:
    """The official ``LUTs.pth`` -> (3, 3, dim, dim, dim) fp32, LUTs in order "0", "1", "2"."""
    state = _load_state(path)
    try:
        luts = torch.stack([state[str(i)]["LUT"].float() for i in range(N_LUTS)])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise WeightsCorrupt(f"{NAME}: {path} lacks the LUTs '0', '1', '2' of equal shape: {exc}") from exc
    dim = luts.shape[-1]
    if luts.shape[1:] != (3, dim, dim, dim) or dim < 2:
        raise WeightsCorrupt(f"{NAME}: {path} holds LUTs of shape {tuple(luts.shape[1:])}, not (3, d, d, d)")
    return luts


def load_classifier(path) -> Classifier:
    """The official ``classifier.pth`` -> a Classifier in eval mode (strict key and shape match)."""
    net = Classifier()
    try:
        net.load_state_dict(_load_state(path), strict=True)
    except RuntimeError as exc:
        raise WeightsCorrupt(f"{NAME}: {path} is not the 3D-LUT classifier: {exc}") from exc
    return net.eval().requires_grad_(False)


# -- trilinear lookup ------------------------------------------------------------------------------


def lut_texture(luts: torch.Tensor) -> torch.Tensor:
    """LUTs (..., 3, b, g, r) -> textures (..., 6, g, (dim-1)*r): slice b and b+1 side by side per b."""
    dim = luts.shape[-1]
    pairs = torch.cat([luts[..., :-1, :, :], luts[..., 1:, :, :]], dim=-4)  # (..., 6, b, g, r)
    # b-slices become horizontal blocks of width dim; bilinear within a block never crosses into the
    # next one because an in-range r coordinate stays below dim - 1.
    texture = pairs.transpose(-3, -2).reshape(*luts.shape[:-4], 6, dim, (dim - 1) * dim)
    return texture.contiguous()


def _texture_coords(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames (N, 3, H, W) -> the texture sampling grid (N, H, W, 2) and the b-fraction (N, H, W)."""
    n, _, h, w = x.shape
    top = (dim - 1) / BIN_NUMERATOR  # index of v = 1.0; floor(top) = dim - 2, so b+1 stays in range
    pos = x.mul(top).clamp_(0.0, top)
    b = pos[:, 2]
    b_index = b.floor()
    b_frac = b - b_index
    grid = torch.empty((n, h, w, 2), dtype=x.dtype, device=x.device)
    # grid_sample with align_corners=True maps -1..1 onto texel centres 0..size-1.
    gx, gy = grid[..., 0], grid[..., 1]
    torch.add(pos[:, 0], b_index, alpha=dim, out=gx)
    gx.mul_(2.0 / ((dim - 1) * dim - 1)).sub_(1.0)
    torch.mul(pos[:, 1], 2.0 / (dim - 1), out=gy).sub_(1.0)
    return grid, b_frac


def _pieces(device: torch.device) -> int:
    """Into how many pieces to cut a frame so that every CPU thread gets a share of the lookup."""
    # grid_sample's CPU kernel parallelises over its batch only: a lone frame would use one core.
    return torch.get_num_threads() if device.type == "cpu" else 1


def _lookup_frame(texture: torch.Tensor, grid: torch.Tensor, b_frac: torch.Tensor, out: torch.Tensor) -> None:
    """One frame: texture (1, 6, d, (d-1)*d), grid (P, 2), b_frac (P,) -> out (3, P), written in place."""
    pixels = grid.shape[0]
    pieces = min(_pieces(grid.device), pixels)
    even = pixels // pieces * pieces
    # equal pieces side by side in grid_sample's batch, then the few pixels left over (if any) alone
    for start, stop, k in ((0, even, pieces), (even, pixels, 1)):
        if stop == start:
            continue
        g = grid[start:stop].view(k, 1, -1, 2)
        both = F.grid_sample(
            texture.expand(k, -1, -1, -1), g, mode="bilinear", padding_mode="border", align_corners=True
        ).view(k, 6, -1)
        # the lerp by the b-fraction lands straight in NCHW order: piece j is a run of out's columns
        dest = out[:, start:stop].view(3, k, -1).transpose(0, 1)
        torch.lerp(both[:, :3], both[:, 3:], b_frac[start:stop].view(k, 1, -1), out=dest)


def apply_textures(textures: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup: frame i of ``x`` (N, 3, H, W) through texture i of (N, 6, dim, (dim-1)*dim)."""
    n, _, h, w = x.shape
    grid, b_frac = _texture_coords(x, textures.shape[-2])
    grid, b_frac = grid.view(n, h * w, 2), b_frac.reshape(n, h * w)
    out = torch.empty((n, 3, h, w), dtype=x.dtype, device=x.device)
    flat = out.view(n, 3, h * w)
    # frame by frame: each frame keeps its own texture without copies, and every call uses all threads
    for i in range(n):
        _lookup_frame(textures[i : i + 1], grid[i], b_frac[i], flat[i])
    return out


def trilinear(luts: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply LUT (3, d, d, d) to every frame, or LUT i (N, 3, d, d, d) to frame i, of ``x`` (N, 3, H, W)."""
    if luts.dim() == 4:
        luts = luts.unsqueeze(0).expand(x.shape[0], -1, -1, -1, -1)
    return apply_textures(lut_texture(luts.to(x)), x)


# -- the enhancer ----------------------------------------------------------------------------------


class LUT3DEnhancer(Enhancer):
    """Per frame: classifier weights -> blended LUT -> trilinear lookup; the whole frame at once."""

    tileable = False  # the classifier must see the whole frame

    def __init__(self, info: EnhancerInfo, device: torch.device, classifier: Classifier, luts: torch.Tensor):
        super().__init__(info, device, torch.float32, tile=0)
        self.classifier = classifier.to(device)
        self.luts = luts.to(device)
        # blending is linear, so blend the textures directly: (K, 6*dim*(dim-1)*dim) rows, one matmul
        self._textures = lut_texture(self.luts).flatten(1)
        dim = luts.shape[-1]
        self._texture_shape = (6, dim, (dim - 1) * dim)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's LUT weights (N, 3) for frames (N, 3, H, W)."""
        return self.classifier(x)

    def lookup(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Apply, to frame i, the LUT blended with ``weights[i]``."""
        textures = (weights @ self._textures).view(x.shape[0], *self._texture_shape)
        return apply_textures(textures, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Enhance a batch (N, 3, H, W) in fp32."""
        if x.shape[1] != 3:
            raise UnsupportedInput(f"{NAME} needs RGB frames (3 channels), got {x.shape[1]}")
        x = x.float()
        return self.lookup(x, self.weights(x))


def build(spec: ModelSpec, device: torch.device, dtype: torch.dtype, tile: int, **options) -> LUT3DEnhancer:
    """Load the official LUTs and classifier; ``dtype`` and ``tile`` are ignored (fp32, whole frames)."""
    luts = load_luts(require(LUTS_FILE, model=NAME))
    classifier = load_classifier(require(CLASSIFIER_FILE, model=NAME))
    info = EnhancerInfo(
        name=spec.name,
        task=spec.task,
        scale=spec.scale,
        licence=spec.licence,
        noncommercial=spec.noncommercial,
        extra={"lut_dim": luts.shape[-1], "compute_dtype": "fp32"},
    )
    return LUT3DEnhancer(info, device, classifier, luts)


register(
    ModelSpec(
        name=NAME,
        task="colour",
        scale=1,
        licence=LICENCE,
        weights=(LUTS_FILE, CLASSIFIER_FILE),
        build=build,
        description="Image-Adaptive 3D-LUT (Zeng et al.): sRGB photo retouching, FiveK expert C; real-time",
    )
)
