"""The embedded queue: ``flask worker`` processes claim jobs from the job table (no broker needed).

``./run.sh`` runs ``ENHANCE_WORKERS`` of them beside gunicorn, supervised (``app/supervise.py``); the API
only inserts rows. Claiming is atomic in the database, so several processes (even machines sharing the
database) never run a job twice, and each worker's janitor takes back the jobs of a worker that died.
"""

from __future__ import annotations

import logging
import threading

from app.jobs.runner import is_dead, run_claimed_job, worker_name

log = logging.getLogger("app.queue")

POLL_SECONDS = 0.5
JANITOR_SECONDS = 5.0


class LocalQueue:
    """The job table as a queue: a `flask worker` process claims and runs jobs (``work``) and takes back
    the jobs of workers that died (``janitor``); the API only inserts rows."""

    def __init__(self, settings, store, storage):
        self.settings, self.store, self.storage = settings, store, storage
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.name = worker_name()

    # -- used by the API -------------------------------------------------------------------------
    def enqueue(self, job_id: str) -> None:
        """A new job is in the table: wake a waiting worker of this process (others poll)."""
        self.wake.set()

    # -- life cycle ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask every thread to stop after its current job."""
        self.stopping.set()
        self.wake.set()

    # -- loops -----------------------------------------------------------------------------------
    def work(self) -> None:
        """Claim and run jobs until asked to stop."""
        while not self.stopping.is_set():
            if not self.run_once():
                self.wake.wait(POLL_SECONDS)
                self.wake.clear()

    def run_once(self) -> bool:
        """Claim one queued job and run it; False when there was none."""
        try:
            claimed = self.store.claim_next(self.name)
        except Exception:  # noqa: BLE001 - the database may be briefly away; keep polling
            log.warning("queue: cannot claim a job", exc_info=True)
            return False
        if claimed is None:
            return False
        job_id, claim = claimed
        try:
            run_claimed_job(
                self.store, self.storage, job_id, claim, self.settings.heartbeat_seconds, self.settings.device
            )
        except Exception:  # noqa: BLE001 - e.g. the database went away at the last write; the janitor retries
            log.exception("queue: job run ended abnormally", extra={"job_id": job_id})
        return True

    def janitor(self) -> None:
        """Periodically requeue jobs of dead workers and remove expired results."""
        while not self.stopping.is_set():
            self.sweep()
            self.stopping.wait(JANITOR_SECONDS)

    def sweep(self) -> None:
        """One janitor pass."""
        try:
            self.store.beat_worker(self.name, "local")
            for job_id in self.store.recover_stale(
                self.settings.stale_seconds, self.settings.max_attempts, is_dead
            ):
                log.warning("requeued a job whose worker died", extra={"job_id": job_id})
                self.wake.set()
            for job in self.store.expired(self.settings.result_ttl_hours):
                self.storage.remove(job.id)
                self.store.mark_files_removed(job.id)
                log.info("removed files after ENHANCE_RESULT_TTL_HOURS", extra={"job_id": job.id})
        except Exception:  # noqa: BLE001 - the janitor must outlive a database hiccup
            log.warning("janitor pass failed", exc_info=True)
