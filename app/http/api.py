"""The HTTP API (CONTRACT.md): submit, poll, download, cancel, list. Never touches a tensor.

Uploads are parsed by Werkzeug, which spools files larger than 500 KB to disk, and refused early by
``MAX_CONTENT_LENGTH`` (413) before the body is read past the limit.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, request, send_file, url_for
from werkzeug.utils import secure_filename

from models.catalog import catalog

from .. import webhooks
from ..jobs.document import job_document
from ..jobs.models import Job
from ..jobs.submit import JobRequest, build_options
from ..webhooks import netguard
from . import ratelimit
from .problems import ApiProblem
from .schemas import EnhanceForm, ListQuery

log = logging.getLogger("app.api")
bp = Blueprint("api", __name__)


def service():
    """This process's Service (settings, store, storage, queue)."""
    return current_app.extensions["enhance"].get()


def owner() -> str | None:
    """The tenant of this request (set by the auth layer), or None when keys are off."""
    return g.get("tenant")


def _job_or_404(job_id: str) -> Job:
    """The caller's job, or 404 (``UnknownJob``)."""
    return service().jobs.get(job_id, owner())


def _check_webhook(url: str | None, settings) -> None:
    """400 unless ``url`` is an http(s) URL this server may call (public addresses only, by default)."""
    if not url:
        return
    if not settings.webhook_secret:
        raise ApiProblem(
            400,
            "Bad option",
            "webhook_url: this server sends no webhooks (ENHANCE_WEBHOOK_SECRET is not set)",
            "bad-option",
        )
    try:
        netguard.check_url(url, settings.webhook_allow_private)
    except netguard.UrlRefused as exc:
        raise ApiProblem(400, "Bad option", f"webhook_url: {exc}", "bad-option") from None


@bp.post("/enhance")
def submit():
    """Accept an upload, probe it, validate the options and queue a job (202).
    ---
    post:
      summary: Submit a video for enhancement
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema: EnhanceUpload
            example: {model: realesr-animevideov3, codec: h264, crf: 20, frames: 24}
      responses:
        202: JobAccepted
        400: BadRequest
        403: Forbidden
        413: ContentTooLarge
        422: Unprocessable
        429: TooManyRequests
        503: Unavailable
    """
    svc = service()
    jobs = svc.jobs
    # a full queue or a tenant at its caps is refused before the body is read
    jobs.check_capacity(owner())
    fields = {k: v for k, v in request.form.items() if v != ""}
    # the fixed fields go through EnhanceForm, every other one is an option of the chosen model
    model_fields = {
        k: fields.pop(k) for k in list(fields) if k not in EnhanceForm.model_fields and k != "file"
    }
    form = EnhanceForm.model_validate(fields)
    _check_webhook(form.webhook_url, svc.settings)
    upload = request.files.get("file")
    if upload is None:
        raise ApiProblem(400, "No file", "send the video as the multipart form field 'file'", "no-file")
    # resolves the chain once: an unknown model or a refused licence fails before the upload is stored
    options = build_options(
        form.model or svc.settings.default_model,
        model_fields,
        allow_paths=False,
        outscale=form.outscale,
        tile=form.tile,
        codec=form.codec,
        crf=form.crf,
        frames=form.frames,
        deinterlace=form.deinterlace,
    )
    wanted = JobRequest(
        options=options,
        owner=owner(),
        input_name=(secure_filename(upload.filename or "") or "input")[:255],
        webhook_url=form.webhook_url,
    )
    job = jobs.submit(wanted, upload.save)
    job_id = job.id
    response = jsonify(job_document(job))
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_job", job_id=job_id)
    return response


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    """The job document.
    ---
    get:
      summary: A job document
      responses:
        200: Job
        404: NotFound
    """
    return jsonify(job_document(_job_or_404(job_id)))


@bp.get("/jobs")
def list_jobs():
    """The caller's jobs, newest first, paginated with ``limit`` and ``offset``.
    ---
    get:
      summary: The caller's jobs, newest first
      parameters:
        - {in: query, schema: ListQuery}
      responses:
        200:
          description: A page of jobs
          content: {application/json: {schema: JobList}}
        400: BadRequest
    """
    query = ListQuery.model_validate(request.args.to_dict())
    jobs, total = service().store.list(owner(), query.limit, query.offset)
    return jsonify(
        {
            "jobs": [job_document(j) for j in jobs],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


def download_name(input_name: str | None, model: str, suffix: str) -> str:
    """``<input stem>-<model><suffix>``: the download says which model made it (chain ``a+b``: ``a_b``)."""
    stem = Path(input_name or "").stem or "video"
    # the same rule as the stem (secure_filename: ASCII letters, digits and ._- only, no leading dot)
    tag = secure_filename(model.replace("+", "_")) or "enhanced"
    return f"{stem}-{tag}{suffix}"


@bp.get("/jobs/<job_id>/result")
def get_result(job_id: str):
    """The enhanced file, with byte ranges and a Content-Disposition; 409 until the job succeeded.
    ---
    get:
      summary: Download the enhanced file (byte ranges supported)
      responses:
        200:
          description: The file
          content: &result
            video/mp4: {schema: {type: string, format: binary}}
            video/x-matroska: {schema: {type: string, format: binary}}
            video/webm: {schema: {type: string, format: binary}}
            image/png: {schema: {type: string, format: binary}}
            image/jpeg: {schema: {type: string, format: binary}}
            application/octet-stream: {schema: {type: string, format: binary}}
        206: {description: Part of the file (Range request), content: *result}
        404: NotFound
        409: Conflict
    """
    job = _job_or_404(job_id)
    if job.status != "succeeded":
        raise ApiProblem(409, "Not ready", _no_result(job), "not-ready")
    path = Path(job.result_path or "")
    if job.files_removed or not path.is_file():
        raise ApiProblem(404, "Not Found", "the result has expired or was deleted", "result-gone")
    name = download_name(job.input_name, job.model, path.suffix)
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return send_file(
        path, mimetype=mimetype, as_attachment=True, download_name=name, conditional=True, max_age=0
    )


def _no_result(job: Job) -> str:
    """Why a job that has not succeeded has no result, in its own state's terms."""
    if job.status == "canceled":
        return "the job was canceled; it has no result"
    if job.status == "failed":
        why = (job.error or {}).get("detail")
        return f"the job failed, so it has no result: {why}" if why else "the job failed; it has no result"
    return f"the job is {job.status}, not finished yet; the result is available once it has succeeded"


@bp.delete("/jobs/<job_id>")
def delete_job(job_id: str):
    """Cancel an active job and delete its files (the row stays, canceled); a finished job is removed.
    ---
    delete:
      summary: Cancel a job and delete its files
      responses:
        204: {description: Canceled / deleted}
        404: NotFound
    """
    service().jobs.cancel_or_delete(job_id, owner())
    return "", 204


@bp.get("/models")
def list_models():
    """Every enhancer, as ``flask models --json``.
    ---
    get:
      summary: The enhancers
      responses:
        200:
          description: Models
          content: {application/json: {schema: {type: array, items: ModelInfo}}}
    """
    return jsonify(catalog())


@bp.record_once
def _setup(state) -> None:
    """Rate limits and webhooks belong to the API: wired when the app registers it (after its routes)."""
    app = state.app
    lazy = app.extensions["enhance"]
    ratelimit.init_app(app)
    webhooks.configure(lazy.settings)  # the workers' sweeper retries what a process could not send
