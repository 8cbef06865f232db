"""``flask enhance INPUT -o OUTPUT``: enhance a video or image (or a folder of them) from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from app.config import Limits
from app.jobs.submit import build_options
from app.pipeline import EnhanceOptions, enhance_file
from app.pipeline.options import CODECS, DEINTERLACE_MODES, PRESETS, default_crf_text
from app.pipeline.progress import ProgressLines
from models.device import DEVICES, PRECISIONS
from models.errors import EnhanceError


def _model_option_pairs(pairs: tuple[str, ...]) -> dict:
    """``KEY=VALUE`` pairs as a dict of strings (parsed against the model by ``build_options``)."""
    raw = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--model-option")
        raw[key.strip()] = value.strip()
    return raw


def _run_one(src: Path, dst: Path, options: EnhanceOptions, limits: Limits) -> None:
    """Enhance one file: a progress bar on a terminal, plain progress lines on any other stderr."""
    if not sys.stderr.isatty():
        # a log file, CI or a pipe cannot show a bar: lines every 10% / 10 s, so a long job is seen moving
        result = enhance_file(src, dst, options, progress=ProgressLines(src.name, _to_stderr), limits=limits)
        _summarise(dst, result)
        return
    bar = tqdm(desc=src.name, unit="frame", leave=False, dynamic_ncols=True)

    def report(progress):
        if progress.frames_total and bar.total != progress.frames_total:
            bar.total = progress.frames_total
        bar.n = progress.frames_done
        bar.set_postfix(fps=f"{progress.fps or 0:.1f}", refresh=False)
        bar.refresh()

    try:
        result = enhance_file(src, dst, options, progress=report, limits=limits)
    finally:
        bar.close()
    _summarise(dst, result)


def _to_stderr(line: str) -> None:
    """Write one line to stderr (click flushes it, so a log file shows it at once)."""
    click.echo(line, err=True)


def _summarise(dst: Path, result) -> None:
    """The one-line summary of a finished file, on stdout."""
    summary = f"{dst}: {result.frames} frame(s), {result.width}x{result.height}, {result.seconds:.1f} s"
    deint = result.deinterlaced
    if deint:
        how = {"flag": "detected by the flag", "idet": "detected by idet"}.get(deint["detected_by"], "forced")
        field = "top" if deint["parity"] == "tff" else "bottom"
        summary += f"; deinterlaced (bwdif + motion fill, {deint['mode']} rate, {field} field first, {how})"
    click.echo(summary)


@click.command("enhance")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    "output_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file (or folder when INPUT is a folder): .mp4, .mov, .mkv or .webm for a video; "
    ".png, .jpg, .webp, .bmp or .tiff for an image.",
)
@click.option("--model", default=None, help="Model name, chain a+b+c, or path to a .pth file.")
@click.option("--outscale", type=float, default=None, help="Final scale (Lanczos after the network).")
@click.option("--tile", type=int, default=0, show_default=True, help="Tile size in pixels; 0 = automatic.")
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default=None,
    help="Default: ENHANCE_DEVICE (auto when unset); a missing device is an error, never a fallback.",
)
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True)
@click.option(
    "--codec",
    type=click.Choice(CODECS),
    default=None,
    help="Default: what the output container holds (WebM: vp9; HDR input: 10-bit h265; else h264).",
)
@click.option(
    "--crf",
    type=int,
    default=None,
    help=f"Quality (lower is better). Default: {default_crf_text()}.",
)
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    default="veryfast",
    show_default=True,
    help="x264/x265 speed preset.",
)
@click.option("--frames", type=int, default=None, help="Only the first N frames (a preview).")
@click.option(
    "--batch", type=int, default=0, show_default=True, help="Frames per forward pass; 0 = automatic."
)
@click.option(
    "--deinterlace",
    type=click.Choice(DEINTERLACE_MODES),
    default="auto",
    show_default=True,
    help="auto: deinterlace detected interlaced input at the frame rate; field: one frame per field; off.",
)
@click.option(
    "--model-option",
    "model_option",
    multiple=True,
    metavar="KEY=VALUE",
    help="Model option, e.g. denoise_strength=0.5 or scale=2.",
)
@with_appcontext
def enhance_command(input_path: Path, output_path: Path, model, **kwargs) -> None:
    """Enhance a video or image file (or every file in a folder)."""
    settings = current_app.extensions["enhance"].settings
    model = model or settings.default_model
    kwargs["device"] = kwargs["device"] or settings.device
    raw_options = _model_option_pairs(kwargs.pop("model_option"))
    try:
        # validated once, as the API validates a request (app.jobs.submit): model, its options, the rest
        options = build_options(model, raw_options, allow_paths=True, **kwargs)
    except EnhanceError as exc:  # an unknown model or option, a value out of range: one line, exit 2
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(2 if exc.user_error else 1)
    pairs = [(input_path, output_path)]
    if input_path.is_dir():
        output_path.mkdir(parents=True, exist_ok=True)
        pairs = [(p, output_path / p.name) for p in sorted(input_path.iterdir()) if p.is_file()]
    failed = 0
    for src, dst in pairs:
        try:
            _run_one(src, dst, options, settings.limits)
        except EnhanceError as exc:
            click.echo(f"error: {src.name}: {exc.detail}", err=True)
            if len(pairs) == 1:
                sys.exit(2 if exc.user_error else 1)
            failed += 1
    if failed:
        click.echo(f"{failed} of {len(pairs)} file(s) failed", err=True)
        sys.exit(1)
