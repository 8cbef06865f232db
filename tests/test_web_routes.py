"""Routes around the page, through the test client: /favicon.ico, /docs and its assets, download names."""

from __future__ import annotations

import re

import pytest

from app import create_app
from app.api import download_name
from app.jobs.runner import run_claimed_job
from app.openapi import FORM_EXAMPLE, JOB_EXAMPLE, PROBLEM_EXAMPLE, QUEUED, openapi_document
from app.schemas import EnhanceForm, JobDocument, Problem
from tests.media import make_video


@pytest.fixture
def app(tmp_path):
    return create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "data"}})


def test_favicon_is_served(app):
    r = app.test_client().get("/favicon.ico")
    assert r.status_code == 200
    assert r.mimetype == "image/svg+xml" and r.data.startswith(b"<svg")


def test_favicon_needs_no_key(tmp_path):
    keyed = create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "d", "api_keys": ("k",)}})
    assert keyed.test_client().get("/favicon.ico").status_code == 200
    assert keyed.test_client().get("/docs").status_code == 401  # the explorer is still behind the key


def test_docs_is_swagger_ui_served_from_this_origin(app):
    client = app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "://" not in html  # nothing from another origin
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src" not in csp  # scripts: this origin only
    assert "<script>" not in html  # no inline script (the CSP would block it)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert "/docs/assets/swagger-ui-bundle.js" in scripts and "/static/docs.js" in scripts
    assert styles == ["/docs/assets/swagger-ui.css"]
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "javascript" in bundle.mimetype
    assert b"SwaggerUIBundle" in bundle.data
    css = client.get("/docs/assets/swagger-ui.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and b".swagger-ui" in css.data
    init = client.get("/static/docs.js").get_data(as_text=True)
    assert "validatorUrl: null" in init and "://" not in init
    # only the files the page needs; nothing else of the package, no way out of its folder
    for name in ("index.html", "swagger-editor-bundle.js", "..%2F__init__.py", "LICENSE"):
        assert client.get(f"/docs/assets/{name}").status_code == 404, name


def test_openapi_examples_match_the_schemas_they_illustrate(app):
    doc = app.test_client().get("/openapi.json").json
    enhance = doc["paths"]["/enhance"]["post"]
    form = enhance["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert enhance["requestBody"]["content"]["multipart/form-data"]["example"] == FORM_EXAMPLE
    assert set(FORM_EXAMPLE) <= set(form)
    assert all(prop.get("default", "unset") is not None for prop in form.values())  # no "null" to send
    EnhanceForm.model_validate(FORM_EXAMPLE)
    accepted = enhance["responses"]["202"]["content"]["application/json"]["example"]
    assert accepted == {**JOB_EXAMPLE, **QUEUED}
    JobDocument.model_validate(accepted)
    job = doc["paths"]["/jobs/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert job["example"] == JOB_EXAMPLE
    JobDocument.model_validate(JOB_EXAMPLE)
    problem = enhance["responses"]["400"]["content"]["application/problem+json"]["example"]
    Problem.model_validate(problem)
    assert problem == PROBLEM_EXAMPLE
    assert doc == openapi_document()


def test_download_name_carries_the_model(app, tmp_path):
    clip = make_video(tmp_path / "clip.mp4", width=64, height=48, frames=4)
    client = app.test_client()
    with open(clip, "rb") as fh:
        r = client.post("/enhance", data={"file": (fh, "clip.mp4"), "model": "bicubic"})
    assert r.status_code == 202, r.json
    svc = app.extensions["enhance"].get()
    claimed = svc.store.claim_next("test:1", r.json["id"])
    assert run_claimed_job(svc.store, svc.storage, *claimed, 0.1) == "succeeded"
    result = client.get(f"/jobs/{r.json['id']}/result")
    assert result.status_code == 200
    assert result.headers["Content-Disposition"] == "attachment; filename=clip-bicubic.mp4"


def test_download_name_of_a_chain_and_of_odd_names():
    assert download_name("clip.mp4", "realesr-animevideov3", ".mp4") == "clip-realesr-animevideov3.mp4"
    chain = download_name("a.b.mov", "lut3d+realesr-animevideov3", ".mkv")
    assert chain == "a.b-lut3d_realesr-animevideov3.mkv"
    assert download_name(None, "bicubic", ".webm") == "video-bicubic.webm"
