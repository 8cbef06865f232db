"""The job store: every state change of a job is one short SQL transaction.

Claiming is a compare-and-swap (``UPDATE ... WHERE status='queued'``), so exactly one worker gets a job
whatever the number of threads, processes or machines. Every write by a worker carries its claim token:
a worker whose job was taken back (it looked dead) or canceled learns it on its next write and stops.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from ..migrations import upgrade_database
from .models import ACTIVE, FINISHED, Job, Segment, WorkerBeat, utcnow


def new_job_id() -> str:
    """An unguessable job id (128 random bits, URL-safe)."""
    return secrets.token_urlsafe(16)


log = logging.getLogger(__name__)

#: how long a connection keeps retrying the WAL switch of a database another process is creating
WAL_SWITCH_SECONDS = 30.0


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine; SQLite gets WAL and a busy timeout so several processes can share it."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            use_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def use_wal(cur, deadline_s: float = WAL_SWITCH_SECONDS) -> None:
    """Put the SQLite database in WAL mode, waiting for other connections that hold a lock on it.

    WAL is a property of the file, so a database already in WAL needs nothing (and no lock). Switching a new
    one needs it alone, and SQLite answers "database is locked" at once, without the busy handler, when
    another connection holds a lock: gunicorn workers booting together on a fresh data folder hit that and
    the worker failed to boot. So the switch is retried until ``deadline_s`` has passed.
    """
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")  # answers the old mode where WAL is impossible
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            log.info("the job database is locked by another process; retrying the switch to WAL")
            time.sleep(0.05)  # polling: SQLite offers no notification for this lock


def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes: they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class JobStore:
    """Create, read and move jobs through their states."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        #: called with (store, job_id) after a job reached its end here (succeeded, failed, canceled, given
        #: up): the one place a job's end is announced (the service subscribes the webhooks to it)
        self.on_end: list[Callable[[JobStore, str], None]] = []

    def ended(self, job_id: str) -> None:
        """Tell the subscribers that ``job_id`` has ended (a subscriber's error never reaches the caller)."""
        for listener in self.on_end:
            try:
                listener(self, job_id)
            except Exception:  # noqa: BLE001 - an announcement must never fail the job or the request
                log.warning("a job-end listener failed", extra={"job_id": job_id}, exc_info=True)

    def upgrade_schema(self) -> None:
        """Bring the database to this release's schema (Alembic; a no-op when it is there already)."""
        upgrade_database(self.engine)

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(select(1))

    # -- reads -----------------------------------------------------------------------------------
    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, or None when it does not exist or belongs to another owner."""
        with self.Session() as s:
            job = s.get(Job, job_id)
            if job is None or (owner is not None and job.owner != owner):
                return None
            return job

    def list(self, owner: str | None, limit: int, offset: int) -> tuple[list[Job], int]:
        """One page of the owner's jobs, newest first, and the total count."""
        with self.Session() as s:
            query = select(Job)
            count = select(func.count()).select_from(Job)
            if owner is not None:
                query = query.where(Job.owner == owner)
                count = count.where(Job.owner == owner)
            rows = s.scalars(query.order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)).all()
            return list(rows), s.scalar(count)

    def count_by_status(self) -> dict[str, int]:
        """Number of jobs in each status."""
        with self.Session() as s:
            return dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())

    def count_queued(self, owner: str | None = None) -> int:
        """Jobs waiting for a worker (optionally one owner's)."""
        with self.Session() as s:
            q = select(func.count()).select_from(Job).where(Job.status == "queued")
            if owner is not None:
                q = q.where(Job.owner == owner)
            return s.scalar(q)

    def finished_stats(self) -> tuple[int, list[float]]:
        """Total frames processed by succeeded jobs, and their durations in seconds."""
        with self.Session() as s:
            rows = s.execute(
                select(Job.frames_done, Job.started_at, Job.finished_at).where(Job.status == "succeeded")
            ).all()
        frames = sum(r[0] or 0 for r in rows)
        durations = [
            (_aware(r[2]) - _aware(r[1])).total_seconds()
            for r in rows
            if r[1] is not None and r[2] is not None
        ]
        return frames, durations

    # -- writes by the API -----------------------------------------------------------------------
    def add(self, job: Job) -> Job:
        """Insert a new (queued) job."""
        with self.Session.begin() as s:
            s.add(job)
        return job

    def cancel(self, job_id: str, owner: str | None = None) -> Job | None:
        """Cancel an active job (the worker notices on its next write); returns the job as it is now."""
        with self.Session.begin() as s:
            job = s.get(Job, job_id)
            if job is None or (owner is not None and job.owner != owner):
                return None
            ended = job.status in ACTIVE
            if ended:
                job.status = "canceled"
                job.finished_at = utcnow()
                job.claim = None
        if ended:
            self.ended(job_id)
        return job

    def delete(self, job_id: str) -> None:
        """Remove a job row."""
        with self.Session.begin() as s:
            job = s.get(Job, job_id)
            if job is not None:
                s.delete(job)

    def mark_files_removed(self, job_id: str) -> None:
        """Record that a job's files are gone (after DELETE or when its TTL passed)."""
        with self.Session.begin() as s:
            s.execute(update(Job).where(Job.id == job_id).values(files_removed=True, result_path=None))

    # -- writes by workers -----------------------------------------------------------------------
    def claim_next(self, worker: str, job_id: str | None = None) -> tuple[str, str] | None:
        """Atomically move the oldest queued job (or ``job_id``) to running for ``worker``."""
        for _ in range(5):  # another worker may win the race for a candidate: try the next one
            with self.Session() as s:
                q = select(Job.id).where(Job.status == "queued")
                if job_id is not None:
                    q = q.where(Job.id == job_id)
                candidate = s.scalar(q.order_by(Job.created_at, Job.id).limit(1))
            if candidate is None:
                return None
            token = secrets.token_hex(8)
            now = utcnow()
            with self.Session.begin() as s:
                won = s.execute(
                    update(Job)
                    .where(Job.id == candidate, Job.status == "queued")
                    .values(
                        status="running",
                        worker=worker,
                        claim=token,
                        attempts=Job.attempts + 1,
                        started_at=func.coalesce(Job.started_at, now),
                        heartbeat_at=now,
                    )
                ).rowcount
            if won:
                return candidate, token
            if job_id is not None:
                return None
        return None

    def _owned_update(self, job_id: str, token: str, **values) -> bool:
        """Update a running job only while claim ``token`` still owns it; False means: stop working on it."""
        with self.Session.begin() as s:
            return bool(
                s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.claim == token, Job.status == "running")
                    .values(**values)
                ).rowcount
            )

    def heartbeat(self, job_id: str, claim: str) -> bool:
        """Tell the others this worker is alive; False when the job is no longer ours."""
        return self._owned_update(job_id, claim, heartbeat_at=utcnow())

    def progress(self, job_id: str, claim: str, done: int, total: int | None, fps, eta) -> bool:
        """Record progress (and a heartbeat); False when the job is no longer ours (canceled, taken back)."""
        return self._owned_update(
            job_id,
            claim,
            frames_done=done,
            frames_total=total,
            fps=fps,
            eta_seconds=eta,
            heartbeat_at=utcnow(),
        )

    def succeed(self, job_id: str, claim: str, result_path: str, frames: int) -> bool:
        """Mark the job done with its result file."""
        now = utcnow()
        done = self._owned_update(
            job_id,
            claim,
            status="succeeded",
            result_path=result_path,
            frames_done=frames,
            frames_total=frames,
            eta_seconds=0.0,
            finished_at=now,
            heartbeat_at=now,
            claim=None,
        )
        if done:
            self.ended(job_id)
        return done

    def fail(self, job_id: str, claim: str, error: dict) -> bool:
        """Mark the job failed with a problem document (type, title, detail)."""
        now = utcnow()
        failed = self._owned_update(
            job_id, claim, status="failed", error=error, finished_at=now, heartbeat_at=now, claim=None
        )
        if failed:
            self.ended(job_id)
        return failed

    def release(self, job_id: str, claim: str) -> bool:
        """Give a running job back to the queue (worker shutting down cleanly)."""
        return self._owned_update(job_id, claim, status="queued", claim=None, worker=None)

    def recover_stale(self, stale_seconds: float, max_attempts: int, is_dead) -> list[str]:
        """Requeue running jobs whose worker died or went silent; fail them after ``max_attempts`` runs."""
        cutoff = utcnow() - timedelta(seconds=stale_seconds)
        recovered = []
        with self.Session() as s:
            running = s.execute(
                select(Job.id, Job.worker, Job.heartbeat_at, Job.claim, Job.attempts).where(
                    Job.status == "running"
                )
            ).all()
        for job_id, worker, beat, claim, attempts in running:
            beat = _aware(beat)
            if not (is_dead(worker) or beat is None or beat < cutoff):
                continue
            with self.Session.begin() as s:
                if attempts >= max_attempts:
                    values = dict(
                        status="failed",
                        claim=None,
                        finished_at=utcnow(),
                        error={
                            "type": "worker-lost",
                            "title": "Worker lost",
                            "detail": f"the worker running this job stopped {attempts} times "
                            f"(last: {worker}); giving up",
                        },
                    )
                else:
                    values = dict(status="queued", claim=None, worker=None)
                changed = s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.claim == claim, Job.status == "running")
                    .values(**values)
                ).rowcount
            if changed:
                recovered.append(job_id)
                if values["status"] == "failed":
                    self.ended(job_id)  # given up after max_attempts
        return recovered

    def queued_ids(self, older_than_seconds: float) -> list[str]:
        """Jobs still queued after ``older_than_seconds`` (their queue message may have been lost)."""
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        with self.Session() as s:
            return list(
                s.scalars(select(Job.id).where(Job.status == "queued", Job.created_at < cutoff)).all()
            )

    def beat_worker(self, name: str, queue: str) -> None:
        """Record that worker process ``name`` is alive."""
        now = utcnow()
        with self.Session.begin() as s:
            row = s.get(WorkerBeat, name)
            if row is None:
                s.add(WorkerBeat(name=name, queue=queue, started_at=now, heartbeat_at=now))
            else:
                row.heartbeat_at = now

    def worker_beats(self, within_seconds: float) -> dict[str, datetime]:
        """Workers seen alive within the last ``within_seconds``."""
        cutoff = utcnow() - timedelta(seconds=within_seconds)
        with self.Session() as s:
            rows = s.execute(select(WorkerBeat.name, WorkerBeat.heartbeat_at)).all()
        return {n: _aware(t) for n, t in rows if _aware(t) >= cutoff}

    def expired(self, ttl_hours: float) -> list[Job]:
        """Finished jobs older than the TTL whose files are still on disk."""
        cutoff = utcnow() - timedelta(hours=ttl_hours)
        with self.Session() as s:
            return list(
                s.scalars(
                    select(Job).where(
                        Job.status.in_(FINISHED), Job.finished_at < cutoff, Job.files_removed.is_(False)
                    )
                ).all()
            )


