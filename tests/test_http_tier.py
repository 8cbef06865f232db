"""The HTTP tier stays light and survives hostile files: it never loads torch, PyAV or OpenCV, and the
upload's probe runs in a child process whose crash or hang is one 422, not a dead HTTP process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from app import create_app
from app.jobs import inspection
from tests.conftest import REPO
from tests.media import make_video

HEAVY = ("torch", "av", "cv2", "numpy", "spandrel", "models.registry", "app.pipeline.video")


@pytest.fixture
def clip(tmp_path):
    return make_video(tmp_path / "clip.mp4", width=64, height=48, frames=8)


def test_an_http_process_never_loads_torch_pyav_or_opencv(tmp_path, clip):
    """Every route an HTTP process serves, a real upload and a bad one included, in a fresh interpreter."""
    script = textwrap.dedent(
        f"""
        import io, json, sys
        from app import create_app
        app = create_app({{"TESTING": True, "ENHANCE": {{"data_dir": {str(tmp_path / "data")!r}}}}})
        c = app.test_client()
        pages = ("/", "/models", "/openapi.json", "/docs", "/healthz", "/readyz", "/metrics", "/favicon.ico")
        codes = {{u: c.get(u).status_code for u in pages}}
        with open({str(clip)!r}, "rb") as f:
            ok = c.post("/enhance", data={{"model": "bicubic", "file": (f, "clip.mp4")}})
        junk = io.BytesIO(b"not a video" * 50)
        bad = c.post("/enhance", data={{"model": "bicubic", "file": (junk, "x.mp4")}})
        job = ok.get_json()["id"]
        codes.update(ok=ok.status_code, bad=bad.status_code, job=c.get(f"/jobs/{{job}}").status_code,
                     jobs=c.get("/jobs").status_code, delete=c.delete(f"/jobs/{{job}}").status_code)
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        print(json.dumps({{"codes": codes, "heavy": heavy}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    codes = report["codes"]
    assert codes.pop("ok") == 202 and codes.pop("bad") == 422 and codes.pop("delete") == 204
    assert set(codes.values()) == {200}, codes


@pytest.fixture
def client(tmp_path):
    app = create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "data"}})
    return app.test_client()


def _nothing_kept(tmp_path) -> bool:
    uploads = tmp_path / "data" / "uploads"
    return not any(p.is_file() for p in uploads.rglob("*"))


def _segfaulting_probe(request, conn):
    """A stand-in for the probe that crashes as FFmpeg would on a hostile file."""
    os.kill(os.getpid(), signal.SIGSEGV)


def _hanging_probe(request, conn):
    """A stand-in for the probe that never answers."""
    time.sleep(600)


def test_a_probe_that_crashes_is_a_422_and_the_server_goes_on(client, tmp_path, clip, monkeypatch):
    monkeypatch.setattr(inspection, "CHILD_TARGET", _segfaulting_probe)
    with open(clip, "rb") as f:
        r = client.post("/enhance", data={"model": "bicubic", "file": (f, "hostile.mp4")})
    assert r.status_code == 422, r.get_json()
    assert "SIGSEGV" in r.get_json()["detail"]
    assert _nothing_kept(tmp_path) and client.get("/jobs").get_json()["total"] == 0
    monkeypatch.undo()
    with open(clip, "rb") as f:
        assert client.post("/enhance", data={"model": "bicubic", "file": (f, "clip.mp4")}).status_code == 202


def test_a_probe_that_hangs_is_refused(client, tmp_path, clip, monkeypatch):
    monkeypatch.setattr(inspection, "CHILD_TARGET", _hanging_probe)
    monkeypatch.setattr(inspection, "TIMEOUT_SECONDS", 0.5)
    with open(clip, "rb") as f:
        r = client.post("/enhance", data={"model": "bicubic", "file": (f, "slow.mp4")})
    assert r.status_code == 422 and "took longer" in r.get_json()["detail"]
    assert _nothing_kept(tmp_path)


def test_the_probe_child_answers_with_the_same_errors_as_a_local_probe(client, tmp_path, clip):
    """An error crosses the process boundary with its class and its field: worded for an HTTP client."""
    not_video = tmp_path / "notes.txt"
    not_video.write_text("hello " * 100)
    with open(not_video, "rb") as f:
        r = client.post("/enhance", data={"model": "bicubic", "file": (f, "notes.txt")})
    assert r.status_code == 422 and r.get_json()["type"] == "/problems/invalid-video"
    with open(clip, "rb") as f:  # 64x48 at x0.5: too small for x265, found only once the file is probed
        r = client.post(
            "/enhance", data={"model": "bicubic", "outscale": "0.5", "codec": "h265", "file": (f, "c.mp4")}
        )
    assert r.status_code == 400 and "form field codec" in r.get_json()["detail"]


def test_the_pipeline_package_exports_functions_not_submodules():
    """``app.pipeline`` exports lazily; a submodule named like an export would hide it once imported."""
    import importlib
    import pkgutil
    import types

    import app.pipeline as pipeline

    for info in pkgutil.iter_modules(pipeline.__path__):
        if info.name != "inspect":  # a program (python -m), not a library module
            importlib.import_module(f"app.pipeline.{info.name}")
    for name in pipeline.__all__:
        exported = getattr(pipeline, name)
        assert not isinstance(exported, types.ModuleType), name
