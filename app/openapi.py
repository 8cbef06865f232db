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


def _schema(model: type[BaseModel]) -> dict:
    """JSON schema of a model with refs into components."""
    return model.model_json_schema(ref_template=REF)


def _problem(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def _json(model: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}},
    }


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
                    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": form}}},
                    "responses": {
                        "202": {
                            **_json("JobDocument", "Accepted: the job is queued"),
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
                        "200": _json("JobDocument", "The job"),
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
