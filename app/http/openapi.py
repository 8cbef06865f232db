"""The OpenAPI document, built by apispec from this app's URL rules, its views' docstrings and the
pydantic schemas that validate requests: a route, a status code or a field is in the document because the
code has it.

Why apispec (marshmallow-code's, pinned in requirements.txt) rather than spectree or flask-openapi3: it
wraps no view and replaces no Flask class, so routes, validation and problem+json answers stay exactly as
they are; each view documents its own operation in its docstring (the YAML after ``---``, apispec's
convention), next to the code that returns those codes. spectree writes every response as
``application/json`` (this API answers errors as ``application/problem+json`` and results as video), and
flask-openapi3 needs its own Flask and Blueprint classes. The document is built per app, so it follows the
app's settings (bearer auth only when keys are on).
"""

from __future__ import annotations

import re
from http import HTTPStatus

from apispec import APISpec
from apispec.yaml_utils import load_operations_from_docstring
from flask import Flask, current_app
from pydantic.json_schema import models_json_schema

from . import schemas
from .auth import OPEN_ENDPOINTS

REF = "#/components/schemas/{model}"
# a variable of a Flask rule: ``<name>`` or ``<converter:name>`` (converter arguments included)
URL_VARIABLE = re.compile(r"<(?:([^:<>(]+)(?:\([^<>]*\))?:)?([^<>:]+)>")
# Flask's own static-file route is not part of the API (the page's scripts and styles)
UNDOCUMENTED_ENDPOINTS = {"static"}
# Flask answers these methods for every rule by itself
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
# a URL converter's type in the document (others match strings)
CONVERTER_TYPES = {"int": "integer", "float": "number"}
SCHEMAS = (
    schemas.EnhanceUpload,
    schemas.JobDocument,
    schemas.JobList,
    schemas.ModelInfo,
    schemas.OptionInfo,
    schemas.Problem,
    schemas.Health,
    schemas.Progress,
    schemas.ErrorInfo,
    schemas.ListQuery,
)

# Examples shown by /docs (Swagger UI); the form's is in POST /enhance's docstring. tests/test_web_routes.py
# validates each against the pydantic model it illustrates, so an example cannot drift from what the API
# accepts and returns.
JOB_EXAMPLE = {
    "id": "5f0c6f1e9a7b4c2d8e3f1a2b3c4d5e6f",
    "status": "succeeded",
    "model": "realesr-animevideov3",
    "options": {
        "model": "realesr-animevideov3",
        "outscale": None,
        "tile": 0,
        "precision": "auto",
        "codec": "h264",
        "crf": 20,
        "preset": "veryfast",
        "frames": 24,
        "batch": 0,
        "model_options": {},
        "deinterlace": "auto",
        "container": "mp4",
    },
    "progress": {"frames_done": 24, "frames_total": 24, "fraction": 1.0, "fps": 6.2, "eta_seconds": 0.0},
    "created_at": "2025-01-01T12:00:00Z",
    "started_at": "2025-01-01T12:00:01Z",
    "finished_at": "2025-01-01T12:00:05Z",
    "error": None,
    "result_url": "/jobs/5f0c6f1e9a7b4c2d8e3f1a2b3c4d5e6f/result",
    "worker": "host:1234",
    "attempts": 1,
    "input": {
        "name": "clip.mp4",
        "kind": "video",
        "width": 480,
        "height": 270,
        "output_width": 1920,
        "output_height": 1080,
        "fps": 23.976,
        "frames": 168,
        "duration": 7.007,
        "audio_streams": 1,
        "interlaced": None,
        "deinterlaced": None,
    },
}
# the same job as POST /enhance answers it, just queued
QUEUED = {
    "status": "queued",
    "progress": {"frames_done": 0, "frames_total": 24, "fraction": 0.0, "fps": None, "eta_seconds": None},
    "started_at": None,
    "finished_at": None,
    "result_url": None,
    "worker": None,
    "attempts": 0,
}
PROBLEM_EXAMPLE = {
    "type": "/problems/bad-request",
    "title": "Bad Request",
    "status": 400,
    "detail": "codec: Input should be 'h264', 'h265', 'vp9' or 'ffv1'",
}

# The error answers, as response components a view's docstring names (``404: NotFound``): every error of this
# API is a problem document (app/http/problems.py), so only the description and the example differ.
PROBLEMS = {
    "BadRequest": (400, "Bad option, unknown model or no file", PROBLEM_EXAMPLE["detail"]),
    "Unauthorized": (401, "Missing or wrong API key", "send 'Authorization: Bearer <key>'"),
    "Forbidden": (403, "Model licence not accepted on this server", "the model's licence is not accepted"),
    "NotFound": (404, "Unknown job (or another key's), or its file is gone", "no job with id 'x'"),
    "Conflict": (409, "The job has not succeeded (yet): no result", "the job is running, not finished yet"),
    "ContentTooLarge": (413, "Upload too large", "the upload is larger than ENHANCE_MAX_UPLOAD_MB allows"),
    "Unprocessable": (422, "Not a usable video, or the output would be too large", "the output is too large"),
    "TooManyRequests": (429, "Rate limited, or too many jobs waiting for this key", "too many requests"),
    "Unavailable": (503, "Queue full or model weights missing (Retry-After)", "30 jobs are waiting"),
}


