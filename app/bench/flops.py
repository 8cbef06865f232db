"""FLOP counting: this machine's matrix-multiply peak, and the work one forward pass of an enhancer does.

The peak is the best of several large matrix products in both thread layouts the pipeline could use (one
call on all intra-op threads; one single-threaded call per worker, side by side) and through both GEMM
engines torch has on the CPU: ``torch.matmul`` (MKL for fp32, oneDNN for bf16) and oneDNN's own GEMM
behind a 1x1 convolution. Both are needed: on AMD CPUs MKL's fp32 GEMM reaches about half of what oneDNN
does, and a peak that low would make fp32 convolutions look faster than the machine.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from app.pipeline.compute import cpu_workers, single_thread_pool

MATMUL_SIZES = (1024, 2048, 3072)
#: rows of the 1x1-convolution GEMM (a 128x128 image): M x K @ K x K with K = the matmul size
GEMM_ROWS = 128 * 128


def _best_seconds(run, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls of ``run`` (after one untimed warm-up call)."""
    run()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _kernels(dtype: torch.dtype, n: int):
    """(name, FLOPs, callable) for an n-sized torch.matmul and an n-channel 1x1-convolution GEMM."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    side = int(GEMM_ROWS**0.5)
    image = torch.randn(1, n, side, side).to(dtype).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(n, n, 1, 1).to(dtype).contiguous(memory_format=torch.channels_last)
    return (
        ("torch.matmul", 2 * n**3, lambda: torch.matmul(a, b)),
        ("oneDNN 1x1 conv", 2 * GEMM_ROWS * n * n, lambda: F.conv2d(image, weight)),
    )


def matmul_peak(dtype: torch.dtype, sizes=MATMUL_SIZES, repeats: int = 4) -> dict:
    """Best FLOP/s of large ``dtype`` GEMMs here: {"flops", "kernel", "size", "layout", "all": [...]}."""
    workers = cpu_workers()
    rows = []
    with torch.inference_mode(), single_thread_pool(workers, "peak") as pool:
        for n in sizes:
            for kernel, flop, run in _kernels(dtype, n):
                team = _best_seconds(run, repeats)
                rows.append(
                    {
                        "kernel": kernel,
                        "size": n,
                        "layout": f"1x{torch.get_num_threads()}",
                        "flops": flop / team,
                    }
                )
                if workers > 1:

                    def side_by_side(run=run):
                        list(pool.map(lambda _: run(), range(workers)))

                    apart = _best_seconds(side_by_side, repeats)
                    rows.append(
                        {
                            "kernel": kernel,
                            "size": n,
                            "layout": f"{workers}x1",
                            "flops": workers * flop / apart,
                        }
                    )
    best = max(rows, key=lambda r: r["flops"])
    return {**best, "all": rows}


def forward_flops(enhancer, width: int, height: int) -> int:
    """FLOPs of one ``enhancer.process`` call on one width x height frame, as torch counts them.

    Convolutions and matrix products are counted (pads and pointwise ops are not); the count includes
    any padding the enhancer adds (Real-ESRGAN's 10-pixel pre-pad), because that work is really done.
    """
    frame = torch.rand(1, 3, height, width)
    counter = FlopCounterMode(display=False)
    with counter:
        enhancer.process(frame)
    return int(counter.get_total_flops())


def srvgg_flops_per_pixel(num_feat: int = 64, num_conv: int = 16, scale: int = 4, channels: int = 3) -> int:
    """FLOPs per (padded) input pixel of SRVGGNetCompact, counted by hand: 3x3 convs, 2 FLOPs per MAC."""
    macs = 9 * (channels * num_feat + num_conv * num_feat * num_feat + num_feat * channels * scale * scale)
    return 2 * macs
