"""The job table: one row per enhancement request, the source of truth for its state."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATUSES = ("queued", "running", "succeeded", "failed", "canceled")
ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "canceled")


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the job store."""


class Job(Base):
    """One enhancement job."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    model: Mapped[str] = mapped_column(String(512))
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    input_name: Mapped[str] = mapped_column(String(255), default="input")
    input_path: Mapped[str | None] = mapped_column(Text)
    result_path: Mapped[str | None] = mapped_column(Text)
    media: Mapped[dict] = mapped_column(JSON, default=dict)
    frames_done: Mapped[int] = mapped_column(Integer, default=0)
    frames_total: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float | None]
    eta_seconds: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[dict | None] = mapped_column(JSON)
    worker: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str | None] = mapped_column(String(32))  # token of the attempt that owns the job now
    webhook_url: Mapped[str | None] = mapped_column(Text)
    files_removed: Mapped[bool] = mapped_column(default=False)
    segment_count: Mapped[int | None] = mapped_column(Integer)  # set when the job was split into segments


class Segment(Base):
    """One piece of a long job, cut at keyframes, run as its own task on whatever worker is free."""

    __tablename__ = "segments"

    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_pts: Mapped[int] = mapped_column(BigInteger)
    end_pts: Mapped[int | None] = mapped_column(BigInteger)  # exclusive; None = to the end
    frames_total: Mapped[int] = mapped_column(Integer)
    frames_done: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    claim: Mapped[str | None] = mapped_column(String(32))
    worker: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    path: Mapped[str | None] = mapped_column(Text)


class WorkerBeat(Base):
    """A worker process's last sign of life, for /readyz and /metrics."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    queue: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
