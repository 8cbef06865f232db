"""The evaluation loop: damage each image, restore it with each model, score it and time it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from app.pipeline.frames import from_tensor, to_tensor
from models.device import precision_name, resolve_device, resolve_precision
from models.errors import EnhanceError
from models.registry import load_enhancer

from .images import EvalImage
from .metrics import load_lpips, psnr, ssim
from .plan import INPUT, Skip, Task


@dataclass
class Evaluation:
    """What a run produced: one row per (image, degradation, model) and everything left out."""

    rows: list[dict] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    device: str = "cpu"
    precision: str = "fp32"


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures the work and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def restore(enhancer, degraded: np.ndarray, repeats: int = 1) -> tuple[np.ndarray, float]:
    """Run ``enhancer`` on one uint8 RGB image: one warm-up, then the fastest of ``repeats`` timed runs (ms).

    The minimum, not the mean: other processes on the machine only ever add time to a run.
    """
    batch = to_tensor(degraded[None], enhancer.device)
    enhancer.process(batch)  # warm-up: first-call allocations and kernel selection are not model time
    times = []
    for _ in range(max(1, repeats)):
        _sync(enhancer.device)
        start = time.perf_counter()
        out = enhancer.process(batch)
        _sync(enhancer.device)
        times.append((time.perf_counter() - start) * 1000.0)
    return from_tensor(out)[0], min(times)


def _row(
    image: str, degradation: str, model: str, gt, restored, ms: float, result: Evaluation, lpips
) -> dict:
    """One results.json row; PSNR/SSIM rounded well below run-to-run noise of any real change."""
    row = {
        "image": image,
        "degradation": degradation,
        "model": model,
        "psnr": round(psnr(gt, restored), 4),
        "ssim": round(ssim(gt, restored), 6),
        "ms_per_frame": round(ms, 3),
        "device": result.device,
        "precision": result.precision,
        "width": int(gt.shape[1]),
        "height": int(gt.shape[0]),
    }
    if lpips is not None:
        row["lpips"] = round(lpips(gt, restored), 6)
    return row


def run(
    tasks: list[Task],
    images: list[EvalImage],
    *,
    device: str = "auto",
    precision: str = "fp32",
    repeats: int = 1,
    step: Callable[[str], None] = lambda label: None,
) -> Evaluation:
    """Evaluate every task on every image; ``step(label)`` is called after each (task, image)."""
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    if dev.type == "cuda":
        # autotuned kernels may differ between runs; a comparison must give the same numbers twice
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    result = Evaluation(device=str(dev), precision=precision_name(dtype))
    lpips, why = load_lpips(dev)
    if lpips is None:
        result.skipped.append(Skip("metric", "lpips", f"LPIPS not computed: {why}"))
    # damaging is cheap and deterministic, but done once per (degradation, image) all the same
    damaged: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for task in tasks:
        d = task.degradation
        for im in images:
            if (d.name, im.name) not in damaged:
                damaged[d.name, im.name] = (d.ground_truth(im.pixels), d.apply(im.pixels))
    for task in tasks:
        _run_task(task, images, damaged, dev, dtype, repeats, lpips, result, step)
    return result


def _run_task(task, images, damaged, dev, dtype, repeats, lpips, result: Evaluation, step) -> None:
    """Load the task's model and score it on every image; a model that fails is skipped, with the reason."""
    d = task.degradation
    label = f"{task.model} on {d.name}"
    rows = []
    try:
        enhancer = None
        if task.model != INPUT:
            enhancer = load_enhancer(
                task.model, device=dev, precision=precision_name(dtype), options=task.options
            )
        for im in images:
            gt, bad = damaged[d.name, im.name]
            restored, ms = (bad, 0.0) if enhancer is None else restore(enhancer, bad, repeats)
            if restored.shape != gt.shape:
                raise SizeMismatch(
                    f"{im.name}: output {restored.shape[1]}x{restored.shape[0]}, "
                    f"original {gt.shape[1]}x{gt.shape[0]}"
                )
            rows.append(_row(im.name, d.name, task.model, gt, restored, ms, result, lpips))
            step(label)
    except EnhanceError as exc:
        # a half-scored model would skew its means: all of its rows on this degradation go
        result.skipped.append(Skip("model", task.model, exc.detail, d.name))
        for _ in images[len(rows) :]:
            step(label)
        return
    result.rows += rows


class SizeMismatch(EnhanceError):
    """A model returned an image whose size is not the ground truth's."""

    title = "Output size mismatch"
    slug = "size-mismatch"
