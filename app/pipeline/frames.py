"""Frame conversions between PyAV/NumPy pixels and the enhancers' NCHW float tensors.

All heavy work happens on the enhancer's device: uint8/uint16 frames go up as integers (4x less to copy
than floats), are converted there, and come back as integers ready for the encoder.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from models.resize import resize_lanczos

from .sizes import scaled_size  # noqa: F401 - part of this module's interface


def to_tensor(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """Stack of HWC uint8/uint16 RGB frames (N, H, W, 3) -> NCHW float32 in [0, 1] on ``device``."""
    return planes_to_tensor(frames.transpose(0, 3, 1, 2), device)  # a view: the same single conversion


def from_tensor(batch: torch.Tensor, bits: int = 8) -> np.ndarray:
    """NCHW float in [0, 1] -> (N, H, W, C) uint8 (or uint16 for ``bits`` > 8) NumPy array on the CPU."""
    peak = 65535.0 if bits > 8 else 255.0
    x = batch.float().mul(peak).round_().clamp_(0, peak).permute(0, 2, 3, 1)
    if bits > 8:
        return x.to(torch.int32).cpu().numpy().astype(np.uint16)
    return x.to(torch.uint8).contiguous().cpu().numpy()


def fit(batch: torch.Tensor, scaled: tuple[int, int], final: tuple[int, int]) -> torch.Tensor:
    """Resize the network output to ``scaled`` (Lanczos, for --outscale), then edge-pad it to ``final``."""
    if (batch.shape[-1], batch.shape[-2]) != scaled:
        batch = resize_lanczos(batch, scaled[1], scaled[0]).clamp_(0.0, 1.0)  # Lanczos overshoots
    pad_w, pad_h = final[0] - scaled[0], final[1] - scaled[1]
    if pad_w or pad_h:
        # Only ever one pixel, to make an odd size even: padding keeps every real pixel unresampled.
        batch = torch.nn.functional.pad(batch, (0, pad_w, 0, pad_h), mode="replicate")
    return batch


# -- planar frames: the video pipeline's fast path --------------------------------------------------
# 8-bit video frames travel as planar RGB (gbrp), never as packed HWC arrays: swscale converts YUV to and
# from gbrp as fast as to rgb24 and to the same values, and planar integers become NCHW floats (and back)
# without a transposing copy, which was the costliest step around a fast model (~2 ms per 720p frame each
# way). High-bit-depth frames keep the packed rgb48le path: swscale's gbrp16 conversions interpolate
# chroma differently from its rgb48 ones, and 10-bit video is rare enough not to trade that away.

#: gbrp stores its planes as G, B, R: the RGB channel index of each plane
_GBR_ORDER = (1, 2, 0)


def new_planes(count: int, height: int, width: int, bits: int, pinned: bool = False) -> np.ndarray:
    """An empty batch (count, 3, H, W) of uint8/uint16 planes; ``pinned`` (8-bit) for async CUDA uploads."""
    if pinned and bits == 8:
        return torch.empty((count, 3, height, width), dtype=torch.uint8, pin_memory=True).numpy()
    return np.empty((count, 3, height, width), dtype=np.uint16 if bits > 8 else np.uint8)


def plane_array(plane, dtype, height: int, width: int) -> np.ndarray:
    """A writable (height, width) NumPy view of one PyAV plane (no copy; rows may be padded)."""
    dtype = np.dtype(dtype)
    rows = np.frombuffer(plane, dtype=dtype).reshape(-1, plane.line_size // dtype.itemsize)
    return rows[:height, :width]


def frame_to_planes(frame, bits: int, out: np.ndarray, reformatter=None) -> None:
    """Convert a decoded frame to RGB and copy it into ``out`` (3, H, W) uint8/uint16 planes.

    A frame of another size (a stream that changes resolution midway) is scaled to ``out``'s size, so every
    frame of the output keeps the size the output stream was opened with.
    """
    height, width = out.shape[-2:]
    kwargs = {
        "format": "rgb48le" if bits > 8 else "gbrp",
        "src_colorspace": frame.colorspace or None,
        "width": width,
        "height": height,
    }
    rgb = reformatter.reformat(frame, threads=1, **kwargs) if reformatter else frame.reformat(**kwargs)
    if bits > 8:
        out[...] = rgb.to_ndarray().transpose(2, 0, 1)
        return
    for channel, plane in zip(_GBR_ORDER, rgb.planes, strict=True):
        out[channel] = plane_array(plane, np.uint8, height, width)


def planes_to_tensor(planes: np.ndarray, device: torch.device) -> torch.Tensor:
    """Planar RGB (N, 3, H, W) uint8/uint16 -> NCHW float32 in [0, 1] on ``device``."""
    peak = 65535.0 if planes.dtype == np.uint16 else 255.0
    t = torch.from_numpy(planes)
    if device.type == "cuda":
        if t.dtype == torch.uint16:
            t = t.to(torch.int32)  # CUDA kernels barely know uint16; int32 holds every value exactly
        # integers cross the bus (2-4x fewer bytes than floats); from pinned memory the copy is asynchronous
        t = (t if t.is_pinned() else t.pin_memory()).to(device, non_blocking=True)
    # contiguous planes: one vectorised conversion pass (and the same maths as to_tensor)
    return t.to(torch.float32).div_(peak)


def tensor_to_host(batch: torch.Tensor, bits: int):
    """CUDA: quantise on the device, start the copy to pinned host memory; returns (host tensor, event)."""
    peak = 65535.0 if bits > 8 else 255.0
    # int32 for 16-bit: CUDA kernels barely know uint16 (the host turns it into uint16)
    ints = batch.float().clamp_(0.0, 1.0).mul_(peak).add_(0.5).to(torch.int32 if bits > 8 else torch.uint8)
    host = torch.empty(ints.shape, dtype=ints.dtype, pin_memory=True)
    host.copy_(ints, non_blocking=True)
    event = torch.cuda.Event()
    event.record()
    return host, event


def tensor_to_frames(batch: torch.Tensor, bits: int) -> list:
    """NCHW float in [0, 1] (or integers from tensor_to_host) -> RGB PyAV VideoFrames (gbrp / rgb48le)."""
    import av  # the pipeline depends on PyAV; this module is also used without video

    n, _, h, w = batch.shape
    if batch.is_floating_point():
        # fp32 (bf16 cannot hold 255 * x exactly), NCHW planes (the networks answer channels-last), and
        # clamped (convertScaleAbs takes |x|): one pass for fp32, two for bf16
        planar = torch.empty((n, 3, h, w), dtype=torch.float32)
        if batch.dtype == torch.float32:
            batch = torch.clamp(batch.cpu(), 0.0, 1.0, out=planar)
        else:
            batch = planar.copy_(batch).clamp_(0.0, 1.0)
    if bits > 8:
        ints = batch if not batch.is_floating_point() else (batch * 65535.0 + 0.5).to(torch.int32)
        packed = ints.permute(0, 2, 3, 1).numpy().astype(np.uint16)  # the cast truncates: +0.5 rounds
        return [av.VideoFrame.from_ndarray(packed[i], format="rgb48le") for i in range(n)]
    frames = []
    for i in range(n):
        frame = av.VideoFrame(w, h, "gbrp")
        for channel, plane in zip(_GBR_ORDER, frame.planes, strict=True):
            _write_plane(batch[i, channel], plane_array(plane, np.uint8, h, w))
        frames.append(frame)
    return frames


def _write_plane(values: torch.Tensor, dst: np.ndarray) -> None:
    """Quantise one 8-bit plane into ``dst`` (a view of a frame's plane), rounding to nearest."""
    if not values.is_floating_point():
        dst[...] = values.numpy()
        return
    # one fused SIMD pass (scale, round, saturate) straight into the frame: several times faster than torch
    out = cv2.convertScaleAbs(values.numpy(), dst=dst, alpha=255.0)
    if not np.shares_memory(out, dst):  # cv2 gave a new array instead of filling the view
        dst[...] = out
