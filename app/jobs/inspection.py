"""Inspect an upload in a short-lived child process (``python -m app.pipeline.inspect``), never in the caller.

The HTTP tier answers 415/422 for a bad upload at once, which means opening it: that is where a hostile
file can crash FFmpeg. Here the opening happens in a child process, with the decoder limits the worker
uses too, so a crash or a hang costs that child and one 422, and the HTTP process (which never loads
PyAV, OpenCV or torch) keeps serving. A child costs about half a second: it imports PyAV only.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from app.config import Limits
from app.pipeline.options import EnhanceOptions
from models.errors import EnhanceError, InvalidVideo

log = logging.getLogger("app.jobs")

#: the child's command line; tests swap in a crashing or hanging stand-in to prove the caller survives
CHILD_COMMAND = (sys.executable, "-m", "app.pipeline.inspect")
#: how long reading one upload may take before it is refused (a probe reads headers and a few frames)
TIMEOUT_SECONDS = 60.0
#: the folder holding the ``app`` package: the child imports it from there, whatever the caller's cwd
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class UploadPlan:
    """What the inspection found: the options (codec resolved), the container, frames and media facts."""

    options: dict
    container: str
    frames_total: int | None
    media: dict


def inspect_upload(
    path: str | Path,
    options: EnhanceOptions,
    limits: Limits,
    allow_noncommercial: bool,
    timeout: float = TIMEOUT_SECONDS,
) -> UploadPlan:
    """Probe ``path`` and check ``options`` against it in a child process; raise the EnhanceError it found
    (415/422/400...), or InvalidVideo when reading the file crashed or hung the child."""
    request = {
        "path": str(path),
        "options": options.to_dict(),
        "limits": asdict(limits),
        "allow_noncommercial": allow_noncommercial,
    }
    path_entries = [str(_PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path_entries if p)}
    try:
        done = subprocess.run(
            list(CHILD_COMMAND),
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InvalidVideo(
            f"reading the file took longer than {timeout:g} s; it is not a file this server can process"
        ) from None
    if done.returncode != 0:
        # the child's own words (a traceback, FFmpeg's last lines) are for the operator, not the client
        log.warning("upload inspection failed (%s): %s", _exit_reason(done.returncode), done.stderr[-2000:])
        raise InvalidVideo(
            f"reading the file made the media reader fail ({_exit_reason(done.returncode)}); "
            "it is not a file this server can process"
        )
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise InvalidVideo("the media reader gave no answer for this file") from None
    if "error" in answer:
        raise EnhanceError.from_wire(answer["error"])
    plan = answer["plan"]
    return UploadPlan(plan["options"], plan["container"], plan["frames_total"], plan["media"])


def _exit_reason(returncode: int) -> str:
    """``killed by SIGSEGV`` or ``exit status 1``."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"
