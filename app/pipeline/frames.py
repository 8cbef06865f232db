"""Frame conversions between PyAV/NumPy pixels and the enhancers' NCHW float tensors.

All heavy work happens on the enhancer's device: uint8/uint16 frames go up as integers (4x less to copy
than floats), are converted there, and come back as integers ready for the encoder.
"""

from __future__ import annotations

import numpy as np
import torch

from models.resize import resize_lanczos


def to_tensor(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """Stack of HWC uint8/uint16 RGB frames (N, H, W, 3) -> NCHW float32 in [0, 1] on ``device``."""
    peak = 65535.0 if frames.dtype == np.uint16 else 255.0
    if frames.dtype == np.uint16:
        # torch has limited uint16 support; int32 holds every value exactly.
        frames = frames.astype(np.int32)
    t = torch.from_numpy(frames)
    if device.type == "cuda":
        t = t.pin_memory().to(device, non_blocking=True)
    return t.permute(0, 3, 1, 2).float().div_(peak)


def from_tensor(batch: torch.Tensor, bits: int = 8) -> np.ndarray:
    """NCHW float in [0, 1] -> (N, H, W, C) uint8 (or uint16 for ``bits`` > 8) NumPy array on the CPU."""
    peak = 65535.0 if bits > 8 else 255.0
    x = batch.float().mul(peak).round_().clamp_(0, peak).permute(0, 2, 3, 1)
    if bits > 8:
        return x.to(torch.int32).cpu().numpy().astype(np.uint16)
    return x.to(torch.uint8).contiguous().cpu().numpy()


def scaled_size(width: int, height: int, model_scale: float, outscale: float | None) -> tuple[int, int]:
    """The enhanced frame size: the model's own scale, or ``outscale`` when given."""
    scale = outscale if outscale is not None else model_scale
    return max(1, round(width * scale)), max(1, round(height * scale))


def even_size(width: int, height: int) -> tuple[int, int]:
    """Round a size up to even numbers (4:2:0 encoders need them)."""
    return width + width % 2, height + height % 2


def fit(batch: torch.Tensor, scaled: tuple[int, int], final: tuple[int, int]) -> torch.Tensor:
    """Resize the network output to ``scaled`` (Lanczos, for --outscale), then edge-pad it to ``final``."""
    if (batch.shape[-1], batch.shape[-2]) != scaled:
        batch = resize_lanczos(batch, scaled[1], scaled[0])
    pad_w, pad_h = final[0] - scaled[0], final[1] - scaled[1]
    if pad_w or pad_h:
        # Only ever one pixel, to make an odd size even: padding keeps every real pixel unresampled.
        batch = torch.nn.functional.pad(batch, (0, pad_w, 0, pad_h), mode="replicate")
    return batch
