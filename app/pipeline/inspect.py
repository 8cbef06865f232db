"""Inspect an upload for a job, in a short-lived process of its own.

``answer(request)`` takes the file, the validated options, the limits and the licence opt-in, and returns
the job's plan or the error to refuse it with (``EnhanceError.to_wire``). ``app.jobs.inspection`` runs it in
a child forked for each upload, so that opening a hostile file (the riskiest thing a server does with it)
can crash that child only, never the HTTP process that asked. No torch is imported here. ``python -m
app.pipeline.inspect`` answers one JSON request read from stdin (for trying a file by hand).
"""

from __future__ import annotations

import json
import sys

from app.config import DecodeLimits, Limits, OutputLimits
from models.errors import EnhanceError
from models.licence import set_allow_noncommercial

from .interlace import decide
from .options import EnhanceOptions
from .probing import probe
from .request import check_request, frames_wanted, output_container, with_codec


def plan_upload(path: str, options: EnhanceOptions, limits: Limits) -> dict:
    """Probe ``path`` with the decoder limits and check ``options`` against it: the job's plan (the options
    with the codec resolved, the result's container, the media facts the job document shows)."""
    info = probe(path, limits.decode)
    container = output_container(info, options.codec)
    options = with_codec(options, info, f".{container}")
    width, height = check_request(info, options, limits.output)
    found = info.interlacing
    plan = decide(options.deinterlace, found)
    return {
        "options": options.to_dict(),
        "container": container,
        "frames_total": frames_wanted(info, options),
        "media": {
            "kind": info.kind,
            "width": info.width,
            "height": info.height,
            "frames": info.frames,
            "fps": info.fps,
            "duration": info.duration,
            "audio_streams": info.audio_streams,
            "output_width": width,
            "output_height": height,
            "interlaced": {"parity": found.parity, "detected_by": found.source} if found else None,
            "deinterlaced": {"mode": plan[0], "parity": plan[1]} if plan else None,
        },
    }


def limits_from_dict(raw: dict) -> Limits:
    """The limits a request carries."""
    return Limits(decode=DecodeLimits(**raw["decode"]), output=OutputLimits(**raw["output"]))


def answer(request: dict) -> dict:
    """The JSON answer to one request: ``{"plan": ...}`` or ``{"error": ...}``."""
    set_allow_noncommercial(bool(request.get("allow_noncommercial")))
    options = EnhanceOptions(**request["options"])
    try:
        return {"plan": plan_upload(request["path"], options, limits_from_dict(request["limits"]))}
    except EnhanceError as exc:
        return {"error": exc.to_wire()}


def main() -> None:
    """Answer the request on stdin."""
    json.dump(answer(json.load(sys.stdin)), sys.stdout)


if __name__ == "__main__":
    main()
