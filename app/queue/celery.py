"""The Celery adapter: the API sends a task per job, ``flask worker`` processes run them.

Celery with a Redis broker carries the messages; the job table stays the source of truth. Tasks are
acknowledged late, so a message whose worker dies is redelivered — but Redis only does that after its
visibility timeout (an hour by default), so every worker also runs a janitor that looks at the job
heartbeats: a job or segment whose worker died (pid gone on this host, or silent for
ENHANCE_STALE_SECONDS) is put back in the queue and its task sent again. Running a task twice is harmless:
claims are compare-and-swap in the database, so only one run does the work.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import Celery

from app.jobs.runner import is_dead, prepare_worker, run_claimed_job, worker_name
from app.jobs.store import SegmentStore

log = logging.getLogger("app.queue")

RUN_JOB = "enhance.run_job"
RUN_SEGMENT = "enhance.run_segment"
JANITOR_SECONDS = 2.0

_active = {}  # the Service of this worker process, set by run_worker (tasks need the store and storage)


def make_celery(broker_url: str) -> Celery:
    """A Celery app for this service: late acks, one message prefetched per slot, no result backend."""
    app = Celery("video_enhance", broker=broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        broker_transport_options={"visibility_timeout": 3600},
    )

    @app.task(name=RUN_JOB)
    def run_job_task(job_id: str) -> None:
        _run_job(_active["service"], job_id)

    @app.task(name=RUN_SEGMENT)
    def run_segment_task(job_id: str, index: int) -> None:
        from app.jobs.segmented import run_segment  # the pipeline: only worker processes load it

        svc = _active["service"]
        run_segment(svc.store, svc.storage, svc.settings, job_id, index, worker_name())

    return app


def _run_job(svc, job_id: str) -> None:
    """The job task: claim it, split it if it is long, else run it whole (the local queue's code)."""
    worker = worker_name()
    claimed = svc.store.claim_next(worker, job_id=job_id)
    if claimed is None:
        return  # already running elsewhere, finished, or canceled
    _, claim = claimed
    from app.jobs.segmented import plan_or_resume  # the pipeline: only worker processes load it

    queue = svc.queue
    if plan_or_resume(svc.store, svc.storage, svc.settings, job_id, claim, worker, queue.dispatch_segment):
        return
    run_claimed_job(
        svc.store, svc.storage, job_id, claim, svc.settings.heartbeat_seconds, svc.settings.device
    )


class CeleryQueue:
    """Queue adapter for ENHANCE_QUEUE=celery."""

    def __init__(self, settings, store, storage):
        self.settings, self.store, self.storage = settings, store, storage
        self.celery = make_celery(settings.broker_url)
        self.stopping = threading.Event()
        self._resent: dict[tuple, float] = {}

    def enqueue(self, job_id: str) -> None:
        """Send the job's task to the broker."""
        self.celery.send_task(RUN_JOB, args=[job_id])

    def dispatch_segment(self, job_id: str, index: int) -> None:
        """Send one segment's task to the broker."""
        self.celery.send_task(RUN_SEGMENT, args=[job_id, index])

    def start(self) -> None:
        """The API process runs no jobs in this mode: ``flask worker`` does."""

    def stop(self) -> None:
        """Stop the janitor."""
        self.stopping.set()

    def readiness(self) -> str:
        """'ok' when the broker answers."""
        try:
            with self.celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return f"broker unreachable: {type(exc).__name__}"

    def run_worker(self, concurrency: int, service) -> None:
        """Run a Celery worker in this process (threads share the loaded models) plus the janitor;
        ``service`` is this process's Service, which the tasks use."""
        prepare_worker(self.settings)  # refuse to start rather than run every job on the wrong device
        _active["service"] = service
        threading.Thread(target=self.janitor, daemon=True, name="janitor").start()
        worker = self.celery.Worker(
            concurrency=concurrency, pool="threads", loglevel="INFO", hostname=f"enhance-{worker_name()}"
        )
        worker.start()

    def janitor(self) -> None:
        """Beat for this worker; put back what dead workers held; re-send messages that may be lost."""
        segments = SegmentStore(self.store)
        name = worker_name()
        while not self.stopping.is_set():
            try:
                self.store.beat_worker(name, "celery")
                for job_id in self.store.recover_stale(
                    self.settings.stale_seconds, self.settings.max_attempts, is_dead
                ):
                    log.warning("requeued a job whose worker died", extra={"job_id": job_id})
                    self._resend((job_id,), force=True)
                for job_id, index in segments.recover_stale(self.settings.stale_seconds, is_dead):
                    log.warning("requeued segment %d whose worker died", index, extra={"job_id": job_id})
                    self._resend((job_id, index), force=True)
                for job_id in self.store.queued_ids(self.settings.stale_seconds):
                    self._resend((job_id,))
                for key in segments.queued():
                    self._resend(key)
                for job in self.store.expired(self.settings.result_ttl_hours):
                    self.storage.remove(job.id)
                    self.store.mark_files_removed(job.id)
            except Exception:  # noqa: BLE001 - the janitor must outlive a database or broker hiccup
                log.warning("janitor pass failed", exc_info=True)
            self.stopping.wait(JANITOR_SECONDS)

    def _resend(self, key: tuple, force: bool = False) -> None:
        """Send a job or segment task again, at most once per stale period unless forced."""
        now = time.monotonic()
        if not force and now - self._resent.get(key, 0) < self.settings.stale_seconds:
            return
        self._resent[key] = now
        if len(key) == 1:
            self.enqueue(key[0])
        else:
            self.dispatch_segment(*key)
