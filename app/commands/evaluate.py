"""``flask evaluate``: degrade -> restore -> PSNR/SSIM/time comparison; the logic is in app.evaluation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
from tqdm import tqdm

from app.evaluation import default_images, folder_images, parse_degradations, plan, run, write_report
from app.evaluation.images import DEFAULT_IMAGES
from app.evaluation.plan import Skip, default_video_models, parse_models
from app.evaluation.video_degrade import (
    DEFAULT_VIDEO_DEGRADATIONS,
    VIDEO_DEGRADATIONS,
    parse_video_degradations,
)
from app.evaluation.video_report import write_video_report
from app.evaluation.video_runner import run_videos
from app.evaluation.videos import CLIP_FRAMES, default_clips, folder_clips
from models.device import DEVICES, PRECISIONS
from models.errors import EnhanceError


@click.command("evaluate")
@click.option(
    "--models",
    default=None,
    metavar="A,B+C",
    help="Comma-separated models or chains a+b; default: every registered model "
    "(--video: every upscaler alone and with each temporal stage).",
)
@click.option(
    "--images",
    "images_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help=f"Folder of clean PNG/JPEG images; default: {', '.join(DEFAULT_IMAGES)} "
    "(bundled with scikit-image).",
)
@click.option(
    "--degradations",
    default=None,
    metavar="x4,noise25,...",
    help="Comma-separated damages; default: x4,x2,noise25,x4+noise10,dark,jpeg20 (x3 on request); "
    f"--video: {','.join(DEFAULT_VIDEO_DEGRADATIONS)}.",
)
@click.option(
    "--video",
    is_flag=True,
    help="Score videos: per-frame PSNR/SSIM and warping error (flicker) on clips rendered from the "
    "bundled images by a known camera motion.",
)
@click.option(
    "--videos",
    "videos_dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    default=None,
    help="Folder of clean videos to score instead of the rendered clips (implies --video).",
)
@click.option(
    "--frames",
    type=click.IntRange(min=2),
    default=CLIP_FRAMES,
    show_default=True,
    help="--video: frames per clip (the first N of each video in --videos).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("evaluation"),
    show_default=True,
    help="Folder for results.json, skipped.json, results.md and summary.png.",
)
@click.option(
    "--max-size",
    type=click.IntRange(min=0),
    default=512,
    show_default=True,
    help="Centre-crop each image (or --videos frame) to at most N x N pixels (0 = whole) to bound the "
    "run time.",
)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="fp32",
    show_default=True,
    help="fp32 by default: numbers that reproduce across machines.",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Timed runs per image after the warm-up; the fastest is reported.",
)
def evaluate_command(
    models, images_dir, degradations, video, videos_dir, frames, out_dir, max_size, device, precision, repeats
) -> None:
    """Compare models: damage clean images (or clips), restore them, write quality/time tables and a chart."""
    if video or videos_dir is not None:
        if images_dir is not None:
            _fail("--images scores images; give --videos DIR (or --video) without it")
        _evaluate_videos(models, videos_dir, degradations, frames, out_dir, max_size, device, precision)
        return
    try:
        degs = parse_degradations(degradations)
        tasks, skipped = plan(parse_models(models), degs, named=degradations is not None)
    except EnhanceError as exc:
        raise click.UsageError(exc.detail) from None
    if images_dir is None:
        images, left_out = default_images(max_size), []
    else:
        images, left_out = folder_images(images_dir, max_size)
    for name, reason in left_out:
        click.echo(f"note: image {name} left out: {reason}", err=True)
    if not images:
        raise click.UsageError(f"no usable images in {images_dir}")
    evaluation = _with_progress(
        len(tasks) * len(images),
        "run",
        lambda step: run(tasks, images, device=device, precision=precision, repeats=repeats, step=step),
    )
    evaluation.skipped[:0] = skipped + [Skip("image", n, r) for n, r in left_out]
    settings = {
        "images": str(images_dir) if images_dir else "scikit-image bundled set",
        "max size": max_size or "none",
        "degradations": ",".join(d.name for d in degs),
        "repeats": repeats,
    }
    paths = write_report(evaluation, out_dir, settings)
    _summary(evaluation, paths)


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit 2: the user's input was wrong, nothing was written."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _evaluate_videos(models, videos_dir, degradations, frames, out_dir, max_size, device, precision) -> None:
    """The video mode: sharpness (PSNR/SSIM per frame) and flicker (warping error) of every model."""
    try:
        degs = parse_video_degradations(degradations)
        names = parse_models(models, default=default_video_models)
        tasks, skipped = plan(names, degs, named=degradations is not None, catalogue=VIDEO_DEGRADATIONS)
    except EnhanceError as exc:
        _fail(exc.detail)
    if videos_dir is None:
        clips, left_out = default_clips(frames), []
    elif not videos_dir.is_dir():
        _fail(f"--videos {videos_dir}: not a folder")
    else:
        clips, left_out = folder_clips(videos_dir, frames, max_size)
        if not clips:
            why = "; ".join(f"{n}: {r}" for n, r in left_out) or "it is empty"
            _fail(f"no usable videos in {videos_dir} ({why})")
    for name, reason in left_out:
        click.echo(f"note: video {name} left out: {reason}", err=True)
    evaluation = _with_progress(
        len(tasks) * len(clips),
        "clip",
        lambda step: run_videos(tasks, clips, device=device, precision=precision, step=step),
    )
    evaluation.skipped[:0] = skipped + [Skip("video", n, r) for n, r in left_out]
    settings = {
        "clips": str(videos_dir) if videos_dir else "rendered from the scikit-image bundled set",
        "frames": frames,
        "max size": (max_size or "none") if videos_dir else "none",
        "degradations": ",".join(d.name for d in degs),
    }
    paths = write_video_report(evaluation, out_dir, settings)
    _summary(evaluation, paths)


def _with_progress(total: int, unit: str, work):
    """``work(step)`` with a progress bar that ``step(label)`` advances; an EnhanceError is one line, exit
    2 for the user's mistakes and 1 otherwise."""
    bar = tqdm(total=total, unit=unit, disable=None, dynamic_ncols=True)

    def step(label: str) -> None:
        bar.set_description(label, refresh=False)
        bar.update(1)

    try:
        return work(step)
    except EnhanceError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(2 if exc.user_error else 1)
    finally:
        bar.close()


def _summary(evaluation, paths) -> None:
    """What was skipped and why (stderr), and what was written."""
    for s in evaluation.skipped:
        where = f" on {s.degradation}" if s.degradation else ""
        click.echo(f"skipped {s.what} {s.name}{where}: {s.reason}", err=True)
    click.echo(
        f"{len(evaluation.rows)} result rows, {len(evaluation.skipped)} skipped; wrote "
        + ", ".join(str(p) for p in paths)
    )
