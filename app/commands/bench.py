"""``flask bench``: model-only, end-to-end and naive-loop throughput; the logic is in app.bench."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from app.bench import BenchConfig, render, run_bench
from app.bench.flops import MATMUL_SIZES
from models.device import DEVICES, PRECISIONS, resolve_device
from models.errors import EnhanceError

DEFAULT_MODELS = "realesr-animevideov3,lut3d"
DEFAULT_SIZES = "160x120,640x360,1280x720"


def _sizes(text: str) -> list[tuple[int, int]]:
    """``160x120,640x360`` -> [(160, 120), (640, 360)]."""
    sizes = []
    for part in text.split(","):
        w, sep, h = part.strip().lower().partition("x")
        if not sep or not w.isdigit() or not h.isdigit() or int(w) < 16 or int(h) < 16:
            raise click.BadParameter(
                f"expected WIDTHxHEIGHT (each >= 16), got {part!r}", param_hint="--sizes"
            )
        sizes.append((int(w), int(h)))
    return sizes


def _matmul_sizes(text: str) -> tuple[int, ...]:
    """``1024,2048`` -> (1024, 2048), each at least 64."""
    try:
        sizes = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 64:
        raise click.BadParameter("expected sizes >= 64, e.g. 1024,2048", param_hint="--matmul-sizes")
    return sizes


def _precisions(text: str) -> list[str]:
    """``auto,fp32`` -> ['auto', 'fp32'], validated."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in names if p not in PRECISIONS]
    if bad or not names:
        raise click.BadParameter(f"choose from {', '.join(PRECISIONS)}", param_hint="--precisions")
    return names


@click.command("bench")
@click.option("--models", default=DEFAULT_MODELS, show_default=True, help="Comma-separated models or chains.")
@click.option("--sizes", default=DEFAULT_SIZES, show_default=True, help="Comma-separated input sizes WxH.")
@click.option(
    "--frames",
    type=click.IntRange(min=16),
    default=48,
    show_default=True,
    help="Frames per clip (the first 8 are left out of the steady-state rate).",
)
@click.option(
    "--precisions",
    default="auto",
    show_default=True,
    help="Model-only precisions, e.g. auto,fp32 (end-to-end always uses the default, auto).",
)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option(
    "--budget",
    "budget_s",
    type=click.FloatRange(min=0),
    default=90,
    show_default=True,
    help="Skip an end-to-end or naive run estimated to take longer, in seconds (0 = never skip).",
)
@click.option("--naive/--no-naive", default=True, show_default=True, help="Run the naive OpenCV loop too.")
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="End-to-end and naive runs per cell, alternating; the best steady rate of each is reported.",
)
@click.option(
    "--naive-network",
    type=click.Choice(["model", "bare"]),
    default="model",
    show_default=True,
    help="The naive loop's fp32 call: the model as the pipeline runs it (same frames), or the bare network.",
)
@click.option(
    "--memory/--no-memory",
    default=True,
    show_default=True,
    help="Peak RSS for --frames and 10x --frames at the smallest size.",
)
@click.option(
    "--matmul-sizes",
    default=",".join(str(n) for n in MATMUL_SIZES),
    show_default=True,
    help="Matrix sizes K for the peak (K x K matmuls, 16384 x K x K convolution GEMMs).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every figure, the machine and the settings to this JSON file.",
)
def bench_command(
    models,
    sizes,
    frames,
    precisions,
    device,
    budget_s,
    repeats,
    naive,
    naive_network,
    memory,
    matmul_sizes,
    json_path,
) -> None:
    """Measure frames/s (model only, end to end, naive loop), FLOP/s against the matmul peak, peak memory."""
    config = BenchConfig(
        models=[m.strip() for m in models.split(",") if m.strip()],
        sizes=_sizes(sizes),
        frames=frames,
        precisions=_precisions(precisions),
        device=device,
        budget_s=budget_s,
        naive=naive,
        naive_network=naive_network,
        repeats=repeats,
        matmul_sizes=_matmul_sizes(matmul_sizes),
        memory=memory,
    )
    try:
        resolve_device(device)
    except EnhanceError as exc:
        raise click.UsageError(exc.detail) from None
    result = run_bench(config, log=lambda line: click.echo(line, err=True))
    result["command"] = "flask bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 else "flask bench"
    click.echo(render(result))
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))
        click.echo(f"wrote {json_path}", err=True)
