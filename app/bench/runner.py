"""The benchmark plan: matmul peaks, then per model and size model-only, end-to-end and naive runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from app.pipeline.compute import stage_layout
from models import load_enhancer
from models.device import precision_name, resolve_device, resolve_precision
from models.errors import EnhanceError

from .clip import make_clip
from .flops import MATMUL_SIZES, forward_flops, matmul_peak
from .machine import machine_facts
from .model import model_fps

REPO = Path(__file__).resolve().parents[2]
#: how much slower the fp32 naive loop is assumed to be than the bf16 model, to skip runs over budget
_NAIVE_SLOWDOWN = {torch.bfloat16: 3.0, torch.float16: 4.0, torch.float32: 1.5}


@dataclass
class BenchConfig:
    """What to measure."""

    models: list[str]
    sizes: list[tuple[int, int]]
    frames: int = 48
    precisions: list[str] = field(default_factory=lambda: ["auto"])
    device: str = "auto"
    #: estimated seconds above which one end-to-end or naive run is skipped (0 = never skip)
    budget_s: float = 90.0
    naive: bool = True
    #: the naive loop calls "model" (the enhancer's fp32 process: same frames) or "bare" (the network alone)
    naive_network: str = "model"
    #: end-to-end and naive runs per model and size (alternating); the best steady rate of each is kept
    repeats: int = 1
    memory: bool = True
    memory_factor: int = 10
    workdir: Path | None = None
    matmul_sizes: tuple[int, ...] = MATMUL_SIZES
    #: seconds of timed model-only rounds per model and size (at least two rounds)
    model_seconds: float = 2.0


def run_bench(config: BenchConfig, log: Callable[[str], None] = print) -> dict:
    """Run every measurement of ``config``; returns the JSON-ready results."""
    result = {"machine": machine_facts(), "config": _config_dict(config), "load_before": os.getloadavg()}
    load = result["load_before"][0]
    if load > 0.5:
        log(f"note: load average {load:.2f}: other work shares the CPU; figures will be low")
    with tempfile.TemporaryDirectory(prefix="bench-", dir=config.workdir) as tmp:
        work = Path(tmp)
        result["peak"] = _peaks(config, log)
        result["rows"], result["skipped"] = [], []
        clips: dict[tuple[int, int, int], Path] = {}
        for model in config.models:
            for precision in config.precisions:
                _bench_model(model, precision, config, work, clips, result, log)
        result["memory"] = _memory(config, work, clips, result, log) if config.memory else []
    result["load_after"] = os.getloadavg()
    return result


def _config_dict(config: BenchConfig) -> dict:
    """The config as JSON."""
    d = dict(config.__dict__)
    d["sizes"] = [f"{w}x{h}" for w, h in config.sizes]
    d["workdir"] = str(config.workdir) if config.workdir else None
    return d


def _peaks(config: BenchConfig, log) -> dict:
    """Matmul peaks for fp32, and bf16 where a model may run in it."""
    dtypes = {"fp32": torch.float32}
    if "bf16" in config.precisions or ("auto" in config.precisions and _auto_is_bf16(config.device)):
        dtypes["bf16"] = torch.bfloat16
    peaks = {}
    for name, dtype in dtypes.items():
        log(f"matmul peak {name} ...")
        peaks[name] = matmul_peak(dtype, config.matmul_sizes)
        log(f"  {peaks[name]['flops'] / 1e9:.0f} GFLOP/s ({peaks[name]['size']}^2, {peaks[name]['layout']})")
    return peaks


def _auto_is_bf16(device: str) -> bool:
    """True when ``--precision auto`` means bf16 on this device."""
    return resolve_precision("auto", resolve_device(device)) == torch.bfloat16


def _clip(work: Path, clips: dict, width: int, height: int, frames: int) -> Path:
    """The generated clip of this size and length (made once per run)."""
    key = (width, height, frames)
    if key not in clips:
        clips[key] = make_clip(work / f"clip_{width}x{height}_{frames}.mp4", width, height, frames)
    return clips[key]


def _bench_model(model: str, precision: str, config: BenchConfig, work, clips, result, log) -> None:
    """All sizes of one model in one precision."""
    try:
        enhancer = load_enhancer(model, device=config.device, precision=precision)
    except EnhanceError as exc:
        result["skipped"].append({"model": model, "precision": precision, "reason": exc.detail})
        log(f"skip {model} ({precision}): {exc.detail}")
        return
    dtype_name = precision_name(enhancer.dtype)
    peak = result["peak"].get(dtype_name, {}).get("flops")
    for width, height in config.sizes:
        workers, batch = stage_layout(enhancer, width, height)
        log(f"{model} {dtype_name} {width}x{height}: model only ({workers} x batch {batch}) ...")
        speed = model_fps(enhancer, width, height, batch, workers, config.model_seconds)
        flops = forward_flops(enhancer, width, height)
        achieved = flops * speed["fps"]
        row = {
            "model": model,
            "precision": dtype_name,
            "input": f"{width}x{height}",
            "output": "x".join(str(v) for v in enhancer.output_size(width, height)),
            "batch": batch,
            "workers": workers,
            "model_fps": speed["fps"],
            "flops_per_frame": flops,
            "flops_per_pixel": flops / (width * height),
            "achieved_flops": achieved,
            "peak_flops": peak,
            "peak_fraction": achieved / peak if peak else None,
        }
        log(f"  {speed['fps']:.2f} frames/s, {achieved / 1e9:.0f} GFLOP/s")
        # end-to-end and naive use the pipeline's default precision: only run them once, for "auto"
        if precision == "auto":
            _pipeline_runs(row, model, enhancer.dtype, speed["fps"], config, work, clips, result, log)
        result["rows"].append(row)


def _pipeline_runs(row, model, dtype, fps, config, work, clips, result, log) -> None:
    """End-to-end (and naive) runs on the generated clip, each in a fresh process, within the budget.

    With ``repeats`` > 1 the two alternate and each keeps its best steady rate (every rate is in the
    JSON): the naive loop's OpenMP team is very sensitive to other work on the machine, the best of a few
    runs is its fair figure, and the pipeline gets the same treatment.
    """
    width, height = (int(v) for v in row["input"].split("x"))
    frames = config.frames
    estimate = frames / max(fps, 1e-6) * config.repeats
    naive_estimate = estimate * _NAIVE_SLOWDOWN.get(dtype, 2.0)
    where = f"{model} {row['input']}"
    if config.budget_s and estimate > config.budget_s:
        reason = f"end-to-end estimated {estimate:.0f} s > --budget {config.budget_s:.0f} s"
        result["skipped"].append({"model": model, "input": row["input"], "run": "e2e", "reason": reason})
        log(f"  skip end-to-end: {reason}")
        return
    naive = config.naive and not (config.budget_s and naive_estimate > config.budget_s)
    if config.naive and not naive:
        reason = f"naive loop estimated {naive_estimate:.0f} s > --budget {config.budget_s:.0f} s"
        result["skipped"].append({"model": model, "input": row["input"], "run": "naive", "reason": reason})
        log(f"  skip naive: {reason}")
    src = _clip(work, clips, width, height, frames)
    runs: dict[str, list[dict]] = {"e2e": [], "naive": []}
    for attempt in range(config.repeats):
        log(f"{where}: end-to-end, {frames} frames ({attempt + 1}/{config.repeats}) ...")
        runs["e2e"].append(
            child_run("e2e", src, work / f"e2e_{row['input']}.mp4", model, device=config.device)
        )
        log(f"  {_fmt(runs['e2e'][-1].get('steady_fps'))} frames/s steady")
        if naive:
            log(f"{where}: naive loop, {frames} frames ({attempt + 1}/{config.repeats}) ...")
            dst = work / f"naive_{row['input']}.mp4"
            runs["naive"].append(child_run("naive", src, dst, model, config.naive_network, config.device))
            log(f"  {_fmt(runs['naive'][-1].get('steady_fps'))} frames/s steady")
    for kind, done in runs.items():
        if done:
            row[kind] = max(done, key=lambda r: r.get("steady_fps") or 0)
            row[f"{kind}_steady_fps_runs"] = [r.get("steady_fps") for r in done]
    e2e, slow = row["e2e"].get("steady_fps"), (row.get("naive") or {}).get("steady_fps")
    row["speedup"] = e2e / slow if e2e and slow else None
    log(
        f"  best: pipeline {_fmt(e2e)}, naive {_fmt(slow)}, ratio {_fmt(row['speedup'])}; "
        f"audio kept: {row['e2e'].get('audio_kept')}"
    )


def _memory(config: BenchConfig, work, clips, result, log) -> list[dict]:
    """Peak RSS of the pipeline for N and factor x N frames, per model, at the smallest size."""
    width, height = min(config.sizes, key=lambda s: s[0] * s[1])
    rows = []
    for model in config.models:
        if any(s.get("model") == model and "run" not in s for s in result["skipped"]):
            continue
        rss = []
        lengths = (config.frames, config.frames * config.memory_factor)
        for frames in lengths:
            log(f"{model} {width}x{height}: memory, {frames} frames ...")
            src = _clip(work, clips, width, height, frames)
            run = child_run("e2e", src, work / f"mem_{model}_{frames}.mp4", model, device=config.device)
            rss.append(run.get("peak_rss_mb"))
        ratio = rss[1] / rss[0] if all(rss) else None
        rows.append(
            {
                "model": model,
                "input": f"{width}x{height}",
                "frames": list(lengths),
                "peak_rss_mb": rss,
                "ratio": ratio,
            }
        )
        log(f"  peak RSS {_fmt(rss[0])} MiB -> {_fmt(rss[1])} MiB (x{_fmt(ratio, 3)})")
    return rows


def child_run(
    mode: str, src: Path, dst: Path, model: str, network: str = "model", device: str = "auto"
) -> dict:
    """Run one measurement in a fresh Python process (app.bench.child); its JSON result or an error."""
    job = {
        "mode": mode,
        "src": str(src),
        "dst": str(dst),
        "model": model,
        "network": network,
        "device": device,
    }
    job = json.dumps(job)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "app.bench.child", job], cwd=REPO, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {proc.returncode}: {tail[0]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(value, digits: int = 2) -> str:
    """A number for the log, or '-'."""
    return "-" if value is None else f"{value:.{digits}f}"
