"""The HTTP API against a real gunicorn process: the happy path, progress, 409, cancel, every error."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.media import make_audio_only, make_video, read_video
from tests.server import Server, wait_until

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("svc")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", width=64, height=48, frames=8)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """Long enough (on this CPU) that a job is still running while the test looks at it."""
    return make_video(
        tmp_path_factory.mktemp("long") / "long.mp4", width=160, height=120, frames=400, audio=None
    )


def assert_problem(response: requests.Response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


def test_upload_poll_download(server, clip, tmp_path):
    r = server.submit(clip, model="realesr-animevideov3")
    assert r.status_code == 202, r.text
    doc = r.json()
    assert r.headers["Location"] == f"/jobs/{doc['id']}"
    assert doc["status"] in ("queued", "running") and len(doc["id"]) >= 20
    done = server.wait_status(doc["id"], ("succeeded", "failed"))
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"]["frames_done"] == done["progress"]["frames_total"] == 8
    assert done["progress"]["fraction"] == 1.0
    assert done["worker"] and ":" in done["worker"]
    # a `flask worker` process ran it, not a gunicorn one (HTTP processes never run jobs)
    assert int(done["worker"].rsplit(":", 1)[1]) in server.worker_pids()
    result = requests.get(server.url + done["result_url"], timeout=30)
    assert result.status_code == 200
    assert "filename=clip-realesr-animevideov3.mp4" in result.headers["Content-Disposition"]
    out = tmp_path / "out.mp4"
    out.write_bytes(result.content)
    info = read_video(out)
    assert (info["frames"], info["width"], info["height"], info["audio"]) == (8, 256, 192, ["aac"])
    ranged = requests.get(server.url + done["result_url"], headers={"Range": "bytes=0-99"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == result.content[:100]


def test_409_before_done_and_cancel_running(server, long_clip):
    doc = server.submit(long_clip, model="realesr-animevideov3").json()
    running = server.wait_status(doc["id"], ("running",), 60)
    wait_until(lambda: server.job(doc["id"])["progress"]["frames_done"] > 0, 60, what="progress")
    assert_problem(requests.get(f"{server.url}/jobs/{doc['id']}/result", timeout=10), 409, "running")
    # a second job waits in the queue behind the first (one worker)
    queued = server.submit(long_clip, model="lut3d").json()
    assert server.job(queued["id"])["status"] == "queued"
    assert requests.delete(f"{server.url}/jobs/{queued['id']}", timeout=10).status_code == 204
    assert server.job(queued["id"])["status"] == "canceled"
    assert not (server.data_dir / "uploads" / queued["id"]).exists()
    # cancel the running one: it stops within a few seconds and the worker takes the next job
    assert requests.delete(f"{server.url}/jobs/{running['id']}", timeout=10).status_code == 204
    after = server.job(running["id"])
    assert after["status"] == "canceled" and after["result_url"] is None
    nxt = server.submit(long_clip, model="lut3d", frames=4).json()
    server.wait_status(nxt["id"], ("succeeded",), 15)
    frames_at_cancel = server.job(running["id"])["progress"]["frames_done"]
    assert frames_at_cancel < 400
    assert not (server.data_dir / "results" / running["id"]).exists()


def test_list_jobs_newest_first(server, clip):
    first = server.submit(clip, model="lut3d").json()
    second = server.submit(clip, model="lut3d").json()
    page = requests.get(server.url + "/jobs?limit=2", timeout=10).json()
    assert [j["id"] for j in page["jobs"]] == [second["id"], first["id"]]
    assert page["total"] >= 2 and page["limit"] == 2
    assert_problem(requests.get(server.url + "/jobs?limit=0", timeout=10), 400, "limit")


def test_http_processes_map_no_torch_pyav_or_opencv(server, clip):
    """After serving every kind of request (an upload probed included), no gunicorn process has mapped
    libtorch, FFmpeg's libraries or OpenCV: uploads are probed in a short-lived child process."""
    for path in ("/", "/models", "/openapi.json", "/docs", "/readyz", "/metrics"):
        assert requests.get(server.url + path, timeout=10).status_code == 200
    assert server.submit(clip, model="bicubic", frames="2").status_code == 202
    assert _post_bytes(server, b"junk" * 100).status_code == 422
    gunicorn = server.gunicorn_pids()
    assert gunicorn
    for pid in gunicorn:
        maps = Path(f"/proc/{pid}/maps").read_text()
        for library in ("libtorch", "libavcodec", "libavformat", "cv2"):
            assert library not in maps, f"gunicorn process {pid} maps {library}"


