"""Scale-out with real servers: redis-server, PostgreSQL, two `flask worker` processes and the API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import requests

from tests.conftest import REPO, SHARED_WEIGHTS, needs_shared
from tests.media import make_video, read_video
from tests.server import Server, wait_until
from tests.services import Postgres, Redis, require_servers


@pytest.fixture(scope="module")
def backends():
    require_servers()
    redis_server, postgres = Redis(), Postgres()
    yield redis_server, postgres
    redis_server.stop()
    postgres.stop()


class Cluster:
    """The API (gunicorn, ENHANCE_QUEUE=celery) and N `flask worker` processes sharing a data folder."""

    def __init__(self, tmp_path, backends, workers: int = 2, env: dict | None = None):
        redis_server, postgres = backends
        # every test gets its own database schema state: drop the tables first
        self.env = {
            "ENHANCE_QUEUE": "celery",
            "ENHANCE_BROKER_URL": redis_server.url.rsplit("/", 1)[0] + f"/{_next_db()}",
            "ENHANCE_DATABASE_URL": postgres.url,
            "ENHANCE_STALE_SECONDS": "5",
            **(env or {}),
        }
        _reset_database(postgres.url)
        self.data = tmp_path / "data"
        self.api = Server(self.data, workers=2, env=self.env, job_workers=0).start()  # workers below
        self.workers = [self._start_worker(i) for i in range(workers)]
        wait_until(lambda: len(self.api_get("/readyz")["workers"]) >= workers, 60, 0.2, "workers to beat")

    def _start_worker(self, i: int) -> subprocess.Popen:
        log = open(self.data / f"worker{i}.log", "ab")  # noqa: SIM115 - owned by the child
        env = {**os.environ, **self.api.env, **self.env, "ENHANCE_WEIGHTS_PATH": str(SHARED_WEIGHTS)}
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "worker", "--concurrency", "1"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def api_get(self, path: str) -> dict:
        return requests.get(self.api.url + path, timeout=10).json()

    def names(self) -> set[str]:
        return {f"{p.pid}" for p in self.workers}

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.api.stop()


_db = iter(range(1, 16))


def _next_db() -> int:
    """A fresh Redis database number per cluster, so no message of a previous test is seen."""
    return next(_db)


def _reset_database(url: str) -> None:
    """Drop every table, the migrations' own included: the next server starts on an empty database."""
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    engine.dispose()


def worker_pid(doc: dict) -> str:
    return doc["worker"].rpartition(":")[2]


def test_four_jobs_on_two_workers(tmp_path, backends):
    cluster = Cluster(tmp_path, backends)
    try:
        clip = make_video(tmp_path / "clip.mp4", width=64, height=48, frames=8)
        ids = [cluster.api.submit(clip, model="realesr-animevideov3").json()["id"] for _ in range(4)]
        docs = [cluster.api.wait_status(i, ("succeeded", "failed"), 180) for i in ids]
        assert [d["status"] for d in docs] == ["succeeded"] * 4, [d["error"] for d in docs]
        assert {worker_pid(d) for d in docs} <= cluster.names()
        assert all(d["attempts"] == 1 and d["progress"]["frames_done"] == 8 for d in docs)
        ready = cluster.api_get("/readyz")
        assert ready["queue"] == "ok" and ready["database"] == "ok"
        assert (
            'enhance_jobs{status="succeeded"} 4.0'
            in requests.get(cluster.api.url + "/metrics", timeout=10).text
        )
    finally:
        cluster.stop()


def test_kill_9_worker_mid_job_finishes_on_the_other(tmp_path, backends):
    cluster = Cluster(tmp_path, backends)
    try:
        clip = make_video(tmp_path / "long.mp4", width=160, height=120, frames=96)
        job = cluster.api.submit(clip, model="realesr-animevideov3").json()
        wait_until(lambda: cluster.api.job(job["id"])["progress"]["frames_done"] >= 8, 120, what="progress")
        victim = worker_pid(cluster.api.job(job["id"]))
        proc = next(p for p in cluster.workers if str(p.pid) == victim)
        os.killpg(proc.pid, signal.SIGKILL)
        done = cluster.api.wait_status(job["id"], ("succeeded", "failed"), 240)
        assert done["status"] == "succeeded", done["error"]
        assert worker_pid(done) != victim and done["attempts"] == 2
        out = tmp_path / "out.mp4"
        out.write_bytes(requests.get(cluster.api.url + done["result_url"], timeout=30).content)
        info = read_video(out)
        assert info["frames"] == 96 and info["audio"] == ["aac"]
        assert len(list((cluster.data / "results" / job["id"]).iterdir())) == 1  # one result, no leftovers
    finally:
        cluster.stop()


