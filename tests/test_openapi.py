"""/openapi.json promises no status code a route cannot answer, and answers none it does not promise.

(The 401 that the document adds to every guarded operation when keys are on: tests/test_web_routes.py.)
"""

from __future__ import annotations

import pytest

from app import create_app
from app.jobs.runner import run_claimed_job
from tests.media import make_video


@pytest.fixture
def clip(tmp_path):
    return make_video(tmp_path / "clip.mp4", width=64, height=48, frames=4, audio=None)


def _documented(doc: dict) -> set[tuple[str, str, int]]:
    return {
        (method.upper(), path, int(code))
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
        for code in operation["responses"]
        if code != "default"
    }


class Recorder:
    """Calls the app through its test client and notes (method, documented path, status) of each answer."""

    def __init__(self, app):
        self.app, self.client, self.seen = app, app.test_client(), set()

    def call(self, method: str, template: str, *, status: int, **values_and_kwargs):
        values = {k: values_and_kwargs.pop(k) for k in ("job_id", "name") if k in values_and_kwargs}
        response = self.client.open(template.format(**values), method=method, **values_and_kwargs)
        assert response.status_code == status, (method, template, response.get_data(as_text=True)[:300])
        self.seen.add((method, template, status))
        return response

    def submit(self, clip, status: int, **fields):
        with open(clip, "rb") as fh:
            return self.call("POST", "/enhance", status=status, data={"file": (fh, "clip.mp4"), **fields})


def _app(tmp_path, name: str, **settings):
    return create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / name, **settings}})


def test_every_documented_status_code_is_one_the_route_answers(tmp_path, clip, monkeypatch):
    app = _app(tmp_path, "data")
    doc = app.test_client().get("/openapi.json").json
    r = Recorder(app)

    job_id = r.submit(clip, 202, model="bicubic", scale="1").json["id"]
    r.submit(clip, 400, model="bicubic", codec="nope")
    r.submit(clip, 403, model="zero-dce")  # non-commercial licence, no opt-in
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(b"not a video at all" * 64)
    r.submit(noise, 422, model="bicubic")
    r.call("GET", "/jobs/{job_id}", job_id=job_id, status=200)
    r.call("GET", "/jobs/{job_id}", job_id="unknown", status=404)
    r.call("GET", "/jobs/{job_id}/result", job_id=job_id, status=409)  # still queued
    svc = app.extensions["enhance"].get()
    assert (
        run_claimed_job(svc.store, svc.storage, *svc.store.claim_next("test:1", job_id), 0.1) == "succeeded"
    )
    for route in ("/jobs/{job_id}/result", "/jobs/{job_id}/input"):
        r.call("GET", route, job_id=job_id, status=200)
        r.call("GET", route, job_id=job_id, status=206, headers={"Range": "bytes=0-9"})
        r.call("GET", route, job_id="unknown", status=404)
    r.call("GET", "/jobs", status=200)
    r.call("GET", "/jobs", status=400, query_string={"limit": "0"})
    r.call("DELETE", "/jobs/{job_id}", job_id=job_id, status=204)
    r.call("DELETE", "/jobs/{job_id}", job_id=job_id, status=404)
    for path in ("/models", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/", "/favicon.ico"):
        r.call("GET", path, status=200)
    r.call("GET", "/docs/assets/{name}", name="swagger-ui.css", status=200)
    r.call("GET", "/docs/assets/{name}", name="LICENSE", status=404)

    def broken_database():
        raise OSError("database gone")

    monkeypatch.setattr(svc.store, "ping", broken_database)
    r.call("GET", "/readyz", status=503)

    # the limits, each on an app configured to reach it
    small = Recorder(_app(tmp_path, "small", max_upload_mb=1))
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (3 << 20))
    small.submit(big, 413, model="bicubic")
    limited = Recorder(_app(tmp_path, "limited", rate_limit="1/minute"))
    limited.submit(clip, 202, model="bicubic", scale="1")
    limited.submit(clip, 429, model="bicubic", scale="1")
    full = Recorder(_app(tmp_path, "full", max_queued=1))
    full.submit(clip, 202, model="bicubic", scale="1")
    full.submit(clip, 503, model="bicubic", scale="1")

    seen = r.seen | small.seen | limited.seen | full.seen
    assert _documented(doc) - seen == set()  # every promised code was answered
    assert seen - _documented(doc) == set()  # and every answer was promised