def test_models_and_ops_routes(server):
    models = requests.get(server.url + "/models", timeout=10).json()
    by_name = {m["name"]: m for m in models}
    assert by_name["lut3d"]["ready"] and not by_name["realesrgan-x4plus"]["ready"]
    ready = requests.get(server.url + "/readyz", timeout=10)
    assert ready.status_code == 200 and "lut3d" in ready.json()["models_ready"]
    metrics = requests.get(server.url + "/metrics", timeout=10).text
    assert 'enhance_jobs{status="succeeded"}' in metrics and "enhance_frames_processed_total" in metrics
    assert "enhance_job_duration_seconds_count" in metrics
    spec = requests.get(server.url + "/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.") and "/enhance" in spec["paths"]
    form = spec["paths"]["/enhance"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    if "$ref" in form:  # the form's schema is a component
        form = spec["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]
    assert "codec" in form["properties"]
    docs = requests.get(server.url + "/docs", timeout=10)
    assert docs.status_code == 200 and "openapi.json" in docs.text


# -- every error in CONTRACT.md ------------------------------------------------------------------
def _post_bytes(server, data: bytes, name="x.mp4", **fields):
    return requests.post(server.url + "/enhance", files={"file": (name, data)}, data=fields, timeout=30)


def test_garbage_bytes_422(server):
    assert_problem(_post_bytes(server, b"\x00\x13garbage" * 500), 422, "not a video")


def test_truncated_mp4_422(server, clip):
    assert_problem(_post_bytes(server, clip.read_bytes()[:1500]), 422)


def test_audio_only_422(server, tmp_path):
    body = assert_problem(
        _post_bytes(server, make_audio_only(tmp_path / "a.m4a").read_bytes(), "a.m4a"), 422, "no video stream"
    )
    assert body["type"].endswith("no-video-stream")


def test_no_file_400(server):
    assert_problem(requests.post(server.url + "/enhance", data={"model": "lut3d"}, timeout=10), 400, "file")


def test_unknown_model_400_names_allowed(server, clip):
    assert_problem(server.submit(clip, model="super-resolve-9000"), 400, "super-resolve-9000", "lut3d")


@pytest.mark.parametrize(
    ("field", "value", "word"),
    [
        ("outscale", "100", "outscale"),
        ("codec", "mpeg2", "codec"),
        ("crf", "-3", "crf"),
        ("frames", "zero", "frames"),
        ("colour", "red", "colour"),
        ("tile", "8", "tile"),
    ],
)
def test_bad_option_400(server, clip, field, value, word):
    assert_problem(server.submit(clip, **{field: value}), 400, word)


def test_too_large_413(tmp_path, clip):
    srv = Server(tmp_path / "small", env={"ENHANCE_MAX_UPLOAD_MB": "1"}).start()
    try:
        assert_problem(_post_bytes(srv, b"\x00" * (2 * 1024 * 1024)), 413, "ENHANCE_MAX_UPLOAD_MB")
    finally:
        srv.stop()


def test_output_over_pixel_limit_422(server, tmp_path):
    big = make_video(tmp_path / "big.mp4", width=2048, height=1088, frames=1, audio=None)
    assert_problem(server.submit(big, model="realesr-animevideov3"), 422, "form field outscale")


def test_unknown_job_404(server):
    for method in ("get", "delete"):
        assert_problem(getattr(requests, method)(server.url + "/jobs/nope", timeout=10), 404, "nope")
    assert_problem(requests.get(server.url + "/jobs/nope/result", timeout=10), 404)


def test_noncommercial_model_refused_403(server, clip):
    assert_problem(server.submit(clip, model="zero-dce"), 403, "operator has not enabled")


def test_missing_weights_503(server, clip):
    response = server.submit(clip, model="realesrgan-x4plus")
    assert_problem(response, 503, "operator has not installed it")
    detail = response.json()["detail"]  # the server's folders and commands are its operator's business
    assert "flask weights" not in detail and str(server.data_dir.parent) not in detail and "/" not in detail


def test_failed_uploads_leave_no_files(server):
    uploads = server.data_dir / "uploads"
    before = set(uploads.iterdir())
    _post_bytes(server, b"junk" * 100)
    assert set(uploads.iterdir()) == before


def test_api_keys_isolate_tenants(tmp_path, clip):
    srv = Server(tmp_path / "keys", env={"ENHANCE_API_KEYS": "key-a,key-b"}).start()
    try:
        a = {"Authorization": "Bearer key-a"}
        b = {"Authorization": "Bearer key-b"}
        assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200
        assert_problem(requests.get(srv.url + "/jobs", timeout=10), 401, "Bearer")
        assert_problem(
            requests.get(srv.url + "/jobs", headers={"Authorization": "Bearer nope"}, timeout=10), 401
        )
        with open(clip, "rb") as f:
            job = requests.post(
                srv.url + "/enhance", files={"file": f}, data={"model": "lut3d"}, headers=a, timeout=30
            ).json()
        assert requests.get(f"{srv.url}/jobs/{job['id']}", headers=a, timeout=10).status_code == 200
        assert_problem(requests.get(f"{srv.url}/jobs/{job['id']}", headers=b, timeout=10), 404)
        assert requests.get(srv.url + "/jobs", headers=b, timeout=10).json()["total"] == 0
        assert_problem(requests.delete(f"{srv.url}/jobs/{job['id']}", headers=b, timeout=10), 404)
        assert "key-a" not in srv.log.read_text()
    finally:
        srv.stop()
