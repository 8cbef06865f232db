"""The enhance stage: batches of planar frames in, encoder-ready PyAV frames out, several batches in flight.

On the CPU the stage runs ``workers`` threads, each with ONE torch intra-op thread, each on its own batch.
One worker with an OpenMP team of all cores is what torch does by default, and it collapses in a pipeline:
the decode and encode threads share the same cores, every layer of the network ends at a barrier where
the team waits for a member the kernel parked behind x264, and libgomp spins (milliseconds) on the other
core while it waits, starving the encoder that everything waits for. Independent single-threaded workers
never wait for each other and never spin. On the 2-core benchmark machine the convolutions run as fast
this way as with one two-thread team, and when other processes share the cores the old layout fell to
3-9 frames/s (lut3d, 720p) where this one kept 22-27 (docs/BENCHMARKS.md).

On CUDA one worker feeds the device and frames stay in flight through asynchronous copies: the result of
batch k is copied to pinned host memory while batch k+1 is computed, and the encoder waits for the copy.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from models.base import Enhancer

from .frames import fit, planes_to_tensor, tensor_to_frames, tensor_to_host

#: serialises the moments when the process-wide torch thread count is changed to pin the workers
_THREADS_LOCK = threading.Lock()


def cpu_workers() -> int:
    """Enhance workers on the CPU: one per torch intra-op thread (the cores, or what the user set)."""
    return max(1, torch.get_num_threads())


def stage_layout(enhancer: Enhancer, width: int, height: int, batch: int = 0) -> tuple[int, int]:
    """(workers, frames per batch) for ``width`` x ``height`` frames; ``batch`` > 0 is the user's choice.

    The one place the pipeline and ``flask bench`` (whose model-only rate must be laid out as the pipeline
    runs) decide it: one worker per core on the CPU, one worker feeding a CUDA device.
    """
    device = enhancer.device.type
    workers = cpu_workers() if device == "cpu" else 1
    return workers, batch or auto_batch(width, height, device, workers, enhancer.batch_pixel_bytes)


def auto_batch(width: int, height: int, device_type: str, workers: int = 1, pixel_bytes: int = 256) -> int:
    """Frames per forward pass: on CUDA enough pixels to fill the device; on the CPU as many as keep every
    worker's activations (``pixel_bytes`` per input pixel: a layer's input and output) in the shared cache.

    A batch that spills out of the last-level cache runs every layer from DRAM: on the 2-core benchmark
    machine 16 frames of 160x120 per batch (the old 500k-pixel rule) ran 40% slower than 1 to 3.
    """
    pixels = max(1, width * height)
    if device_type == "cuda":
        return max(1, min(16, 4_000_000 // pixels))
    return max(1, min(16, last_level_cache_bytes() // (workers * pixels * pixel_bytes)))


@functools.cache
def last_level_cache_bytes() -> int:
    """The largest CPU cache (L3 usually), from sysfs; 32 MiB when it cannot be read."""
    # read by hand: neither os.sysconf (no cache names in Python's table) nor torch expose the L3 size,
    # and py-cpuinfo would be a dependency (and a cpuid subprocess) for one number
    sizes = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    with contextlib.suppress(OSError):
        for index in os.listdir(base):
            with contextlib.suppress(OSError, ValueError):
                with open(os.path.join(base, index, "size")) as fh:
                    text = fh.read().strip().upper()
                scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
                sizes.append(int(text.rstrip("KMG")) * scale)
    return max(sizes, default=32 << 20)


def single_thread_pool(workers: int, name: str = "enhance") -> ThreadPoolExecutor:
    """A pool of ``workers`` threads, each with one torch intra-op thread when there are several."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    if workers > 1:
        pin_single_thread(pool, workers)
    return pool


