"""The embedded queue: worker threads inside the server process that claim jobs from the job table.

With several gunicorn processes, only the process that holds ``<data_dir>/queue.lock`` runs workers, so
``ENHANCE_WORKERS`` means threads per machine, not per process; the others retry the lock and take over
if that process dies. Claiming is atomic in the database, so even two machines sharing it never run a
job twice.
"""

from __future__ import annotations

import fcntl
import logging
import threading

from app.jobs.runner import is_dead, prepare_worker, run_claimed_job, worker_name

log = logging.getLogger("app.queue")

POLL_SECONDS = 0.5
JANITOR_SECONDS = 5.0


class LocalQueue:
    """Runs queued jobs on ``settings.workers`` threads of this process."""

    def __init__(self, settings, store, storage):
        self.settings, self.store, self.storage = settings, store, storage
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self._lock_file = None
        self.name = worker_name()

    # -- used by the API -------------------------------------------------------------------------
    def enqueue(self, job_id: str) -> None:
        """A new job is in the table: wake a waiting worker of this process (others poll)."""
        self.wake.set()

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start trying to become this machine's queue process, in the background."""
        if self.settings.workers == 0:
            return
        prepare_worker(self.settings)  # this process runs jobs: its device must be there
        t = threading.Thread(target=self._become_leader, daemon=True, name="queue-leader")
        t.start()
        self.threads.append(t)

    def stop(self) -> None:
        """Ask every thread to stop after its current job."""
        self.stopping.set()
        self.wake.set()

    def _become_leader(self) -> None:
        """Take the machine-wide queue lock (retrying), then run the workers and the janitor."""
        path = self.settings.data_dir / "queue.lock"
        lock = open(path, "a+")  # noqa: SIM115 - held open for the life of the process
        while not self.stopping.is_set():
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                self.stopping.wait(1.0)
        else:
            return
        self._lock_file = lock
        log.info("queue: %s runs %d worker thread(s)", self.name, self.settings.workers)
        for i in range(self.settings.workers):
            t = threading.Thread(target=self.work, daemon=True, name=f"worker-{i}")
            t.start()
            self.threads.append(t)
        self.janitor()

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
