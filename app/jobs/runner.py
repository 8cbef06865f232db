"""Run one claimed job through the pipeline: the single code path shared by every queue adapter."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from app.config import ConfigError
from app.pipeline.options import EnhanceOptions
from models.errors import Canceled, EnhanceError

from .store import JobStore

log = logging.getLogger("app.jobs")

PROGRESS_INTERVAL = 0.5  # seconds between progress writes: a few per second at most


def worker_name() -> str:
    """``host:pid`` of this process, as shown in the job document."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead(worker: str | None) -> bool:
    """True when ``worker`` names a process on this host that no longer exists."""
    if not worker:
        return True
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine: only its heartbeat can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def pipeline_options(stored: dict, device: str) -> EnhanceOptions:
    """EnhanceOptions from a job's stored options (unknown keys ignored) on this worker's ``device``.

    The device is the worker's own setting (ENHANCE_DEVICE where the worker runs), never the API's: in a
    cluster the machine that accepted the upload is not the one with the GPU.
    """
    names = EnhanceOptions.__dataclass_fields__
    kept = {k: v for k, v in stored.items() if k in names and k != "device"}
    return EnhanceOptions(**kept, device=device)


def prepare_worker(settings) -> None:
    """Set up a process that runs jobs: its device must exist (never a silent run elsewhere), and it keeps
    at most ``ENHANCE_MODEL_CACHE`` networks loaded."""
    from models.device import resolve_device
    from models.registry import set_cache_size

    try:
        resolve_device(settings.device)
    except EnhanceError as exc:
        raise ConfigError(f"ENHANCE_DEVICE={settings.device}: {exc.detail}") from None
    set_cache_size(settings.model_cache)
    global _segfault_after_frames
    _segfault_after_frames = settings.test_segfault_after_frames


#: the test-only fault hook (ENHANCE_TEST_SEGFAULT_AFTER_FRAMES): a real crash of the worker process, as a
#: hostile file can make FFmpeg or torch crash, to test that the supervisor and the janitor recover the job
_segfault_after_frames: int | None = None


def _crash_if_asked(job, frames_done: int) -> None:
    """Die with SIGSEGV mid-job when the test-only hook asks for it (first attempt only)."""
    if _segfault_after_frames and job.attempts == 1 and frames_done >= _segfault_after_frames:
        os.kill(os.getpid(), signal.SIGSEGV)


class Watch:
    """Heartbeats in the background, throttles progress writes, and remembers when the work stopped being
    ours (canceled, or taken back because we looked dead): the pipeline checks ``should_stop`` per batch."""

    def __init__(
        self, beat: Callable[[], bool], report: Callable[[object], bool], interval: float, name: str
    ):
        self._beat_once, self._report = beat, report
        self.lost = threading.Event()
        self._done = threading.Event()
        self._last_progress = 0.0
        self._thread = threading.Thread(
            target=self._beat, args=(interval,), daemon=True, name=f"heartbeat-{name}"
        )
        self._thread.start()

    def _beat(self, interval: float) -> None:
        while not self._done.wait(interval):
            try:
                if not self._beat_once():
                    self.lost.set()
                    return
            except Exception:  # noqa: BLE001 - a DB hiccup must not kill the job; the next beat retries
                log.warning("heartbeat failed", exc_info=True)

    def progress(self, report) -> None:
        """Write progress at most every PROGRESS_INTERVAL seconds, and always the last frame."""
        now = time.monotonic()
        final = report.frames_total is not None and report.frames_done >= report.frames_total
        if not final and now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_progress = now
        if not self._report(report):
            self.lost.set()

    def should_stop(self) -> bool:
        """Checked by the pipeline between batches."""
        return self.lost.is_set()

    def close(self) -> None:
        """Stop heartbeating."""
        self._done.set()
        self._thread.join()


def run_claimed_job(
    store: JobStore, storage, job_id: str, claim: str, heartbeat_seconds: float = 2.0, device: str = "auto"
) -> str:
    """Run a job this worker has claimed on ``device``; returns its final status as this worker saw it."""
    job = store.get(job_id)
    if job is None:
        return "gone"
    extra = {"job_id": job_id}
    options = pipeline_options(job.options, device)
    container = job.options.get("container", "mp4")
    result = storage.result_path(job_id, container)
    remove_leftovers(result.parent)

    def report(p) -> bool:
        _crash_if_asked(job, p.frames_done)
        return store.progress(job_id, claim, p.frames_done, p.frames_total, p.fps, p.eta_seconds)

    watch = Watch(
        lambda: store.heartbeat(job_id, claim),
        report,
        heartbeat_seconds,
        job_id,
    )
    log.info("job started: model=%s attempt=%d", job.model, job.attempts, extra=extra)
    # imported here, not at the top: the HTTP tier imports this module (through the queue adapters) and
    # must never load torch, PyAV or OpenCV; only the processes that run jobs get here
    from app.pipeline.enhance import enhance_file

    try:
        run = enhance_file(
            job.input_path, result, options, progress=watch.progress, should_cancel=watch.should_stop
        )
    except Canceled:
        log.info("job stopped: canceled or taken over", extra=extra)
        current = store.get(job_id)
        if current is not None and current.status == "canceled":
            storage.remove(job_id)
        return "canceled"
    except EnhanceError as exc:
        log.warning("job failed: %s", exc.detail, extra=extra)
        store.fail(job_id, claim, exc.to_dict())
        return "failed"
    except Exception as exc:  # noqa: BLE001 - any bug fails this job with a reason instead of killing the worker
        log.exception("job crashed", extra=extra)
        store.fail(
            job_id,
            claim,
            {"type": "internal-error", "title": "Internal error", "detail": f"{type(exc).__name__}: {exc}"},
        )
        return "failed"
    finally:
        watch.close()
    if store.succeed(job_id, claim, str(result), run.frames):
        log.info("job succeeded: %d frames in %.1f s", run.frames, run.seconds or 0, extra=extra)
        return "succeeded"
    # canceled (or taken over) after the last frame: this attempt's result must not stay
    current = store.get(job_id)
    if current is not None and current.status == "canceled":
        storage.remove(job_id)
    return "canceled"


def remove_leftovers(folder: Path) -> None:
    """Delete temporary files a killed attempt left in the result folder."""
    for leftover in folder.rglob(".*.part*"):
        leftover.unlink(missing_ok=True)