def test_long_clip_split_across_workers_equals_unsplit_run(tmp_path, backends):
    from app.pipeline import EnhanceOptions, enhance_file

    clip = make_video(tmp_path / "long.mp4", width=64, height=48, frames=960, fps=24, gop=48)
    whole = tmp_path / "whole.mp4"
    enhance_file(clip, whole, EnhanceOptions(model="lut3d"))
    cluster = Cluster(tmp_path, backends, env={"ENHANCE_SEGMENT_FRAMES": "240"})
    try:
        job = cluster.api.submit(clip, model="lut3d").json()
        done = cluster.api.wait_status(job["id"], ("succeeded", "failed"), 300)
        assert done["status"] == "succeeded", done["error"]
        assert done["progress"]["frames_done"] == 960
        split = tmp_path / "split.mp4"
        split.write_bytes(requests.get(cluster.api.url + done["result_url"], timeout=30).content)
        a, b = read_video(split), read_video(whole)
        assert a["frames"] == b["frames"] == 960
        assert a["times"] == b["times"]  # every timestamp, so the last one too: no frame dropped or doubled
        assert a["audio_seconds"] == pytest.approx(b["audio_seconds"], abs=1e-6)
        from sqlalchemy import create_engine, text

        engine = create_engine(backends[1].url)
        with engine.connect() as conn:
            rows = conn.execute(text("select worker from segments where job_id = :j"), {"j": job["id"]}).all()
        engine.dispose()
        assert len(rows) >= 4
        assert len({r[0] for r in rows}) == 2  # the segments ran on both workers
    finally:
        cluster.stop()


@needs_shared("weights/temporalfix/temporalfix_s2_v1.pth")
def test_split_job_with_a_temporal_stage_equals_unsplit_run(tmp_path, backends):
    """Issue 12: segments of 8 frames (three per job, a scene cut at the second one's first frame) read the
    neighbours their temporal stage needs. temporalfix (a fixed 7-frame window) gives the unsplit run's
    frames exactly; stabilize (recursive, warmed up on ENHANCE_SEGMENT_WARMUP frames) every frame >= 45 dB
    from them (today identical too)."""
    from app.pipeline import EnhanceOptions, enhance_file
    from tests.test_temporal import _psnr
    from tests.test_temporal_split import decode, scene_clip

    clip = tmp_path / "scenes.mkv"
    scene_clip(clip, frames=24, cuts=(8,))
    models = ("bicubic+temporalfix", "bicubic+stabilize")
    wholes = {}
    for model in models:
        wholes[model] = tmp_path / f"whole-{model}.mkv"
        options = EnhanceOptions(model=model, codec="ffv1", model_options={"bicubic.scale": 2})
        enhance_file(clip, wholes[model], options)
    cluster = Cluster(tmp_path, backends, env={"ENHANCE_SEGMENT_FRAMES": "8"})
    try:
        ids = {
            m: cluster.api.submit(clip, model=m, codec="ffv1", **{"bicubic.scale": 2}).json()["id"]
            for m in models
        }
        for model, job_id in ids.items():
            done = cluster.api.wait_status(job_id, ("succeeded", "failed"), 300)
            assert done["status"] == "succeeded", done["error"]
            split = tmp_path / f"split-{model}.mkv"
            split.write_bytes(requests.get(cluster.api.url + done["result_url"], timeout=30).content)
            whole, joined = decode(wholes[model]), decode(split)
            assert len(joined) == len(whole) == 24
            for t, (a, b) in enumerate(zip(whole, joined, strict=True)):
                if model.endswith("temporalfix"):
                    assert np.array_equal(a, b), f"{model} frame {t}: {_psnr(a, b):.1f} dB"
                else:
                    assert _psnr(a, b) >= 45, f"{model} frame {t}: {_psnr(a, b):.1f} dB"
        from sqlalchemy import create_engine, text

        engine = create_engine(backends[1].url)
        with engine.connect() as conn:
            counts = conn.execute(text("select job_id, count(*) from segments group by job_id")).all()
        engine.dispose()
        assert sorted(n for _, n in counts) == [3, 3]  # both jobs really were split
    finally:
        cluster.stop()
