"""Inspect an upload in a short-lived child process, never in the caller.

The HTTP tier answers 415/422 for a bad upload at once, which means opening it: that is where a hostile
file can crash FFmpeg. Here the opening happens in a child process, with the decoder limits the worker
uses too, so a crash or a hang costs that child and one 422, and the HTTP process (which never loads
PyAV, OpenCV or torch) keeps serving.

The children come from a multiprocessing *forkserver* that has imported the probe code once
(``app.pipeline.inspect``, PyAV): each inspection forks a fresh child from it in milliseconds instead of
starting an interpreter and importing PyAV (about half a second a file, which the fuzz test's thousands
of uploads, and a busy server, would feel). The forkserver is a process of its own, started on the first
upload; a child that crashes takes neither it nor the HTTP process along.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from app.config import Limits
from app.pipeline.options import EnhanceOptions
from models.errors import EnhanceError, InvalidVideo

log = logging.getLogger("app.jobs")

#: how long reading one upload may take before it is refused (a probe reads headers and a few frames)
TIMEOUT_SECONDS = 60.0
#: what the forkserver imports once, so that every child starts with it loaded. ``__main__`` (gunicorn's,
#: flask's or pytest's entry script, all import-safe) too: multiprocessing would otherwise import the main
#: script again in every child (``spawn.prepare``), which costs time per upload
PRELOAD = ["__main__", "app.pipeline.inspect"]

_context_lock = threading.Lock()
_context = None


@dataclass(frozen=True)
class UploadPlan:
    """What the inspection found: the options (codec resolved), the container, frames and media facts."""

    options: dict
    container: str
    frames_total: int | None
    media: dict


def _forkserver():
    """The multiprocessing context whose children fork from a server that preloaded the probe code."""
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _context = context
        return _context


def child_main(request: dict, conn) -> None:
    """In the child: answer the request (``app.pipeline.inspect.answer``) through ``conn``."""
    from app.pipeline.inspect import answer  # already imported by the forkserver: instant

    conn.send(answer(request))
    conn.close()


#: the function each child runs; tests swap in a crashing or hanging stand-in to prove the caller survives
CHILD_TARGET = child_main


def inspect_upload(
    path: str | Path,
    options: EnhanceOptions,
    limits: Limits,
    allow_noncommercial: bool,
    timeout: float | None = None,
) -> UploadPlan:
    """Probe ``path`` and check ``options`` against it in a child process; raise the EnhanceError it found
    (415/422/400...), or InvalidVideo when reading the file crashed or hung the child."""
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    request = {
        "path": str(path),
        "options": options.to_dict(),
        "limits": asdict(limits),
        "allow_noncommercial": allow_noncommercial,
    }
    context = _forkserver()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=CHILD_TARGET, args=(request, send), daemon=True, name="inspect-upload")
    child.start()
    send.close()  # ours is closed, so a child that dies before answering reads as end of file here
    try:
        if not receive.poll(timeout):
            child.kill()
            raise InvalidVideo(
                f"reading the file took longer than {timeout:g} s; it is not a file this server can process"
            )
        try:
            answer = receive.recv()
        except EOFError:
            answer = None
    finally:
        receive.close()
        child.join()
    if answer is None:
        reason = _exit_reason(child.exitcode)
        log.warning("upload inspection failed (%s)", reason)
        raise InvalidVideo(
            f"reading the file made the media reader fail ({reason}); "
            "it is not a file this server can process"
        )
    if "error" in answer:
        raise EnhanceError.from_wire(answer["error"])
    plan = answer["plan"]
    return UploadPlan(plan["options"], plan["container"], plan["frames_total"], plan["media"])


def _exit_reason(exitcode: int | None) -> str:
    """``killed by SIGSEGV`` or ``exit status 1``."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"