class SegmentStore:
    """State of the segments of split jobs, next to the job table (same database)."""

    def __init__(self, store: JobStore):
        self.store = store
        self.Session = store.Session

    def create(self, job_id: str, claim: str, plans) -> bool:
        """Record the plan of a job this worker owns; False when the job is no longer ours."""
        with self.Session.begin() as s:
            owned = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.claim == claim, Job.status == "running")
                .values(segment_count=len(plans), heartbeat_at=utcnow())
            ).rowcount
            if not owned:
                return False
            for p in plans:
                s.add(
                    Segment(
                        job_id=job_id,
                        index=p.index,
                        start_pts=p.start_pts,
                        end_pts=p.end_pts,
                        frames_total=p.frames,
                        status="queued",
                    )
                )
        return True

    def all(self, job_id: str) -> list[Segment]:
        """The segments of a job, in order."""
        with self.Session() as s:
            return list(
                s.scalars(select(Segment).where(Segment.job_id == job_id).order_by(Segment.index)).all()
            )

    def claim(self, job_id: str, index: int, worker: str) -> str | None:
        """Take a queued segment of a running job; the claim token, or None when there is nothing to do."""
        token = secrets.token_hex(8)
        with self.Session.begin() as s:
            running = s.scalar(select(Job.status).where(Job.id == job_id)) == "running"
            if not running:
                return None
            won = s.execute(
                update(Segment)
                .where(Segment.job_id == job_id, Segment.index == index, Segment.status == "queued")
                .values(
                    status="running",
                    claim=token,
                    worker=worker,
                    attempts=Segment.attempts + 1,
                    heartbeat_at=utcnow(),
                    frames_done=0,
                )
            ).rowcount
        return token if won else None

    def progress(self, job_id: str, index: int, token: str, done: int) -> bool:
        """Record a segment's progress, sum it into the job; False when the job or segment is not ours."""
        now = utcnow()
        with self.Session.begin() as s:
            ours = s.execute(
                update(Segment)
                .where(
                    Segment.job_id == job_id,
                    Segment.index == index,
                    Segment.claim == token,
                    Segment.status == "running",
                )
                .values(frames_done=done, heartbeat_at=now)
            ).rowcount
            if not ours:
                return False
            total = select(func.coalesce(func.sum(Segment.frames_done), 0)).where(Segment.job_id == job_id)
            return bool(
                s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == "running")
                    .values(frames_done=total.scalar_subquery(), heartbeat_at=now)
                ).rowcount
            )

    def heartbeat(self, job_id: str, index: int, token: str) -> bool:
        """Tell the others a segment (and so its job) is alive; False when it is no longer ours."""
        now = utcnow()
        with self.Session.begin() as s:
            ours = s.execute(
                update(Segment)
                .where(Segment.job_id == job_id, Segment.index == index, Segment.claim == token)
                .values(heartbeat_at=now)
            ).rowcount
            alive = s.execute(
                update(Job).where(Job.id == job_id, Job.status == "running").values(heartbeat_at=now)
            ).rowcount
        return bool(ours and alive)

    def finish(self, job_id: str, index: int, token: str, path: str, frames: int) -> bool:
        """Mark a segment done; True when it was still ours."""
        with self.Session.begin() as s:
            return bool(
                s.execute(
                    update(Segment)
                    .where(
                        Segment.job_id == job_id,
                        Segment.index == index,
                        Segment.claim == token,
                        Segment.status == "running",
                    )
                    .values(status="done", path=path, frames_done=frames, claim=None, heartbeat_at=utcnow())
                ).rowcount
            )

    def fail_job(self, job_id: str, error: dict) -> None:
        """Fail a split job because one of its segments cannot be done (whoever holds the job claim)."""
        with self.Session.begin() as s:
            failed = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running")
                .values(status="failed", error=error, finished_at=utcnow(), claim=None)
            ).rowcount
        if failed:
            self.store.ended(job_id)

    def release(self, job_id: str, index: int, token: str) -> None:
        """Put a segment back in the queue (its run failed for a reason another try may not have)."""
        with self.Session.begin() as s:
            s.execute(
                update(Segment)
                .where(Segment.job_id == job_id, Segment.index == index, Segment.claim == token)
                .values(status="queued", claim=None, worker=None)
            )

    def take_join(self, job_id: str, worker: str) -> str | None:
        """When every segment is done, let exactly one worker take the job over to join them."""
        with self.Session() as s:
            job = s.get(Job, job_id)
            pending = s.scalar(
                select(func.count())
                .select_from(Segment)
                .where(Segment.job_id == job_id, Segment.status != "done")
            )
        if job is None or job.status != "running" or pending:
            return None
        token = secrets.token_hex(8)
        with self.Session.begin() as s:
            won = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running", Job.claim == job.claim)
                .values(claim=token, worker=worker, heartbeat_at=utcnow())
            ).rowcount
        return token if won else None

    def requeue_unfinished(self, job_id: str) -> list[int]:
        """After the job itself was taken up again: every segment not done goes back to the queue."""
        with self.Session.begin() as s:
            rows = s.scalars(
                select(Segment.index).where(Segment.job_id == job_id, Segment.status != "done")
            ).all()
            s.execute(
                update(Segment)
                .where(Segment.job_id == job_id, Segment.status != "done")
                .values(status="queued", claim=None, worker=None)
            )
        return list(rows)

    def recover_stale(self, stale_seconds: float, is_dead) -> list[tuple[str, int]]:
        """Requeue running segments whose worker died or went silent; returns (job_id, index) pairs."""
        cutoff = utcnow() - timedelta(seconds=stale_seconds)
        with self.Session() as s:
            running = s.execute(
                select(
                    Segment.job_id, Segment.index, Segment.worker, Segment.heartbeat_at, Segment.claim
                ).where(Segment.status == "running")
            ).all()
        recovered = []
        for job_id, index, worker, beat, claim in running:
            beat = _aware(beat)
            if not (is_dead(worker) or beat is None or beat < cutoff):
                continue
            with self.Session.begin() as s:
                changed = s.execute(
                    update(Segment)
                    .where(Segment.job_id == job_id, Segment.index == index, Segment.claim == claim)
                    .values(status="queued", claim=None, worker=None)
                ).rowcount
            if changed:
                recovered.append((job_id, index))
        return recovered

    def queued(self) -> list[tuple[str, int]]:
        """Segments waiting for a worker (of jobs still running)."""
        with self.Session() as s:
            return [
                (j, i)
                for j, i in s.execute(
                    select(Segment.job_id, Segment.index)
                    .join(Job, Job.id == Segment.job_id)
                    .where(Segment.status == "queued", Job.status == "running")
                ).all()
            ]
