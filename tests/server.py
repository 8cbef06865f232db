"""A real gunicorn process serving the app, for tests that talk HTTP to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import REPO, SHARED_WEIGHTS


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Server:
    """gunicorn wsgi:app in its own process group, with its own data folder."""

    def __init__(self, data_dir: Path, workers: int = 1, env: dict | None = None):
        self.data_dir = data_dir
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "ENHANCE_DATA_DIR": str(data_dir),
            "ENHANCE_WEIGHTS_PATH": str(SHARED_WEIGHTS),
            "ENHANCE_DEVICE": "cpu",
            "ENHANCE_HEARTBEAT_SECONDS": "0.5",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "server.log"

    def start(self) -> Server:
        """Start gunicorn and wait until /healthz answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")  # noqa: SIM115 - owned by the child process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "wsgi:app",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "120",
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._healthy, 60, 0.1, "gunicorn to answer /healthz")
        return self

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.log.read_text()[-3000:]}")
        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # still booting (importing torch)
            return False

    def kill(self) -> None:
        """kill -9 the whole server: master and workers."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then make sure nothing is left."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    # -- API helpers -----------------------------------------------------------------------------
    def submit(self, path: Path, **fields) -> requests.Response:
        """POST /enhance with a file and form fields."""
        with open(path, "rb") as f:
            return requests.post(
                self.url + "/enhance",
                files={"file": (path.name, f)},
                data={k: str(v) for k, v in fields.items()},
                timeout=60,
            )

    def job(self, job_id: str) -> dict:
        """GET /jobs/<id> as JSON."""
        return requests.get(f"{self.url}/jobs/{job_id}", timeout=10).json()

    def wait_status(self, job_id: str, statuses: tuple[str, ...], timeout: float = 120) -> dict:
        """Poll a job until its status is one of ``statuses``."""

        def reached():
            doc = self.job(job_id)
            return doc if doc["status"] in statuses else None

        return wait_until(reached, timeout, 0.1, f"job {job_id} to reach {statuses}")
