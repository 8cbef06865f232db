"""Every error answer is ``application/problem+json`` (RFC 9457), produced in one place."""

from __future__ import annotations

import logging

from flask import Flask, Response, json
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from models.errors import EnhanceError

log = logging.getLogger("app.http")


class ApiProblem(Exception):
    """An HTTP error with a status, a short title and a detail a person can act on."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        slug: str | None = None,
        headers: dict | None = None,
        **extra,
    ):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.slug = slug or title.lower().replace(" ", "-")
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int, title: str, detail: str, slug: str, headers: dict | None = None, **extra
) -> Response:
    """Build the problem+json response."""
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail, **extra}
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def validation_detail(exc: ValidationError) -> str:
    """One line naming each bad field and what is allowed."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "request"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown field {field!r}")
        else:
            parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


def register_problem_handlers(app: Flask) -> None:
    """Turn every exception that reaches Flask into problem+json."""

    @app.errorhandler(ApiProblem)
    def _api_problem(exc: ApiProblem):
        return problem_response(exc.status, exc.title, exc.detail, exc.slug, exc.headers, **exc.extra)

    @app.errorhandler(EnhanceError)
    def _enhance_error(exc: EnhanceError):
        # worded for an HTTP client: form fields, not flags; no advice only the operator can follow
        retry = getattr(exc, "retry_after", None)  # a refusal for now (queue full, a cap): when to come back
        headers = {"Retry-After": str(retry)} if retry else None
        return problem_response(exc.http_status, exc.title, exc.worded("http"), exc.slug, headers)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return problem_response(400, "Bad option", validation_detail(exc), "bad-option")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        detail = exc.description or exc.name
        if exc.code == 413:
            detail = "the upload is larger than ENHANCE_MAX_UPLOAD_MB allows"
        slug = exc.name.lower().replace(" ", "-")
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return problem_response(exc.code or 500, exc.name, detail, slug, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return problem_response(
            500, "Internal Server Error", "an unexpected error occurred; it has been logged", "internal-error"
        )
