"""Routes around the page, through the test client: /favicon.ico, /docs and its assets, download names."""

from __future__ import annotations

import re

import pytest

from app import create_app
from app.http.api import download_name
from app.http.openapi import JOB_EXAMPLE, PROBLEM_EXAMPLE, QUEUED, openapi_document
from app.http.ops import SWAGGER_ASSETS
from app.http.schemas import EnhanceForm, JobDocument, Problem
from app.jobs.runner import run_claimed_job
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


def _resolve(doc: dict, node: dict) -> dict:
    """Follow a ``$ref`` into the document's components."""
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = doc["components"][kind][name]
    return node


def test_openapi_examples_match_the_schemas_they_illustrate(app):
    doc = app.test_client().get("/openapi.json").json
    enhance = doc["paths"]["/enhance"]["post"]
    body = enhance["requestBody"]["content"]["multipart/form-data"]
    form = _resolve(doc, body["schema"])["properties"]
    # at the media type, not on the properties (schemathesis would then find the form "mostly rejecting")
    assert set(body["example"]) <= set(form) and not any("example" in p for p in form.values())
    assert all(prop.get("default", "unset") is not None for prop in form.values())  # no "null" to send
    EnhanceForm.model_validate(body["example"])
    accepted = _resolve(doc, enhance["responses"]["202"])["content"]["application/json"]["example"]
    assert accepted == {**JOB_EXAMPLE, **QUEUED}
    JobDocument.model_validate(accepted)
    job = _resolve(doc, doc["paths"]["/jobs/{job_id}"]["get"]["responses"]["200"])["content"]
    assert job["application/json"]["example"] == JOB_EXAMPLE
    JobDocument.model_validate(JOB_EXAMPLE)
    problem = _resolve(doc, enhance["responses"]["400"])["content"]["application/problem+json"]["example"]
    assert problem == PROBLEM_EXAMPLE
    for response in doc["components"]["responses"].values():
        for media, content in response["content"].items():
            if media == "application/problem+json":
                Problem.model_validate(content["example"])
    with app.app_context():
        assert doc == openapi_document()


def _operations(doc: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method != "parameters"
    }


def _rules(app) -> set[tuple[str, str]]:
    return {
        (method, re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_openapi_has_every_route_of_the_app_and_nothing_else(app):
    doc = app.test_client().get("/openapi.json").json
    assert _operations(doc) == _rules(app)
    assert {("POST", "/enhance"), ("DELETE", "/jobs/{job_id}"), ("GET", "/favicon.ico")} <= _operations(doc)
    for path, item in doc["paths"].items():
        for name in re.findall(r"{(\w+)}", path):  # every URL variable is a declared path parameter
            assert {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} in item[
                "parameters"
            ], path
    asset = doc["paths"]["/docs/assets/{name}"]["get"]["parameters"][0]["schema"]["enum"]
    assert set(asset) == SWAGGER_ASSETS  # the fuzzer asks for the files that exist


def test_a_route_added_without_docs_still_appears(tmp_path):
    from flask import Blueprint

    extra = Blueprint("extra", __name__)

    @extra.route("/extra/<int:n>", methods=["GET", "PUT"])
    def undocumented(n: int):
        """A route nobody documented."""
        return {"n": n}

    app = create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "data"}})
    app.register_blueprint(extra)
    doc = app.test_client().get("/openapi.json").json
    item = doc["paths"]["/extra/{n}"]
    assert set(item) == {"get", "put", "parameters"}
    assert item["get"]["summary"] == "A route nobody documented."
    assert item["parameters"] == [
        {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}
    ]


OPEN_PATHS = {"/healthz", "/readyz", "/", "/favicon.ico"}


def test_bearer_auth_is_declared_only_when_keys_are_on(app, tmp_path):
    plain = app.test_client().get("/openapi.json").json
    assert "securitySchemes" not in plain["components"] and "security" not in plain
    for path, item in plain["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                assert "security" not in operation and "401" not in operation["responses"], (method, path)

    keyed_app = create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "k", "api_keys": ("k",)}})
    client = keyed_app.test_client()
    keyed = client.get("/openapi.json", headers={"Authorization": "Bearer k"}).json
    assert keyed["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, item in keyed["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if path in OPEN_PATHS:
                assert "security" not in operation, path
                # and the server agrees: no key needed
                assert client.open(path, method=method.upper()).status_code != 401, path
            else:
                assert operation["security"] == [{"bearer": []}], (method, path)
                assert "401" in operation["responses"], (method, path)
                concrete = path.replace("{job_id}", "x").replace("{name}", "x")
                assert client.open(concrete, method=method.upper()).status_code == 401, (method, path)


def test_the_form_offers_only_what_the_server_accepts(app, tmp_path):
    doc = app.test_client().get("/openapi.json").json
    form = doc["components"]["schemas"]["EnhanceUpload"]
    # a multipart field cannot be null: a "null" alternative would have clients send the text "null"
    assert "null" not in str(form["properties"])
    assert form["required"] == ["file"] and form["properties"]["file"]["format"] == "binary"
    # without ENHANCE_WEBHOOK_SECRET the server refuses webhook_url (400), so its form has no such field
    assert "webhook_url" not in form["properties"]
    hooked = create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "h", "webhook_secret": "s"}})
    with hooked.app_context():
        assert "webhook_url" in openapi_document()["components"]["schemas"]["EnhanceUpload"]["properties"]


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
