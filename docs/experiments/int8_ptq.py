"""Would int8 make realesr-animevideov3 fast enough, and at what cost in quality? (docs/BENCHMARKS.md)

Post-training static quantisation of SRVGGNetCompact with torch's quantized CPU kernels (x86 engine,
AVX512-VNNI): per-channel int8 weights, per-tensor uint8 activations whose ranges are calibrated on two
frames of the sample clip, quantized PReLU between the convolutions, the pixel-shuffle tail and the
nearest-upsampled base in float. Its output and the bf16 network's are compared with the fp32 network's
on 20 other frames (10 downscaled to 160x120, 10 crops of 160x120 at full resolution), and the networks
are timed on one core, 3 frames of 170x130 per call, as the pipeline's worker runs them.

Run: ENHANCE_WEIGHTS_PATH=../shared/weights PYTHONPATH=. .venv/bin/python docs/experiments/int8_ptq.py
"""

from __future__ import annotations

import copy
import math
import time
import warnings

import av
import torch
import torch.ao.nn.quantized as nnq
import torch.nn.functional as F

from models import load_enhancer

CLIP = "../shared/media/onepiece_demo.mp4"
PRE_PAD = 10


def sample_frames(path: str, every: int = 15, count: int = 12) -> list[torch.Tensor]:
    """Every ``every``-th RGB frame of the clip as float CHW in [0, 1]."""
    frames = []
    with av.open(path) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % every == 0:
                rgb = torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)
                frames.append(rgb.float() / 255)
            if len(frames) == count:
                break
    return frames


def pre_pad(x: torch.Tensor) -> torch.Tensor:
    """RealESRGANer's reflect pre-pad, bottom and right."""
    return F.pad(x, (0, PRE_PAD, 0, PRE_PAD), mode="reflect")


def affine_params(low: float, high: float) -> tuple[float, int]:
    """uint8 scale and zero point covering [low, high] (widened to include 0)."""
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / 255 or 1e-8
    return scale, min(max(round(-low / scale), 0), 255)


def calibrated_ranges(net: torch.nn.Module, batch: torch.Tensor) -> list[tuple[float, float, float, float]]:
    """(input min, input max, output min, output max) of every convolution of ``net`` on ``batch``."""
    ranges = []

    def record(module, inputs, output):
        x = inputs[0]
        ranges.append((x.min().item(), x.max().item(), output.min().item(), output.max().item()))

    convs = [m for m in net.body if isinstance(m, torch.nn.Conv2d)]
    hooks = [conv.register_forward_hook(record) for conv in convs]
    net(batch)
    for hook in hooks:
        hook.remove()
    return ranges


def quantized_forward(net: torch.nn.Module, ranges):
    """A function running ``net`` (SRVGGNetCompact) with int8 convolutions and quantized PReLU."""
    convs = [m for m in net.body if isinstance(m, torch.nn.Conv2d)]
    prelus = [m for m in net.body if isinstance(m, torch.nn.PReLU)]
    layers = []
    for i, conv in enumerate(convs):
        qconv = nnq.Conv2d(conv.in_channels, conv.out_channels, 3, padding=1)
        weight = conv.weight.detach()
        weight_scale = weight.abs().amax(dim=(1, 2, 3)) / 127
        zeros = torch.zeros_like(weight_scale, dtype=torch.long)
        qweight = torch.quantize_per_channel(weight, weight_scale, zeros, 0, torch.qint8)
        # a copy: the packed weights keep the tensor, and the bf16 copy of the net must not change it
        qconv.set_weight_bias(qweight, conv.bias.detach().clone())
        qconv.scale, qconv.zero_point = affine_params(ranges[i][2], ranges[i][3])
        layers.append(qconv)
        if i < len(prelus):
            slope = prelus[i].weight.detach()
            qprelu = nnq.PReLU(*affine_params(ranges[i + 1][0], ranges[i + 1][1]), conv.out_channels)
            slope_scale, slope_zero = affine_params(slope.min().item(), slope.max().item())
            qprelu.set_weight(torch.quantize_per_tensor(slope, slope_scale, slope_zero, torch.quint8))
            layers.append(qprelu)
    in_scale, in_zero = affine_params(ranges[0][0], ranges[0][1])

    def forward(x: torch.Tensor) -> torch.Tensor:
        q = torch.quantize_per_tensor(x, in_scale, in_zero, torch.quint8)
        q = q.contiguous(memory_format=torch.channels_last)
        for layer in layers:
            q = layer(q)
        return F.pixel_shuffle(q.dequantize(), 4) + F.interpolate(x, scale_factor=4, mode="nearest")

    return forward


def psnr_uint8(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB between two float images after rounding both to 8 bits."""
    a, b = (a.clamp(0, 1) * 255).round(), (b.clamp(0, 1) * 255).round()
    return 10 * math.log10(255**2 / max((a - b).pow(2).mean().item(), 1e-12))


def per_call_ms(fn, x: torch.Tensor, repeats: int = 5) -> float:
    """Mean milliseconds of ``fn(x)`` after two warm-up calls."""
    for _ in range(2):
        fn(x)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(x)
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    """Print PSNR vs fp32 of bf16 and int8, and their per-frame times on one core."""
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    torch.backends.quantized.engine = "x86"
    net = load_enhancer("realesr-animevideov3", device="cpu", precision="fp32").net.float()
    frames = sample_frames(CLIP)
    small = [F.interpolate(f[None], size=(120, 160), mode="area")[0] for f in frames]
    crops = [f[:, 100:220, 200:360] for f in frames]
    with torch.inference_mode():
        ranges = calibrated_ranges(net, pre_pad(torch.stack(small[:2])))
        int8 = quantized_forward(net, ranges)
        test = pre_pad(torch.stack(small[2:] + crops[2:]))
        reference = net(test)
        bf16_net = copy.deepcopy(net).to(torch.bfloat16, memory_format=torch.channels_last)

        def bf16(x):
            return bf16_net(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)).float()

        print(f"PSNR vs fp32 over {len(test)} frames: bf16 {psnr_uint8(bf16(test), reference):.1f} dB, "
              f"int8 {psnr_uint8(int8(test), reference):.1f} dB")
        batch = pre_pad(torch.stack(small[2:5]))
        bf16_ms, int8_ms = per_call_ms(bf16, batch) / 3, per_call_ms(int8, batch) / 3
        print(f"one core, ms per 170x130 frame: bf16 {bf16_ms:.1f}, int8 {int8_ms:.1f} "
              f"({bf16_ms / int8_ms:.2f}x)")


if __name__ == "__main__":
    main()
