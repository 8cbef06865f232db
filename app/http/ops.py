"""Operational routes: liveness, readiness, Prometheus metrics, the OpenAPI document and its page."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, send_from_directory
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from models.catalog import catalog

from ..jobs.models import STATUSES
from .openapi import openapi_document

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers.
    ---
    get:
      summary: Liveness
      responses:
        200: {description: Alive, content: {application/json: {schema: Health}}}
    """
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers, the queue is configured, and which models have weights.
    ---
    get:
      summary: Readiness (database, queue, weights)
      responses:
        200: {description: Ready, content: {application/json: {schema: Health}}}
        503: {description: Not ready, content: {application/json: {schema: Health}}}
    """
    svc = current_app.extensions["enhance"].get()
    checks = {}
    ok = True
    try:
        svc.store.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
        ok = False
    queue_state = svc.queue.readiness() if hasattr(svc.queue, "readiness") else "ok"
    checks["queue"] = queue_state
    ok = ok and queue_state == "ok"
    ready_models = [m["name"] for m in catalog() if m["ready"] and m["allowed"]]
    checks["models_ready"] = ready_models
    window = 3 * svc.settings.stale_seconds
    heartbeats = svc.store.worker_beats(window) if checks["database"] == "ok" else {}
    checks["workers"] = {w: t.isoformat() for w, t in heartbeats.items()}
    body = {"status": "ok" if ok else "unavailable", **checks}
    return jsonify(body), 200 if ok else 503


class _JobCollector:
    """Reads the job table at scrape time, so every gunicorn process reports the same numbers."""

    def __init__(self, store):
        self.store = store

    def collect(self):
        by_status = self.store.count_by_status()
        jobs = GaugeMetricFamily("enhance_jobs", "Jobs by status", labels=["status"])
        for status in STATUSES:
            jobs.add_metric([status], by_status.get(status, 0))
        yield jobs
        frames, durations = self.store.finished_stats()
        yield CounterMetricFamily(
            "enhance_frames_processed", "Frames written by succeeded jobs", value=frames
        )
        yield SummaryMetricFamily(
            "enhance_job_duration_seconds",
            "Run time of succeeded jobs",
            count_value=len(durations),
            sum_value=sum(durations),
        )
        beats = self.store.worker_beats(24 * 3600)
        workers = GaugeMetricFamily(
            "enhance_worker_heartbeat_timestamp_seconds",
            "Last heartbeat of each worker process",
            labels=["worker"],
        )
        for worker, when in beats.items():
            workers.add_metric([worker], when.timestamp())
        yield workers


@bp.get("/metrics")
def metrics():
    """Prometheus text format.
    ---
    get:
      summary: Prometheus metrics
      responses:
        200: {description: Metrics, content: {text/plain: {schema: {type: string}}}}
    """
    registry = CollectorRegistry()
    registry.register(_JobCollector(current_app.extensions["enhance"].get().store))
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI description of this API.
    ---
    get:
      summary: This document
      responses:
        200: {description: OpenAPI 3.1, content: {application/json: {schema: {type: object}}}}
    """
    return jsonify(openapi_document())


# Swagger UI's own files, from the pinned swagger-ui-py wheel (requirements.txt): served from this origin so
# /docs works offline. Only the two files the page loads are reachable.
SWAGGER_ASSETS = {"swagger-ui-bundle.js", "swagger-ui.css"}
# Swagger UI sets styles through the DOM (allowed) and its CSS draws icons as data: SVGs; it calls only
# this origin (the document, "Try it out"), and its validator badge is switched off in docs.js.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def swagger_ui_dir() -> Path:
    """The folder of Swagger UI's dist files inside the installed swagger-ui-py package (not imported)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise RuntimeError("swagger-ui-py is not installed: pip install -r requirements.txt")
    return Path(spec.origin).parent / "static"


@bp.get("/docs")
def docs():
    """Swagger UI over /openapi.json: an explorer with examples and "Try it out", nothing from elsewhere.
    ---
    get:
      summary: This document's explorer (Swagger UI)
      responses:
        200: {description: The page, content: {text/html: {schema: {type: string}}}}
    """
    response = current_app.make_response(render_template("docs.html"))
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


@bp.get("/docs/assets/<name>")
def docs_asset(name: str):
    """One of Swagger UI's files (its version is pinned, so browsers may keep it for a day).
    ---
    get:
      summary: A file of the explorer (swagger-ui-bundle.js, swagger-ui.css)
      parameters:
        - name: name
          in: path
          required: true
          schema: {type: string, enum: [swagger-ui-bundle.js, swagger-ui.css]}
      responses:
        200:
          description: The file
          content: {text/javascript: {schema: {type: string}}, text/css: {schema: {type: string}}}
        404: NotFound
    """
    if name not in SWAGGER_ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_dir(), name, max_age=86400)
