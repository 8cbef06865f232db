"""One end-to-end measurement in a fresh process: ``python -m app.bench.child '{"mode": ...}'``.

A fresh process per run makes the peak RSS mean something (this run's Python, torch, model and buffers,
nothing left from an earlier run) and keeps model caches from leaking between runs. It prints one JSON line.

- ``e2e``: the real pipeline, ``enhance_file`` with default options (what ``flask enhance`` runs).
- ``naive``: the reference a first attempt looks like: OpenCV ``VideoCapture`` reads one frame at a time,
  the model runs in fp32 (torch's default threading), OpenCV ``VideoWriter`` writes ``mp4v``, no audio.
  The model call is the project's own (``load_enhancer(..., precision="fp32").process``), so both loops
  compute the same frames; ``"network": "bare"`` calls the bare network instead (no Real-ESRGAN pre-pad:
  less work than the pipeline does, and different border pixels).
"""

from __future__ import annotations

import json
import resource
import sys
import time

#: frames left out of the steady-state rate: start-up, warm-up and the first batches filling the queues
SKIP_FRAMES = 8


def steady_fps(stamps: list[tuple[int, float]], skip: int = SKIP_FRAMES) -> float | None:
    """Frames/s between the first report at or past ``skip`` frames and the last report that added frames."""
    first = next(((f, t) for f, t in stamps if f >= skip), None)
    last = None
    for f, t in stamps:
        if last is None or f > last[0]:
            last = (f, t)
    if first is None or last is None or last[0] <= first[0] or last[1] <= first[1]:
        return None
    return (last[0] - first[0]) / (last[1] - first[1])


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MiB: VmHWM, the high-water mark of its own pages.

    Not ``ru_maxrss``: Linux carries that over an exec from the address space being replaced, which for a
    child started with vfork (as subprocess does) is its parent's, so every child would report at least the
    parent's peak.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere: the best there is


def run_e2e(src: str, dst: str, model: str, device: str = "auto") -> dict:
    """The real pipeline on ``src``: steady and total frames/s, stage times, audio kept, peak RSS."""
    import av

    from app.pipeline import EnhanceOptions, enhance_file

    stamps: list[tuple[int, float]] = []
    started = time.perf_counter()
    result = enhance_file(
        src,
        dst,
        EnhanceOptions(model=model, device=device),
        progress=lambda p: stamps.append((p.frames_done, time.perf_counter())),
    )
    wall = time.perf_counter() - started
    with av.open(src) as inp, av.open(dst) as out:
        audio_in = [s.duration * s.time_base for s in inp.streams.audio if s.duration]
        audio_out = [s.duration * s.time_base for s in out.streams.audio if s.duration]
        kept = len(out.streams.audio) == len(inp.streams.audio) and all(
            abs(float(a - b)) < 0.05 for a, b in zip(audio_in, audio_out, strict=False)
        )
    return {
        "frames": result.frames,
        "steady_fps": steady_fps(stamps),
        "total_fps": result.frames / wall,
        "wall_s": wall,
        "stages": result.stages,
        "audio_kept": kept,
        "output": f"{result.width}x{result.height}",
        "peak_rss_mb": peak_rss_mb(),
    }


def naive_network(model: str, network: str = "model", device: str = "auto"):
    """The fp32 model call of the naive loop: the enhancer's ``process``, or the bare network (``bare``)."""
    import torch

    from models import load_enhancer

    enhancer = load_enhancer(model, device=device, precision="fp32")
    net = getattr(enhancer, "net", None)
    if network == "bare" and isinstance(net, torch.nn.Module):
        net = net.to(memory_format=torch.contiguous_format)
        return lambda x: net(x.to(enhancer.device))
    return enhancer.process


def run_naive(src: str, dst: str, model: str, network: str = "model", device: str = "auto") -> dict:
    """Frame by frame: cv2 read -> float tensor -> fp32 model -> uint8 -> cv2 write."""
    import cv2
    import numpy as np
    import torch

    call = naive_network(model, network, device)
    capture = cv2.VideoCapture(src)
    fps = capture.get(cv2.CAP_PROP_FPS) or 24
    writer = None
    stamps: list[tuple[int, float]] = []
    started = time.perf_counter()
    count = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        x = torch.from_numpy(np.ascontiguousarray(bgr[..., ::-1])).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            y = call(x)
        out = (y[0].clamp(0, 1) * 255).round().byte().cpu().permute(1, 2, 0).numpy()[..., ::-1]
        if writer is None:
            size = (out.shape[1], out.shape[0])
            writer = cv2.VideoWriter(dst, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        writer.write(np.ascontiguousarray(out))
        count += 1
        stamps.append((count, time.perf_counter()))
    capture.release()
    if writer is not None:
        writer.release()
    wall = time.perf_counter() - started
    return {
        "frames": count,
        "network": network,
        "steady_fps": steady_fps(stamps),
        "total_fps": count / wall if wall else None,
        "wall_s": wall,
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str]) -> None:
    """Run the measurement described by the JSON argument and print its result as one JSON line."""
    from app import configure_libraries
    from app.config import Settings

    configure_libraries(Settings.from_env())  # a process of its own: weights path and limits as the app's
    job = json.loads(argv[1])
    device = job.get("device", "auto")
    if job["mode"] == "e2e":
        result = run_e2e(job["src"], job["dst"], job["model"], device)
    else:
        result = run_naive(job["src"], job["dst"], job["model"], job.get("network", "model"), device)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)
