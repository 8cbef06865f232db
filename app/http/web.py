"""The web page at ``/`` and the original upload it shows next to the result (``/jobs/<id>/input``)."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, current_app, render_template, send_file

from app.pipeline.options import CRF_RANGES, DEFAULT_CRF

from .api import _job_or_404
from .problems import ApiProblem

bp = Blueprint("web", __name__)

#: what the page's CRF field shows for each codec: its scale's top and the server's default
CRF_SCALES = {
    codec: {"max": scale[1], "default": DEFAULT_CRF[codec]} for codec, scale in CRF_RANGES.items() if scale
}

# The upload comes from a visitor: it is only ever served as media, never as something the browser would
# render as a document on our origin (where the page keeps the API key).
INPUT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}

# The page loads nothing from elsewhere (it must work offline); media may come from blob: URLs because a
# <video> cannot send the Authorization header, so keyed servers hand the page object URLs.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@bp.get("/")
def index():
    """The upload / watch / compare / download page.
    ---
    get:
      summary: The web page
      responses:
        200: {description: The page, content: {text/html: {schema: {type: string}}}}
    """
    settings = current_app.extensions["enhance"].settings
    response = current_app.make_response(
        render_template(
            "index.html",
            default_model=settings.default_model,
            max_upload_mb=settings.max_upload_mb,
            keys_required=bool(settings.api_keys),
            crf_scales=CRF_SCALES,
        )
    )
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@bp.get("/favicon.ico")
def favicon():
    """The page's icon where browsers look for it by default (an SVG: every current browser takes one).
    ---
    get:
      summary: The page's icon
      responses:
        200: {description: An SVG, content: {image/svg+xml: {schema: {type: string}}}}
    """
    return send_file(
        Path(current_app.static_folder or "") / "favicon.svg", mimetype="image/svg+xml", max_age=86400
    )


@bp.get("/jobs/<job_id>/input")
def job_input(job_id: str):
    """The job's original upload, with byte ranges; same key and tenant rules as the API (404 otherwise).
    ---
    get:
      summary: The original upload (for before/after views; byte ranges supported)
      responses:
        200:
          description: The file
          content: &input
            video/*: {schema: {type: string, format: binary}}
            image/*: {schema: {type: string, format: binary}}
            application/octet-stream: {schema: {type: string, format: binary}}
        206: {description: Part of the file (Range request), content: *input}
        404: NotFound
    """
    job = _job_or_404(job_id)
    path = Path(job.input_path or "")
    if job.files_removed or not path.is_file():
        raise ApiProblem(404, "Not Found", "the original upload has expired or was deleted", "input-gone")
    name = job.input_name or "input"
    mimetype = mimetypes.guess_type(name)[0] or ""
    if not mimetype.startswith(("video/", "image/")) or "svg" in mimetype:
        mimetype = "application/octet-stream"  # the browser still sniffs media; it will not render markup
    response = send_file(
        path, mimetype=mimetype, as_attachment=True, download_name=name, conditional=True, max_age=0
    )
    response.headers.update(INPUT_HEADERS)
    return response
