"""Model-only throughput: ``enhancer.process`` on ready tensors, laid out as the pipeline runs it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import torch

from app.pipeline.compute import single_thread_pool


def _sync(device: torch.device) -> None:
    """Wait for queued device work (CUDA), so the clock measures the compute."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_fps(enhancer, width: int, height: int, batch: int, workers: int, min_seconds: float = 2.0) -> dict:
    """Frames/s of ``workers`` threads each running batches of ``batch`` frames, after a warm-up round.

    The same layout as the pipeline's enhance stage (one torch thread per CPU worker), without decode,
    conversions or encode: the ceiling the end-to-end figure is compared with.
    """
    frames = torch.rand(batch, 3, height, width)
    cpu = enhancer.device.type == "cpu"
    with single_thread_pool(workers, "bench") if cpu else ThreadPoolExecutor(workers) as pool:

        def one_round() -> None:
            list(pool.map(lambda _: enhancer.process(frames), range(workers)))
            _sync(enhancer.device)

        one_round()  # warm-up: oneDNN picks and JIT-compiles its kernels, the allocator fills
        rounds, started = 0, time.perf_counter()
        while rounds < 2 or (time.perf_counter() - started < min_seconds and rounds < 100):
            one_round()
            rounds += 1
        seconds = time.perf_counter() - started
    return {"fps": rounds * workers * batch / seconds, "rounds": rounds, "seconds": seconds}
