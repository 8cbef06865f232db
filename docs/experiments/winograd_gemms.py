"""Would Winograd F(2x2,3x3) make SRVGGNet's 64->64 convolutions faster on this CPU? (docs/BENCHMARKS.md)

Winograd F(2x2,3x3) turns a 3x3 convolution into 16 independent GEMMs of (tiles x 64) @ (64 x 64): 2.25x
fewer multiplications than the direct convolution. This times, on one core, one bf16 layer as the
pipeline's worker runs it (3 frames of 170x130, channels-last) done directly by oneDNN, against the 16
GEMMs alone, through every GEMM path torch has on the CPU, leaving the input and output transforms out
(they are extra memory passes: free here, so the comparison favours Winograd).

Run: .venv/bin/python docs/experiments/winograd_gemms.py
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

FRAMES, CHANNELS, HEIGHT, WIDTH = 3, 64, 130, 170


def per_call_ms(fn, repeats: int = 20) -> float:
    """Mean milliseconds of ``fn()`` after three warm-up calls."""
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    """Print ms and GFLOP/s (useful multiplications) of the direct layer and of Winograd's GEMMs."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    direct_flop = FRAMES * HEIGHT * WIDTH * CHANNELS * CHANNELS * 9 * 2
    tiles = FRAMES * ((HEIGHT + 1) // 2) * ((WIDTH + 1) // 2)
    gemm_flop = 16 * tiles * CHANNELS * CHANNELS * 2
    with torch.inference_mode():
        x = torch.randn(FRAMES, CHANNELS, HEIGHT, WIDTH, dtype=torch.bfloat16)
        x = x.contiguous(memory_format=torch.channels_last)
        w = (torch.randn(CHANNELS, CHANNELS, 3, 3) * 0.05).to(torch.bfloat16)
        w = w.contiguous(memory_format=torch.channels_last)
        v = torch.randn(16, tiles, CHANNELS, dtype=torch.bfloat16)
        u = torch.randn(16, CHANNELS, CHANNELS, dtype=torch.bfloat16)
        flat = v.reshape(1, 16 * tiles, 1, CHANNELS).permute(0, 3, 1, 2)
        one_by_one = u[0].t().reshape(CHANNELS, CHANNELS, 1, 1).contiguous(memory_format=torch.channels_last)
        rows = [
            ("direct 3x3 conv (oneDNN)", direct_flop, lambda: F.conv2d(x, w, padding=1)),
            ("Winograd GEMMs: torch.bmm", gemm_flop, lambda: torch.bmm(v, u)),
            ("Winograd GEMMs: 16 x torch.mm", gemm_flop, lambda: [torch.mm(v[i], u[i]) for i in range(16)]),
            ("Winograd GEMMs: 1x1 conv (oneDNN)", gemm_flop, lambda: F.conv2d(flat, one_by_one)),
        ]
        print(f"one core, bf16, {FRAMES} frames of {WIDTH}x{HEIGHT}, 64->64 channels")
        for name, flop, fn in rows:
            ms = per_call_ms(fn)
            print(f"{name:36s} {ms:7.2f} ms  {flop / ms / 1e6:6.0f} GFLOP/s")


if __name__ == "__main__":
    main()
