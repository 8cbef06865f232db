"""The video evaluation loop: damage each clip, run it through the real pipeline, score sharpness and flicker.

Clips go through ``app.pipeline.enhance_file`` exactly as ``flask enhance`` runs them (so temporal stages
see their windows, scene cuts and padding), into a lossless FFV1 file that is read back and compared
frame by frame with the clean original.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import torch

from app.pipeline import EnhanceOptions, enhance_file, enhancer_for
from models.device import precision_name, resolve_device, resolve_precision
from models.errors import EnhanceError

from .flicker import Motion, measure_motion, warping_error
from .metrics import psnr, ssim
from .plan import Skip, Task
from .runner import Evaluation, SizeMismatch
from .video_degrade import FPS, VideoDegradation
from .videos import EvalClip, read_frames

#: the pseudo-model "the clean original": its own warping error is what a perfectly steady output scores
ORIGINAL = "original"


def write_clip(frames: np.ndarray, path: Path) -> Path:
    """Write (T, H, W, 3) uint8 RGB frames losslessly (FFV1, RGB): the pipeline reads them exactly."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "bgr0"
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="bgr0")))
        out.mux(stream.encode(None))
    return path


def score(gt: np.ndarray, out: np.ndarray, motions: list[Motion]) -> dict:
    """Per-frame PSNR and SSIM (means over the frames) and the warping error of ``out``."""
    psnrs = [psnr(g, o) for g, o in zip(gt, out, strict=True)]
    return {
        # an identical frame has infinite PSNR; the clip's mean is then infinite too (null in JSON)
        "psnr": round(statistics.fmean(psnrs), 4) if all(map(math.isfinite, psnrs)) else math.inf,
        "ssim": round(statistics.fmean(ssim(g, o) for g, o in zip(gt, out, strict=True)), 6),
        "warp_error": round(warping_error(out, motions), 9),
    }


def run_videos(
    tasks: list[Task],
    clips: list[EvalClip],
    *,
    device: str = "auto",
    precision: str = "fp32",
    step: Callable[[str], None] = lambda label: None,
) -> Evaluation:
    """Evaluate every task on every clip, plus an ``original`` row per (degradation, clip)."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        # as for images: autotuned kernels may differ between runs, and a comparison must repeat
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    result = Evaluation(device=str(dev), precision=precision_name(resolve_precision(precision, dev)))
    # the motion depends on the original alone: measured once per clip, the same yardstick for every model
    motions = {clip.name: measure_motion(clip.frames) for clip in clips}
    degradations = list({t.degradation.name: t.degradation for t in tasks}.values())
    with tempfile.TemporaryDirectory(prefix="flask-evaluate-") as tmp:
        work = Path(tmp)
        sources: dict[tuple[str, str], Path] = {}
        for d in degradations:
            for clip in clips:
                name = f"{len(sources)}.mkv"  # clip and damage names may hold anything; the index does not
                sources[d.name, clip.name] = write_clip(d.apply(clip.frames), work / name)
                result.rows.append(_row(clip, d, ORIGINAL, clip.frames, motions[clip.name], 0.0, result))
        for task in tasks:
            _run_task(task, clips, sources, motions, work, result, step)
    return result


def _row(clip: EvalClip, d: VideoDegradation, model: str, out, motions, ms: float, result) -> dict:
    """One results.json row."""
    return {
        "clip": clip.name,
        "degradation": d.name,
        "model": model,
        **score(clip.frames, out, motions),
        "ms_per_frame": round(ms, 3),
        "frames": int(len(out)),
        "width": int(out.shape[2]),
        "height": int(out.shape[1]),
        "device": result.device,
        "precision": result.precision,
    }


def _run_task(task: Task, clips, sources, motions, work: Path, result: Evaluation, step) -> None:
    """Run the task's model over every clip; a model that fails is skipped on this damage, with the reason."""
    d = task.degradation
    label = f"{task.model} on {d.name}"
    options = EnhanceOptions(
        model=task.model,
        device=result.device,
        precision=result.precision,
        codec="ffv1",
        model_options=task.options,
    )
    rows = []
    try:
        enhancer_for(options)  # loaded (and cached) before the clock starts: load time is not frame time
        for clip in clips:
            out_path = work / "out.mkv"
            run = enhance_file(sources[d.name, clip.name], out_path, options)
            out = read_frames(out_path)
            if out.shape != clip.frames.shape:
                raise SizeMismatch(
                    f"{clip.name}: output {out.shape[2]}x{out.shape[1]}x{len(out)} frames, "
                    f"original {clip.frames.shape[2]}x{clip.frames.shape[1]}x{len(clip.frames)}"
                )
            ms = 1000.0 * (run.seconds or 0.0) / len(out)
            rows.append(_row(clip, d, task.model, out, motions[clip.name], ms, result))
            step(label)
    except EnhanceError as exc:
        # a half-scored model would skew its means: all of its rows on this damage go
        result.skipped.append(Skip("model", task.model, exc.detail, d.name))
        for _ in clips[len(rows) :]:
            step(label)
        return
    result.rows += rows