def _problem_response(status: int, description: str, detail: str) -> dict:
    """A problem+json response with an example document."""
    title = HTTPStatus(status).phrase
    slug = title.lower().replace(" ", "-")
    example = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
    content = {"schema": {"$ref": REF.format(model="Problem")}, "example": example}
    return {"description": description, "content": {"application/problem+json": content}}


def _components(spec: APISpec, settings) -> None:
    """Schemas from the pydantic models, the shared responses, and the job examples."""
    _, top = models_json_schema([(model, "validation") for model in SCHEMAS], ref_template=REF)
    if not settings.webhook_secret:
        # this server sends no webhooks, so it refuses the field (400): it is not part of its form
        del top["$defs"]["EnhanceUpload"]["properties"]["webhook_url"]
    for name, schema in top["$defs"].items():
        spec.components.schema(name, schema)
    for name, (status, description, example) in PROBLEMS.items():
        spec.components.response(name, _problem_response(status, description, example))
    job = {"schema": "JobDocument", "example": JOB_EXAMPLE}
    spec.components.response("Job", {"description": "The job", "content": {"application/json": job}})
    accepted = {"schema": "JobDocument", "example": {**JOB_EXAMPLE, **QUEUED}}
    spec.components.response(
        "JobAccepted",
        {
            "description": "Accepted: the job is queued",
            "content": {"application/json": accepted},
            "headers": {"Location": {"description": "/jobs/<id>", "schema": {"type": "string"}}},
        },
    )


def _query_parameters(parameters: list) -> list:
    """``{in: query, schema: Model}`` stands for one query parameter per field of that pydantic model (the
    convention of apispec's marshmallow plugin), so the view's query model is the one source."""
    expanded = []
    for param in parameters:
        model = getattr(schemas, str(param.get("schema")), None) if param.get("in") == "query" else None
        if model is None:
            expanded.append(param)
            continue
        properties = model.model_json_schema(ref_template=REF)["properties"]
        expanded += [
            {"name": name, "in": "query", "required": False, "schema": prop}
            for name, prop in properties.items()
        ]
    return expanded


def _path_parameters(rule) -> list[dict]:
    """The rule's URL variables as path parameters (their type from the converter)."""
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": CONVERTER_TYPES.get(conv, "string")},
        }
        for conv, name in URL_VARIABLE.findall(rule.rule)
    ]


def _operations(rule, view, keyed: bool) -> dict:
    """The rule's operations: each method's YAML from the view's docstring, else a summary from it."""
    documented = load_operations_from_docstring(view.__doc__ or "")
    summary = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
    secured = keyed and rule.endpoint not in OPEN_ENDPOINTS
    operations = {}
    for method in sorted(rule.methods - IMPLICIT_METHODS):
        operation = dict(documented.get(method.lower()) or {})
        operation.setdefault("summary", summary)
        # a view without an OpenAPI section still appears; its answers are simply not described yet
        responses = dict(operation.get("responses") or {"default": {"description": "Not documented"}})
        if "parameters" in operation:
            operation["parameters"] = _query_parameters(operation["parameters"])
        if secured:
            # the auth layer (app/http/auth.py) answers 401 before the view runs, for every route it guards
            operation["security"] = [{"bearer": []}]
            responses.setdefault(401, "Unauthorized")
        operation["responses"] = responses
        operations[method.lower()] = operation
    return operations


def build_document(app: Flask) -> dict:
    """The whole API description (OpenAPI 3.1) of ``app``, from its rules, views and settings."""
    keyed = bool(app.extensions["enhance"].settings.api_keys)
    spec = APISpec(
        title="video-enhance",
        version="1.0.0",
        openapi_version="3.1.0",
        info={"description": "Upload a video, poll the job, download the enhanced result."},
    )
    _components(spec, app.extensions["enhance"].settings)
    if keyed:
        spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    for rule in rules:
        if rule.endpoint in UNDOCUMENTED_ENDPOINTS:
            continue
        view = app.view_functions[rule.endpoint]
        spec.path(
            path=_openapi_path(rule),
            operations=_operations(rule, view, keyed),
            parameters=_path_parameters(rule),
        )
    return spec.to_dict()


def _openapi_path(rule) -> str:
    """``/jobs/<job_id>`` (or ``<int:n>``) as OpenAPI writes it: ``/jobs/{job_id}``."""
    return URL_VARIABLE.sub(r"{\2}", rule.rule)


def openapi_document(app: Flask | None = None) -> dict:
    """This app's OpenAPI document, built once per app (its routes and settings are fixed once it serves)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    if "enhance.openapi" not in app.extensions:
        app.extensions["enhance.openapi"] = build_document(app)
    return app.extensions["enhance.openapi"]
