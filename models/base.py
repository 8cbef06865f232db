"""The Enhancer interface: batches of NCHW frames in [0, 1] in, enhanced frames out.

Subclasses implement ``forward`` on a tile that already sits on the device in the compute dtype;
this base class handles device transfer, precision, padding to the network's size multiple, tiling
with overlap for frames that do not fit, and the out-of-memory fallback to smaller tiles.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .errors import OutOfMemory, WeightsCorrupt

MIN_TILE = 32


@dataclass
class EnhancerInfo:
    """What a caller may know about an enhancer without running it."""

    name: str
    task: str
    scale: float
    licence: str
    noncommercial: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec, **extra) -> EnhancerInfo:
        """The info of a registered model (a ModelSpec), with ``extra`` facts about the loaded network."""
        return cls(spec.name, spec.task, spec.scale, spec.licence, spec.noncommercial, extra)


class Enhancer:
    """Base class: turns a batch of frames into enhanced frames, ``scale`` times larger."""

    #: can the frame be cut into tiles (False for models that look at the whole image)
    tileable = True
    #: the network needs input height and width to be a multiple of this
    size_multiple = 1
    #: overlap, in input pixels, added around each tile so seams do not show
    tile_pad = 16
    #: input pixels per frame above which ``tile=0`` (auto) starts tiling
    auto_tile_pixels = 1280 * 720
    #: feature channels of the widest layer, for sizing batches to the cache (64 for most CNNs here)
    feature_channels = 64
    #: frames before and after frame t a temporal stage sees (0, 0: the enhancer works frame by frame)
    window_before = 0
    window_after = 0

    def __init__(self, info: EnhancerInfo, device: torch.device, dtype: torch.dtype, tile: int = 0):
        self.info = info
        self.device = device
        self.dtype = dtype
        self.tile = tile
        if device.type == "cuda":
            # a video's frames all have one size (and tiles a few), so cuDNN's per-shape autotuning pays off
            torch.backends.cudnn.benchmark = True

    # -- what subclasses provide -------------------------------------------------------------
    def with_tile(self, tile: int) -> Enhancer:
        """This enhancer cutting frames into ``tile``-pixel tiles (0 = automatic), sharing the network.

        A shallow copy: one job's tile (and the smaller tile it falls back to after running out of memory)
        never changes another job's, and no weights are copied.
        """
        clone = copy.copy(self)
        clone.tile = tile
        return clone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the network on ``x`` (on device, compute dtype, sizes a multiple of size_multiple)."""
        raise NotImplementedError

    # -- public API ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The registry name (or chain) of this enhancer."""
        return self.info.name

    @property
    def scale(self) -> float:
        """Output size / input size."""
        return self.info.scale

    @property
    def batch_pixel_bytes(self) -> int:
        """Bytes of activations per input pixel that a batch keeps hot: one layer's input and output."""
        return 2 * self.feature_channels * self.dtype.itemsize

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) this enhancer produces for a frame of the given size."""
        return round(width * self.scale), round(height * self.scale)

    @torch.inference_mode()
    def process(self, batch: torch.Tensor) -> torch.Tensor:
        """Enhance ``batch`` (N, C=3, H, W, float in [0, 1]); returns a float tensor on ``self.device``."""
        x = batch.to(self.device, non_blocking=True)
        x = x.to(self.dtype)
        tile = self.tile
        if tile == 0 and self.tileable and x.shape[-1] * x.shape[-2] > self.auto_tile_pixels:
            tile = 512
        while True:
            try:
                if self.tileable and tile and max(x.shape[-2:]) > tile:
                    out = self._tiled(x, tile)
                else:
                    out = self._padded_forward(x)
                return out.clamp_(0, 1)
            except torch.OutOfMemoryError as exc:
                tile = self._smaller_tile(tile, x, exc)
            except RuntimeError as exc:
                # CPU allocator failures are plain RuntimeErrors; anything else is a real bug.
                if "memory" not in str(exc).lower():
                    raise
                tile = self._smaller_tile(tile, x, exc)

    # -- internals -----------------------------------------------------------------------------
    def _smaller_tile(self, tile: int, x: torch.Tensor, exc: Exception) -> int:
        """Halve the tile after an out-of-memory error, or give up with OutOfMemory."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        current = tile or max(x.shape[-2:])
        if not self.tileable or current <= MIN_TILE:
            raise OutOfMemory(
                f"{self.name}: out of memory on {self.device} for a {x.shape[-1]}x{x.shape[-2]} "
                f"batch of {x.shape[0]} even with {current}px tiles; use a smaller --batch, "
                f"--tile or input"
            ) from exc
        self.tile = max(MIN_TILE, current // 2)  # remember: the next batch starts small enough
        return self.tile

    def _padded_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad to the network's size multiple (reflect), run it, crop the padding off the output."""
        h, w = x.shape[-2:]
        m = self.size_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        out = self.forward(x)
        if ph or pw:
            s = out.shape[-1] / x.shape[-1]
            out = out[..., : round(h * s), : round(w * s)]
        return out

    def _tiled(self, x: torch.Tensor, tile: int) -> torch.Tensor:
        """Run tile by tile with ``tile_pad`` overlap, keeping only each tile's centre."""
        n, c, h, w = x.shape
        s = self.scale
        out = None
        pad = self.tile_pad
        for ty in range(math.ceil(h / tile)):
            for tx in range(math.ceil(w / tile)):
                y0, x0 = ty * tile, tx * tile
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                py0, px0 = max(y0 - pad, 0), max(x0 - pad, 0)
                py1, px1 = min(y1 + pad, h), min(x1 + pad, w)
                part = self._padded_forward(x[..., py0:py1, px0:px1])
                if out is None:
                    out = part.new_empty((n, part.shape[1], round(h * s), round(w * s)))
                oy0, ox0 = round((y0 - py0) * s), round((x0 - px0) * s)
                oy1, ox1 = oy0 + round((y1 - y0) * s), ox0 + round((x1 - x0) * s)
                out[..., round(y0 * s) : round(y1 * s), round(x0 * s) : round(x1 * s)] = part[
                    ..., oy0:oy1, ox0:ox1
                ]
        return out


def load_weights_state(path, owner: str) -> dict:
    """``torch.load`` an official weights file safely (no code runs) on the CPU, as it is.

    Unlike ``custom.read_state_dict`` nothing is canonicalised, so nested layouts (3D-LUT's LUTs) stay; a
    file that cannot be read, or holds no state dict, becomes WeightsCorrupt naming ``owner`` and the file.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean the same thing to a person
        raise WeightsCorrupt(f"{owner}: cannot read {path}: {exc}") from exc
    if not isinstance(state, Mapping):
        raise WeightsCorrupt(f"{owner}: {path} does not hold a state dict")
    return dict(state)
