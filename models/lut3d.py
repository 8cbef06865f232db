"""Image-Adaptive 3D-LUT (Zeng et al., TPAMI 2020): the official sRGB model trained on FiveK (expert C).

A small CNN looks at the whole frame (bilinearly resized to 256x256) and predicts three numbers; the
frame's LUT is that weighted sum of three learned 33^3 LUTs (raw outputs, no softmax), applied to every
pixel by trilinear interpolation. Layout and maths follow the official code: each LUT tensor is
``[3, b, g, r]`` with r fastest, and a value v sits at LUT coordinate ``v / binsize`` with
``binsize = 1.000001 / (dim - 1)``, so 1.0 lands just below the last cell edge.

The lookup is the hot path. ``grid_sample`` on a 5-D LUT matches the official kernel, but its CPU code is
scalar (about 32 ms for a 1280x720 frame, 17 ms split over two cores), and gathering the eight corners with
plain tensor ops takes about 60 ms. So the LUT is laid out as a 2-D texture instead: the b-slices side by
side, each texel holding that slice's colour and the next slice's (6 channels). One vectorised bilinear
``grid_sample`` gives both b-neighbours of a pixel and a lerp by the b-fraction completes the trilinear
interpolation: the same eight corners and weights, about 6 ms per 720p frame on two cores.
Everything runs in fp32 whatever precision was asked: in bf16 the lookup is 3.5x slower and its texture
coordinates lose so much that a frame drops to ~28 dB, and the classifier saves only a tenth of a ms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Enhancer, EnhancerInfo, load_weights_state
from .declarations.lut3d import CLASSIFIER_FILE, LICENCE, LUTS_FILE, NAME  # noqa: F401
from .errors import UnsupportedInput, WeightsCorrupt
from .specs import ModelSpec
from .weights import require

#: the official binsize numerator: values sit at v * (dim - 1) / 1.000001 in LUT index space
BIN_NUMERATOR = 1.000001
CLASSIFIER_SIZE = 256
#: pixels per thread per grid_sample call on the CPU (see _spans)
BLOCK_PIXELS = 1 << 16
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


def load_luts(path) -> torch.Tensor:
    """The official ``LUTs.pth`` -> (3, 3, dim, dim, dim) fp32, LUTs in order "0", "1", "2"."""
    state = load_weights_state(path, NAME)
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
        net.load_state_dict(load_weights_state(path, NAME), strict=True)
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
    """Pixels (3, P) -> the texture sampling grid (P, 2) and the b-fraction (P,)."""
    top = (dim - 1) / BIN_NUMERATOR  # index of v = 1.0; floor(top) = dim - 2, so b+1 stays in range
    pos = x.mul(top).clamp_(0.0, top)
    b_index = pos[2].floor()
    b_frac = pos[2] - b_index
    grid = torch.empty((x.shape[1], 2), dtype=x.dtype, device=x.device)
    # grid_sample with align_corners=True maps -1..1 onto texel centres 0..size-1.
    gx, gy = grid[:, 0], grid[:, 1]
    torch.add(pos[0], b_index, alpha=dim, out=gx)
    gx.mul_(2.0 / ((dim - 1) * dim - 1)).sub_(1.0)
    torch.mul(pos[1], 2.0 / (dim - 1), out=gy).sub_(1.0)
    return grid, b_frac


def _spans(pixels: int, device: torch.device) -> list[tuple[int, int, int]]:
    """(start, stop, pieces) runs of a frame's pixels, each looked up by one grid_sample call."""
    if device.type != "cpu":
        return [(0, pixels, 1)]  # one launch per frame; the GPU kernel parallelises on its own
    # grid_sample's CPU kernel parallelises over its batch only, so each run is cut into one piece per
    # thread; runs are kept short so their temporaries stay in cache and are recycled by malloc
    # (whole-frame temporaries were fresh mmaps, page-faulting ~40 MB per 720p frame).
    pieces = torch.get_num_threads()
    step = pieces * BLOCK_PIXELS
    spans = [(start, start + step, pieces) for start in range(0, pixels - step + 1, step)]
    tail = spans[-1][1] if spans else 0
    even = tail + (pixels - tail) // pieces * pieces
    spans += [(a, b, k) for a, b, k in ((tail, even, pieces), (even, pixels, 1)) if b > a]
    return spans


def _lookup_run(texture: torch.Tensor, x: torch.Tensor, out: torch.Tensor, pieces: int) -> None:
    """Texture (1, 6, d, (d-1)*d) at pixels x (3, S) -> out (3, S), in place; S divisible by pieces."""
    grid, b_frac = _texture_coords(x, texture.shape[-2])
    both = F.grid_sample(
        texture.expand(pieces, -1, -1, -1),
        grid.view(pieces, 1, -1, 2),
        mode="bilinear",
        padding_mode="border",
        align_corners=True,
    ).view(pieces, 6, -1)
    # the lerp by the b-fraction lands straight in out: piece j is a run of out's columns
    dest = out.view(3, pieces, -1).transpose(0, 1)
    torch.lerp(both[:, :3], both[:, 3:], b_frac.view(pieces, 1, -1), out=dest)


def apply_textures(textures: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup: frame i of ``x`` (N, 3, H, W) through texture i of (N, 6, dim, (dim-1)*dim)."""
    n, _, h, w = x.shape
    out = torch.empty((n, 3, h, w), dtype=x.dtype, device=x.device)
    pixels, dest = x.reshape(n, 3, h * w), out.view(n, 3, h * w)
    # frame by frame: each frame keeps its own texture without copies
    for i in range(n):
        for start, stop, pieces in _spans(h * w, x.device):
            _lookup_run(textures[i : i + 1], pixels[i, :, start:stop], dest[i, :, start:stop], pieces)
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
    info = EnhancerInfo.from_spec(spec, lut_dim=luts.shape[-1], compute_dtype="fp32")
    return LUT3DEnhancer(info, device, classifier, luts)