def pin_single_thread(pool: ThreadPoolExecutor, workers: int) -> None:
    """Give each of the pool's ``workers`` threads one torch intra-op thread, leaving others as they were.

    ``torch.set_num_threads`` sets the calling thread's OpenMP team size and the process default; so each
    worker sets 1 for itself (all of them at once, held by a barrier, so that each task gets its own
    thread), then the caller puts the default back for every other thread. Checked by
    tests/test_bench.py: a worker reports one thread, the caller its own count.
    """
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        barrier = threading.Barrier(workers)

        def pin() -> None:
            torch.set_num_threads(1)
            # torch initialises a thread's team size from the process default on the thread's first
            # parallel call: make that happen now, while the default is 1, or it would undo the pin
            torch.get_num_threads()
            barrier.wait(timeout=60)

        try:
            for future in [pool.submit(pin) for _ in range(workers)]:
                future.result()
        finally:
            torch.set_num_threads(before)


class PendingFrames:
    """A CUDA batch on its way to the host: ``wait()`` blocks until the copy is done, then makes frames."""

    def __init__(self, host: torch.Tensor, event, stage: EnhanceStage):
        self.host, self.event, self.stage = host, event, stage

    def wait(self) -> list:
        """The encoder-ready frames of this batch."""
        self.event.synchronize()
        return self.stage.encoder_frames(self.host)


class EnhanceStage:
    """Runs batches through the enhancer on worker threads; ``submit`` returns a Future of frames."""

    def __init__(
        self,
        enhancer: Enhancer,
        scaled: tuple[int, int],
        final: tuple[int, int],
        bits: int,
        pix_fmt: str,
        dst_colorspace=None,
        workers: int | None = None,
    ):
        self.enhancer, self.scaled, self.final, self.bits = enhancer, scaled, final, bits
        self.pix_fmt, self.dst_colorspace = pix_fmt, dst_colorspace
        self.cpu = enhancer.device.type == "cpu"
        self.workers = workers or (cpu_workers() if self.cpu else 1)
        self._local = threading.local()
        self.busy = 0.0  # CPU seconds the workers spent, summed over workers
        self._busy_lock = threading.Lock()
        make_pool = single_thread_pool if self.cpu else ThreadPoolExecutor
        self.pool = make_pool(self.workers, "enhance")

    def submit(self, pixels: np.ndarray) -> Future:
        """Start enhancing one batch (N, 3, H, W) of planar RGB integers."""
        return self.pool.submit(self._run, pixels)

    def submit_tensor(self, pixels: np.ndarray, enhancer: Enhancer | None) -> Future:
        """Start running ``enhancer`` (None: none) on one batch; the Future holds its output tensor, not
        frames: a temporal stage runs on it first (app/pipeline/temporal.py), then ``finish``."""
        return self.pool.submit(self._run_tensor, pixels, enhancer)

    def finish(self, result: torch.Tensor):
        """Encoder-ready frames (or, on CUDA, PendingFrames) of an enhanced batch: resized and padded."""
        result = fit(result, self.scaled, self.final)
        if self.cpu:
            return self.encoder_frames(result)
        host, event = tensor_to_host(result, self.bits)
        return PendingFrames(host, event, self)

    def close(self) -> None:
        """Drop batches not started yet and wait for running ones (they hold the enhancer)."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, pixels: np.ndarray):
        """One batch, in a worker thread: tensor, network, resize/pad, integer frames."""
        started = time.thread_time()
        try:
            batch = planes_to_tensor(pixels, self.enhancer.device)
            return self.finish(self.enhancer.process(batch))
        finally:
            with self._busy_lock:
                self.busy += time.thread_time() - started

    def _run_tensor(self, pixels: np.ndarray, enhancer: Enhancer | None) -> torch.Tensor:
        """One batch through ``enhancer``, in a worker thread; the result stays a tensor."""
        started = time.thread_time()
        try:
            batch = planes_to_tensor(pixels, self.enhancer.device)
            return enhancer.process(batch) if enhancer else batch
        finally:
            with self._busy_lock:
                self.busy += time.thread_time() - started

    def encoder_frames(self, result: torch.Tensor) -> list:
        """Frames in the encoder's pixel format; swscale runs here, in parallel workers, one thread each."""
        reformatter = getattr(self._local, "reformatter", None)
        if reformatter is None:
            reformatter = self._local.reformatter = VideoReformatter()
        return [
            reformatter.reformat(frame, format=self.pix_fmt, dst_colorspace=self.dst_colorspace, threads=1)
            for frame in tensor_to_frames(result, self.bits)
        ]
