"""Enhance one file: check the request against the probed input and the limits, load the enhancer, write the
result atomically (``enhance_file``); the functions the package ``app.pipeline`` exports."""

from __future__ import annotations

import time
from pathlib import Path

from models.registry import load_enhancer

from .atomic import atomic_output
from .image import enhance_image
from .limits import Limits, current
from .options import EnhanceOptions
from .probing import MediaInfo, probe
from .progress import ProgressCallback
from .request import X265_MIN_SIDE, check_request, with_codec  # noqa: F401 - exported by app.pipeline
from .video import RunResult, enhance_video


def enhancer_for(options: EnhanceOptions):
    """The (cached) enhancer that ``options`` ask for."""
    return load_enhancer(
        options.model,
        device=options.device,
        precision=options.precision,
        tile=options.tile,
        options=options.model_options,
    )


def enhance_file(
    src: str | Path,
    dst: str | Path,
    options: EnhanceOptions,
    progress: ProgressCallback | None = None,
    should_cancel=None,
    info: MediaInfo | None = None,
    limits: Limits | None = None,
) -> RunResult:
    """Enhance a video or image file into ``dst``; nothing is left at ``dst`` unless it succeeds.

    ``limits`` bound the probe and the output (default: this process's, see ``limits.configure``)."""
    started = time.monotonic()
    limits = limits or current()
    info = info or probe(str(src), limits.decode)
    options = with_codec(options, info, Path(dst).suffix)
    check_request(info, options, limits.output)
    enhancer = enhancer_for(options)
    with atomic_output(dst) as tmp:
        if info.kind == "image":
            result = enhance_image(src, tmp, enhancer, options, progress)
        else:
            result = enhance_video(
                src, tmp, enhancer, options, info, progress, should_cancel, limits=limits.decode
            )
    result.seconds = time.monotonic() - started
    return result
