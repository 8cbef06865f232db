"""The application layer for jobs: validate a request once, submit it, cancel or delete a job.

The HTTP views translate HTTP to these calls and their errors to problem+json; the CLI validates its
options with the same ``build_options``; workers run what ``submit`` stored (``app.jobs.runner``). Every
refusal is an EnhanceError with its HTTP status, so each boundary words it for its own caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from app.pipeline.options import EnhanceOptions
from models import weights
from models.errors import BadOption, EnhanceError
from models.specs import ModelSpec, is_model_path, resolve_chain, validate_model_options

from .inspection import inspect_upload
from .models import ACTIVE, Job
from .store import new_job_id

log = logging.getLogger("app.jobs")


class UnknownJob(EnhanceError):
    """No job by that id (for this tenant)."""

    title = "Not Found"
    slug = "unknown-job"
    http_status = 404
    user_error = True


class InvalidUpload(EnhanceError):
    """The request carried no usable file."""

    title = "No file"
    slug = "no-file"
    http_status = 400
    user_error = True


class QueueFull(EnhanceError):
    """The server has ENHANCE_MAX_QUEUED jobs waiting."""

    title = "Queue full"
    slug = "queue-full"
    http_status = 503
    retry_after = 30


class TooManyQueued(EnhanceError):
    """The tenant has ENHANCE_MAX_QUEUED_PER_KEY jobs waiting."""

    title = "Too many queued jobs"
    slug = "too-many-queued"
    http_status = 429
    user_error = True
    retry_after = 10


class StorageQuota(EnhanceError):
    """The tenant's files would exceed ENHANCE_MAX_STORED_MB_PER_KEY."""

    title = "Storage quota exceeded"
    slug = "storage-quota"
    http_status = 413
    user_error = True


@dataclass(frozen=True)
class JobRequest:
    """A job asked for, validated: the options (model resolved, its options typed) and who asks."""

    options: EnhanceOptions
    owner: str | None = None
    input_name: str = "input"
    webhook_url: str | None = None


def build_options(
    model: str, model_options: dict | None = None, *, allow_paths: bool, **fields
) -> EnhanceOptions:
    """EnhanceOptions validated once: the model or chain resolved (and its licence checked), its options
    parsed to their types, every other field in range. ``allow_paths``: a ``.pth`` path may name a model
    (the command line; a server never loads a client's path)."""
    if not allow_paths and any(is_model_path(link) for link in model.split("+")):
        raise BadOption("{field} must be a registered name or chain, not a file path", field="model")
    options = EnhanceOptions(
        model=model, model_options=validate_model_options(model, model_options), **fields
    )
    options.validate()
    return options


class Jobs:
    """Submit, find, cancel and delete jobs of one Service (its settings, store, storage and queue)."""

    def __init__(self, service):
        self.settings, self.store, self.storage, self.queue = (
            service.settings,
            service.store,
            service.storage,
            service.queue,
        )

    # -- submit -----------------------------------------------------------------------------------
    def check_capacity(self, owner: str | None) -> None:
        """Refuse before an upload is read: the server's queue is full, or the tenant is at a cap."""
        if self.store.count_queued() >= self.settings.max_queued:
            raise QueueFull(f"{self.settings.max_queued} jobs are waiting; try again later")
        cap = self.settings.max_queued_per_key
        if owner is not None and cap is not None and self.store.count_queued(owner) >= cap:
            raise TooManyQueued(
                f"this API key has {cap} jobs waiting (ENHANCE_MAX_QUEUED_PER_KEY); wait for one to start"
            )
        self._check_stored(owner, incoming=1)

    def submit(self, request: JobRequest, save_upload: Callable[[Path], None]) -> Job:
        """Store the upload (``save_upload`` writes it to the path given), inspect it in a child process,
        and queue the job; nothing is kept when any check fails."""
        job_id = new_job_id()
        path = self.storage.upload_path(job_id)
        try:
            save_upload(path)
            size_bytes = path.stat().st_size
            if size_bytes == 0:
                raise InvalidUpload("the uploaded file is empty")
            self._check_stored(request.owner, size_bytes)
            plan = inspect_upload(
                path, request.options, self.settings.limits, self.settings.allow_noncommercial
            )
            _check_weights(request.options.model)
            stored = dict(plan.options)
            stored.pop("device", None)  # each worker runs on its own ENHANCE_DEVICE
            stored["container"] = plan.container
            job = Job(
                id=job_id,
                owner=request.owner,
                status="queued",
                model=request.options.model,
                options=stored,
                input_name=request.input_name,
                input_path=str(path),
                media=plan.media,
                frames_total=plan.frames_total,
                webhook_url=request.webhook_url,
            )
            self.store.add(job)
        except BaseException:
            self.storage.remove(job_id)
            raise
        self.queue.enqueue(job_id)
        media = plan.media
        log.info(
            "job queued: model=%s %dx%d frames=%s",
            job.model,
            media["width"],
            media["height"],
            plan.frames_total,
            extra={"job_id": job_id},
        )
        return job

    def _check_stored(self, owner: str | None, incoming: int) -> None:
        """StorageQuota when ``incoming`` more bytes would take the tenant over its cap."""
        cap_mb = self.settings.max_stored_mb_per_key
        if owner is None or cap_mb is None:
            return
        used = self.stored_bytes(owner)
        if used + incoming > cap_mb * 1024 * 1024:
            raise StorageQuota(
                f"this API key's files would take {(used + incoming) / 2**20:.1f} MB, over "
                f"ENHANCE_MAX_STORED_MB_PER_KEY={cap_mb}; delete finished jobs (DELETE /jobs/<id>) first"
            )

    def stored_bytes(self, owner: str) -> int:
        """Bytes of uploads and results the tenant's jobs hold on disk now."""
        with self.store.Session() as s:
            ids = s.scalars(select(Job.id).where(Job.owner == owner, Job.files_removed.is_(False))).all()
        return sum(self.storage.job_bytes(job_id) for job_id in ids)

    # -- find, cancel, delete ---------------------------------------------------------------------
    def get(self, job_id: str, owner: str | None) -> Job:
        """The job, or UnknownJob (another tenant's job does not exist for this one)."""
        job = self.store.get(job_id, owner)
        if job is None:
            raise UnknownJob(f"no job with id {job_id!r}")
        return job

    def cancel_or_delete(self, job_id: str, owner: str | None) -> str:
        """Cancel an active job and delete its files (its row stays, canceled); remove a finished one.
        Returns what was done: ``canceled`` or ``deleted``."""
        job = self.get(job_id, owner)
        if job.status in ACTIVE:
            self.store.cancel(job_id, owner)  # the job's end (canceled) notifies webhooks from the store
            self.storage.remove(job_id)
            self.store.mark_files_removed(job_id)
            log.info("job canceled", extra={"job_id": job_id})
            return "canceled"
        self.storage.remove(job_id)
        self.store.delete(job_id)
        log.info("job deleted", extra={"job_id": job_id})
        return "deleted"


def _check_weights(model: str) -> None:
    """WeightsMissing (503, naming the fetch command) when a model of the chain has no weights here."""
    for link in resolve_chain(model):
        if isinstance(link, ModelSpec):
            for path in link.weights:
                weights.require(path, model=link.name)
