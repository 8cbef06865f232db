"""Crash safety: kill -9 the whole server mid-job; after a restart the job finishes once, with every frame."""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
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


def _poll_while(server: Server, job_id: str, stop) -> list[int]:
    """GET /healthz and GET /jobs/<id> ten times a second until ``stop`` is set; every status code seen."""
    codes = []
    while not stop.is_set():
        for path in ("/healthz", f"/jobs/{job_id}"):
            try:
                codes.append(requests.get(server.url + path, timeout=2).status_code)
            except requests.RequestException as exc:  # a refused or timed-out poll is a failure too
                codes.append(repr(exc))
        stop.wait(0.1)
    return codes


@pytest.mark.parametrize("crash", ["sigkill", "segfault"])
def test_a_dying_worker_never_takes_the_api_with_it(tmp_path, crash):
    """The worker process dies mid-job (kill -9, or a real SIGSEGV through the test-only fault hook): the
    API answers every poll meanwhile, supervisord restarts the worker, and the job finishes once more."""
    env = {"ENHANCE_TEST_SEGFAULT_AFTER_FRAMES": "120"} if crash == "segfault" else {}
    clip = make_video(tmp_path / "clip.mp4", width=96, height=64, frames=960)
    server = Server(tmp_path / "data", env=env).start()
    stop = threading.Event()
    try:
        job = server.submit(clip, model="realesr-animevideov3").json()  # ~20 s a run here
        wait_until(lambda: server.job(job["id"])["progress"]["frames_done"] >= 60, 120, what="progress")
        running = server.job(job["id"])
        pid = int(running["worker"].rpartition(":")[2])
        assert pid in server.worker_pids()  # a worker process runs it, not gunicorn
        with ThreadPoolExecutor(1) as pool:
            polls = pool.submit(_poll_while, server, job["id"], stop)
            if crash == "sigkill":
                os.kill(pid, signal.SIGKILL)
            wait_until(lambda: pid not in server.worker_pids(), 60, what="the worker to die")
            done = server.wait_status(job["id"], ("succeeded", "failed"), 240)
            stop.set()
            codes = polls.result()
        assert done["status"] == "succeeded", done["error"]
        assert done["attempts"] == 2 and done["worker"] != running["worker"]
        assert done["progress"]["frames_done"] == 960
        assert len(codes) > 20 and set(codes) == {200}, [c for c in codes if c != 200][:5]
        out = tmp_path / "out.mp4"
        out.write_bytes(requests.get(server.url + done["result_url"], timeout=30).content)
        assert read_video(out)["frames"] == 960
        if crash == "segfault":
            assert "SIGSEGV" in server.log.read_text() or "signal 11" in server.log.read_text()
    finally:
        stop.set()
        server.stop()
