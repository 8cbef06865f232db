"""The job store: every state change of a job is one short SQL transaction.

Claiming is a compare-and-swap (``UPDATE ... WHERE status='queued'``), so exactly one worker gets a job
whatever the number of threads, processes or machines. Every write by a worker carries its claim token:
a worker whose job was taken back (it looked dead) or canceled learns it on its next write and stops.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, event, func, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from .models import ACTIVE, FINISHED, Base, Job, utcnow


def new_job_id() -> str:
    """An unguessable job id (128 random bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine; SQLite gets WAL and a busy timeout so several processes can share it."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


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

    def create_schema(self) -> None:
        """Create the table if it does not exist (safe to call from several processes)."""
        try:
            Base.metadata.create_all(self.engine, checkfirst=True)
        except DBAPIError:
            # Several gunicorn processes start at once: another one created the table first.
            if not inspect(self.engine).has_table(Job.__tablename__):
                raise

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

    def worker_heartbeats(self) -> dict[str, datetime]:
        """The newest heartbeat of every worker that runs a job now."""
        with self.Session() as s:
            rows = s.execute(
                select(Job.worker, func.max(Job.heartbeat_at))
                .where(Job.status == "running")
                .group_by(Job.worker)
            ).all()
        return {w: _aware(t) for w, t in rows if w}

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
            if job.status in ACTIVE:
                job.status = "canceled"
                job.finished_at = utcnow()
                job.claim = None
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
        return self._owned_update(
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

    def fail(self, job_id: str, claim: str, error: dict) -> bool:
        """Mark the job failed with a problem document (type, title, detail)."""
        now = utcnow()
        return self._owned_update(
            job_id, claim, status="failed", error=error, finished_at=now, heartbeat_at=now, claim=None
        )

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
        return recovered

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
