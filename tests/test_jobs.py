"""Job store, queue janitor and configuration, without HTTP."""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import timedelta

import pytest
import torch

from app.config import ConfigError, Settings
from app.jobs.models import Job, utcnow
from app.jobs.runner import is_dead, prepare_worker, run_claimed_job, worker_name
from app.jobs.store import JobStore
from app.queue.local import LocalQueue
from app.storage import Storage
from tests.media import make_video


@pytest.fixture
def store(tmp_path):
    s = JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    s.upgrade_schema()
    return s


def add(store, job_id="j1", **kw):
    return store.add(Job(id=job_id, model="bicubic", options=kw.pop("options", {}), **kw))


def test_claim_is_exclusive_across_threads(store):
    for i in range(20):
        add(store, f"job{i:02d}")
    won, lock = [], threading.Lock()

    def grab():
        while (claimed := store.claim_next(f"w{threading.get_ident()}")) is not None:
            with lock:
                won.append(claimed[0])

    threads = [threading.Thread(target=grab) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [f"job{i:02d}" for i in range(20)]  # each exactly once


def test_stale_job_is_requeued_then_failed_after_max_attempts(store):
    add(store)
    for attempt in (1, 2):
        job_id, claim = store.claim_next("otherhost:1")
        assert store.recover_stale(30, 2, is_dead=lambda w: False) == []  # alive and recent: left alone
        with store.Session.begin() as s:  # silence for longer than the stale limit
            s.get(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=60)
        assert store.recover_stale(30, 2, is_dead=lambda w: False) == [job_id]
        assert store.heartbeat(job_id, claim) is False  # the old attempt learns it lost the job
        expected = "queued" if attempt == 1 else "failed"
        assert store.get(job_id).status == expected
    assert store.get("j1").error["type"] == "worker-lost"


def test_dead_local_worker_is_detected_by_pid():
    assert not is_dead(worker_name())
    host = worker_name().rpartition(":")[0]
    assert is_dead(f"{host}:999999999")
    assert not is_dead("some-other-host:1")  # only its heartbeat can tell


def test_cancel_reaches_a_running_job(store, tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=40, audio=None)
    storage = Storage(tmp_path / "data")
    storage.ensure()
    add(store, input_path=str(src), options={"model": "bicubic", "batch": 1, "container": "mp4"})
    job_id, claim = store.claim_next("me:1")
    original = store.progress

    def cancel_on_first_progress(*args, **kw):
        store.cancel(job_id)
        return original(*args, **kw)

    store.progress = cancel_on_first_progress
    assert run_claimed_job(store, storage, job_id, claim, heartbeat_seconds=0.1) == "canceled"
    assert store.get(job_id).status == "canceled"
    assert not (storage.results / job_id).exists()


def test_ttl_removes_finished_files(store, tmp_path):
    settings = Settings().with_overrides({"data_dir": tmp_path / "data", "result_ttl_hours": 1})
    storage = Storage(settings.data_dir)
    storage.ensure()
    add(store, "old", status="succeeded", finished_at=utcnow() - timedelta(hours=2))
    add(store, "new", status="succeeded", finished_at=utcnow())
    for job_id in ("old", "new"):
        storage.result_path(job_id, "mp4").write_bytes(b"x")
    LocalQueue(settings, store, storage).sweep()
    assert not (storage.results / "old").exists() and (storage.results / "new").exists()
    assert store.get("old").files_removed and not store.get("new").files_removed


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"ENHANCE_WORKERS": "many"}, "ENHANCE_WORKERS must be an integer"),
        ({"ENHANCE_QUEUE": "kafka"}, "ENHANCE_QUEUE"),
        ({"ENHANCE_QUEUE": "celery"}, "ENHANCE_BROKER_URL"),
        ({"ENHANCE_MAX_UPLOAD_MB": "0"}, "ENHANCE_MAX_UPLOAD_MB must be >= 1"),
        ({"ENHANCE_ALLOW_NONCOMMERCIAL": "maybe"}, "ENHANCE_ALLOW_NONCOMMERCIAL"),
        ({"ENHANCE_RATE_LIMIT": "lots"}, "ENHANCE_RATE_LIMIT"),
        ({"ENHANCE_DEVICE": "tpu"}, "ENHANCE_DEVICE"),
    ],
)
def test_bad_configuration_is_named(env, words):
    with pytest.raises(ConfigError, match=words):
        Settings.from_env(env)


def test_gunicorn_refuses_to_start_with_bad_configuration(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    run = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"ENHANCE_DATA_DIR": str(tmp_path), "ENHANCE_WORKERS": "many", "PATH": "/usr/bin"},
        timeout=120,
    )
    assert run.returncode != 0
    assert "configuration error: ENHANCE_WORKERS must be an integer" in run.stderr


