"""The public job document (CONTRACT.md), built from a job row."""

from __future__ import annotations

from datetime import UTC, datetime

from .models import Job


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def job_document(job: Job) -> dict:
    """The job as clients see it."""
    total = job.frames_total
    done = job.frames_done or 0
    fraction = min(1.0, done / total) if total else (1.0 if job.status == "succeeded" else 0.0)
    has_result = job.status == "succeeded" and job.result_path and not job.files_removed
    return {
        "id": job.id,
        "status": job.status,
        "model": job.model,
        "options": job.options or {},
        "progress": {
            "frames_done": done,
            "frames_total": total,
            "fraction": round(fraction, 4),
            "fps": round(job.fps, 3) if job.fps is not None else None,
            "eta_seconds": round(job.eta_seconds, 2) if job.eta_seconds is not None else None,
        },
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "error": job.error,
        "result_url": f"/jobs/{job.id}/result" if has_result else None,
        "worker": job.worker,
        "attempts": job.attempts,
        "input": {"name": job.input_name, **(job.media or {})},
    }
