"""Crash safety: kill -9 the whole server mid-job; after a restart the job finishes once, with every frame."""

from __future__ import annotations

import requests

from tests.media import make_video, read_video
from tests.server import Server, wait_until


def test_kill_9_mid_job_then_restart(tmp_path):
    data = tmp_path / "data"
    clip = make_video(tmp_path / "clip.mp4", width=160, height=120, frames=64)
    server = Server(data, workers=2).start()
    try:
        job = server.submit(clip, model="realesr-animevideov3").json()
        wait_until(lambda: server.job(job["id"])["progress"]["frames_done"] >= 8, 120, what="progress")
        # never a half-written result while it runs
        assert requests.get(f"{server.url}/jobs/{job['id']}/result", timeout=10).status_code == 409
        first_worker = server.job(job["id"])["worker"]
    finally:
        server.kill()
    leftovers = list((data / "results" / job["id"]).glob(".*part*"))
    assert leftovers, "the killed attempt was writing to a temporary file"

    restarted = Server(data, workers=2)
    restarted.port = server.port
    restarted.url = server.url
    restarted.start()
    try:
        done = restarted.wait_status(job["id"], ("succeeded", "failed"), 240)
        assert done["status"] == "succeeded", done["error"]
        assert done["attempts"] == 2  # run again once: not lost, not run twice more
        assert done["worker"] != first_worker
        assert done["progress"]["frames_done"] == 64
        out = tmp_path / "out.mp4"
        out.write_bytes(requests.get(restarted.url + done["result_url"], timeout=30).content)
        info = read_video(out)
        assert info["frames"] == 64 and (info["width"], info["height"]) == (640, 480)
        assert info["audio"] == ["aac"]
        assert not list((data / "results" / job["id"]).glob(".*part*"))
        jobs = requests.get(restarted.url + "/jobs", timeout=10).json()
        assert jobs["total"] == 1
    finally:
        restarted.stop()