def test_new_database_switches_to_wal_after_another_connection_lets_go(tmp_path):
    """A worker that opens the job database while another process holds its lock waits, then gets WAL.

    SQLite refuses a journal-mode switch at once ("database is locked", no busy handler) while another
    connection holds a lock: gunicorn workers booting together on a fresh data folder used to die of it.
    """
    path = tmp_path / "jobs.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE other (x)")  # a new database, still in rollback-journal mode
    holder.execute("BEGIN IMMEDIATE")  # a writer at work (another worker creating the tables)
    retrying = threading.Event()

    class RetryWatch(logging.Handler):
        def emit(self, record):
            if "retrying the switch to WAL" in record.getMessage():
                retrying.set()

    watch = RetryWatch()
    store_log = logging.getLogger("app.jobs.store")
    store_log.addHandler(watch)
    store_log.setLevel(logging.INFO)
    errors: list[BaseException] = []

    def boot():
        try:
            JobStore(f"sqlite:///{path}").upgrade_schema()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
            retrying.set()  # wake the test: the worker did not wait, it failed

    worker = threading.Thread(target=boot)
    try:
        worker.start()
        assert retrying.wait(30) and not errors, f"the second connection did not wait for the lock: {errors}"
        holder.execute("COMMIT")
        worker.join(60)
    finally:
        store_log.removeHandler(watch)
        holder.close()
    assert not worker.is_alive() and not errors, errors
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- ENHANCE_DEVICE reaches the worker, and a missing device is an error, never a silent fallback ----------
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")


def test_the_job_runs_on_the_workers_device_not_on_what_was_stored():
    from app.jobs.runner import pipeline_options

    stored = {"model": "bicubic", "device": "cuda", "container": "mp4"}  # e.g. written by an old release
    assert pipeline_options(stored, "cpu").device == "cpu"
    assert pipeline_options({"model": "bicubic"}, "cuda:1").device == "cuda:1"


@no_cuda
def test_a_job_on_a_cuda_worker_without_cuda_fails_saying_so(store, tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=4, audio=None)
    storage = Storage(tmp_path / "data")
    storage.ensure()
    add(store, input_path=str(src), options={"model": "bicubic", "container": "mp4"})
    job_id, claim = store.claim_next("me:1")
    assert run_claimed_job(store, storage, job_id, claim, 0.1, device="cuda") == "failed"
    assert "CUDA is not available" in store.get(job_id).error["detail"]
    assert not list(storage.results.rglob("*.mp4"))  # no output, not even a CPU-made one


@no_cuda
def test_workers_refuse_to_start_on_a_missing_cuda_device(tmp_path):
    from tests.test_cli_enhance import flask

    env = {"ENHANCE_DEVICE": "cuda", "ENHANCE_DATA_DIR": str(tmp_path / "data")}
    worker = flask("worker", env=env)  # exits at once instead of waiting for jobs
    assert worker.returncode == 2
    assert worker.stderr.strip().splitlines() == [
        "error: ENHANCE_DEVICE=cuda: device cuda was asked for, but CUDA is not available on this machine "
        "(torch sees no GPU)"
    ]
    settings = Settings().with_overrides({"data_dir": tmp_path, "device": "cuda", "workers": 1})
    with pytest.raises(ConfigError, match="ENHANCE_DEVICE=cuda: .*CUDA is not available"):
        prepare_worker(settings)  # what every worker process (local or Celery) runs first


def test_every_end_of_a_job_is_announced_once_from_the_store(store, tmp_path):
    """succeeded, failed, canceled, given up: the store's final transitions are the one place a job's end is
    announced (the service subscribes the webhooks); a transition that did not happen announces nothing."""
    heard = []
    store.on_end.append(lambda s, job_id: heard.append(job_id))
    for job_id in ("ok", "bad", "lost"):
        add(store, job_id)
    ok, ok_claim = store.claim_next("me:1", "ok")
    assert store.succeed(ok, ok_claim, str(tmp_path / "r.mp4"), 8)
    bad, bad_claim = store.claim_next("me:1", "bad")
    assert store.fail(bad, bad_claim, {"type": "x", "title": "x", "detail": "x"})
    assert not store.fail(bad, bad_claim, {"type": "x", "title": "x", "detail": "again"})  # no longer ours
    store.claim_next("dead-host:1", "lost")
    assert store.recover_stale(0, 1, lambda worker: True) == ["lost"]  # given up: max_attempts reached
    add(store, "queued")
    store.cancel("queued")
    store.cancel("queued")  # already ended: not announced twice
    assert heard == ["ok", "bad", "lost", "queued"]


def test_the_service_sends_webhooks_for_every_end(tmp_path):
    from app import webhooks
    from app.service import Service

    service = Service.build(Settings().with_overrides({"data_dir": tmp_path / "data"}))
    assert webhooks.notify in service.store.on_end
