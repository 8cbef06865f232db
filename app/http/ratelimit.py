"""Per-key limits on job submission: a rate (ENHANCE_RATE_LIMIT, flask-limiter) and caps on what a key may
hold at once (ENHANCE_MAX_QUEUED_PER_KEY queued jobs, ENHANCE_MAX_STORED_MB_PER_KEY of files).

Every limit is keyed by the tenant (the hash of its API key), so one tenant's traffic never limits another;
without API keys the rate limit falls back to the client address and the caps do not apply.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request
from flask_limiter import Limiter
from sqlalchemy import select

from ..jobs.models import Job
from . import sqllimits  # noqa: F401 - registers the enhance-sql:// storage scheme with limits
from .problems import ApiProblem

SUBMIT_ENDPOINT = "api.submit"


def rate_key() -> str:
    """Who is counted: the tenant (never the key: flask-limiter logs it), else the client address."""
    return g.get("tenant") or f"addr:{request.remote_addr or 'unknown'}"


def init_app(app: Flask) -> None:
    """Rate-limit POST /enhance per key when ENHANCE_RATE_LIMIT is set; counters live in the job database."""
    lazy = app.extensions["enhance"]
    rate = lazy.settings.rate_limit
    if not rate:
        return
    # Registered before the limiter's own after_request, so it runs after it (Flask runs them in reverse).
    app.after_request(_retry_after_at_least_one_second)
    limiter = Limiter(
        key_func=rate_key,
        app=app,
        strategy="moving-window",  # exact: never more than N in any window, even across a boundary
        storage_uri="enhance-sql://",
        storage_options={"engine": lambda: lazy.get().store.engine},
        headers_enabled=True,
        swallow_errors=True,  # a database hiccup while counting lets the request through, logged
        key_prefix="submit",
    )
    message = f"this API key sent more than {rate} job submissions (ENHANCE_RATE_LIMIT); retry later"
    view = app.view_functions[SUBMIT_ENDPOINT]
    app.view_functions[SUBMIT_ENDPOINT] = limiter.limit(rate, error_message=message)(view)


def _retry_after_at_least_one_second(response):
    """A 429 says when to come back; less than a second left rounds down to 0, an invitation to hammer."""
    if response.status_code == 429 and response.headers.get("Retry-After", "0").strip() in ("0", "-0", ""):
        response.headers["Retry-After"] = "1"
    return response


def check_queued(store, settings, owner: str | None) -> None:
    """429 when the tenant already has ENHANCE_MAX_QUEUED_PER_KEY jobs waiting."""
    cap = settings.max_queued_per_key
    if owner is None or cap is None:
        return
    if store.count_queued(owner) >= cap:
        raise ApiProblem(
            429,
            "Too many queued jobs",
            f"this API key has {cap} jobs waiting (ENHANCE_MAX_QUEUED_PER_KEY); wait for one to start",
            "too-many-queued",
            headers={"Retry-After": "10"},
        )


def stored_bytes(store, storage, owner: str) -> int:
    """Bytes of uploads and results the tenant's jobs hold on disk now."""
    with store.Session() as s:
        ids = s.scalars(select(Job.id).where(Job.owner == owner, Job.files_removed.is_(False))).all()
    return sum(
        _folder_bytes(folder / job_id) for job_id in ids for folder in (storage.uploads, storage.results)
    )


def check_stored(store, storage, settings, owner: str | None, incoming: int) -> None:
    """413 when ``incoming`` more bytes would take the tenant over ENHANCE_MAX_STORED_MB_PER_KEY."""
    cap_mb = settings.max_stored_mb_per_key
    if owner is None or cap_mb is None:
        return
    used = stored_bytes(store, storage, owner)
    if used + incoming > cap_mb * 1024 * 1024:
        raise ApiProblem(
            413,
            "Storage quota exceeded",
            f"this API key's files would take {(used + incoming) / 2**20:.1f} MB, over "
            f"ENHANCE_MAX_STORED_MB_PER_KEY={cap_mb}; delete finished jobs (DELETE /jobs/<id>) first",
            "storage-quota",
        )


def _folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder`` (0 when it does not exist)."""
    total = 0
    for path in folder.rglob("*") if folder.is_dir() else ():
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:  # removed while we looked
            continue
    return total
