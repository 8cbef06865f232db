"""The OpenAPI document, generated from the same pydantic schemas that validate requests."""

from __future__ import annotations

import functools

from pydantic import BaseModel

from . import schemas

REF = "#/components/schemas/{model}"
INPUT_TYPES = {
    t: {"schema": {"type": "string", "format": "binary"}}
    for t in ("video/*", "image/*", "application/octet-stream")
}
RESULT_TYPES = {
    t: {"schema": {"type": "string", "format": "binary"}}
    for t in (
        "video/mp4",
        "video/x-matroska",
        "video/webm",
        "image/png",
        "image/jpeg",
        "application/octet-stream",
    )
}


# Examples shown by /docs (Swagger UI). tests/test_docs.py validates each against the pydantic model it
# illustrates, so an example cannot drift from what the API accepts and returns.
FORM_EXAMPLE = {"model": "realesr-animevideov3", "codec": "h264", "crf": 20, "frames": 24}
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


def _schema(model: type[BaseModel]) -> dict:
    """JSON schema of a model with refs into components."""
    return model.model_json_schema(ref_template=REF)


def _problem(description: str) -> dict:
    schema = {"$ref": REF.format(model="Problem")}
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": schema, "example": PROBLEM_EXAMPLE}},
    }


def _json(model: str, description: str, example: dict | None = None) -> dict:
    content: dict = {"schema": {"$ref": REF.format(model=model)}}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def _query_params(model: type[BaseModel]) -> list[dict]:
    """Query parameters from a pydantic model."""
    schema = _schema(model)
    return [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


@functools.cache
def openapi_document() -> dict:
    """The whole API description (OpenAPI 3.1)."""
    components = {}
    for model in (
        schemas.JobDocument,
        schemas.JobList,
        schemas.ModelInfo,
        schemas.OptionInfo,
        schemas.Problem,
        schemas.Health,
        schemas.Progress,
        schemas.ErrorInfo,
    ):
        schema = _schema(model)
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    form = _schema(schemas.EnhanceForm)
    form["properties"] = {
        "file": {"type": "string", "format": "binary", "description": "The video or image"},
        **form["properties"],
    }
    form["required"] = ["file"]
    # the model's own options (GET /models) travel as further form fields
    form["additionalProperties"] = {
        "type": "string",
        "description": schemas.MODEL_OPTION_FIELDS,
    }
    form["description"] = schemas.MODEL_OPTION_FIELDS
    for prop in form["properties"].values():
        # an unset field is simply not sent: a "null" default would make Swagger UI's "Try it out" send the
        # text "null", which the API (rightly) refuses
        if "default" in prop and prop["default"] is None:
            del prop["default"]
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
    security = [{"bearer": []}]
    errors = {
        "400": _problem("Bad option, unknown model or no file"),
        "401": _problem("Missing or wrong API key"),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "video-enhance",
            "version": "1.0.0",
            "description": "Upload a video, poll the job, download the enhanced result.",
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/enhance": {
                "post": {
                    "summary": "Submit a video for enhancement",
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {"multipart/form-data": {"schema": form, "example": FORM_EXAMPLE}},
                    },
                    "responses": {
                        "202": {
                            **_json("JobDocument", "Accepted: the job is queued", {**JOB_EXAMPLE, **QUEUED}),
                            "headers": {"Location": {"schema": {"type": "string"}}},
                        },
                        **errors,
                        "403": _problem("Model licence not accepted on this server"),
                        "413": _problem("Upload too large"),
                        "415": _problem("Unsupported media"),
                        "422": _problem("Not a usable video, or the output would be too large"),
                        "429": _problem("Rate limited"),
                        "503": _problem("Queue full or model weights missing"),
                    },
                }
            },
            "/jobs": {
                "get": {
                    "summary": "The caller's jobs, newest first",
                    "security": security,
                    "parameters": _query_params(schemas.ListQuery),
                    "responses": {"200": _json("JobList", "A page of jobs"), **errors},
                }
            },
            "/jobs/{job_id}": {
                "get": {
                    "summary": "A job document",
                    "security": security,
                    "parameters": [job_id],
                    "responses": {
                        "200": _json("JobDocument", "The job", JOB_EXAMPLE),
                        "404": _problem("Unknown job"),
                        "401": errors["401"],
                    },
                },
                "delete": {
                    "summary": "Cancel a job and delete its files",
                    "security": security,
                    "parameters": [job_id],
                    "responses": {
                        "204": {"description": "Canceled / deleted"},
                        "404": _problem("Unknown job"),
                        "401": errors["401"],
                    },
                },
            },
            "/jobs/{job_id}/result": {
                "get": {
                    "summary": "Download the enhanced file (byte ranges supported)",
                    "security": security,
                    "parameters": [job_id],
                    "responses": {
                        "200": {"description": "The file", "content": RESULT_TYPES},
                        "206": {"description": "Part of the file (Range request)", "content": RESULT_TYPES},
                        "404": _problem("Unknown job or expired result"),
                        "409": _problem("Not finished"),
                        "401": errors["401"],
                    },
                }
            },
            "/jobs/{job_id}/input": {
                "get": {
                    "summary": "The original upload (for before/after views; byte ranges supported)",
                    "security": security,
                    "parameters": [job_id],
                    "responses": {
                        "200": {"description": "The file", "content": INPUT_TYPES},
                        "206": {"description": "Part of the file (Range request)", "content": INPUT_TYPES},
                        "404": _problem("Unknown job or the upload was deleted"),
                        "401": errors["401"],
                    },
                }
            },
            "/models": {
                "get": {
                    "summary": "The enhancers",
                    "security": security,
                    "responses": {
                        "200": {
                            "description": "Models",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "items": {"$ref": REF.format(model="ModelInfo")},
                                    }
                                }
                            },
                        },
                        "401": errors["401"],
                    },
                }
            },
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _json("Health", "Alive")}}},
            "/readyz": {
                "get": {
                    "summary": "Readiness (database, queue, weights)",
                    "responses": {"200": _json("Health", "Ready"), "503": _json("Health", "Not ready")},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "security": security,
                    "responses": {
                        "200": {
                            "description": "Metrics",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": errors["401"],
                    },
                }
            },
        },
    }
