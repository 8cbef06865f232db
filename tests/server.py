"""The real server of one machine, as ``./run.sh`` runs it: supervisord, gunicorn and worker processes."""

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


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (supervisord puts each child in its own process group, so a group kill
    would miss them), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Server:
    """``python -m app.supervise`` (what ``./run.sh`` runs): gunicorn with ``workers`` HTTP processes and
    ``job_workers`` ``flask worker`` processes under supervisord, with its own data folder."""

    def __init__(self, data_dir: Path, workers: int = 1, env: dict | None = None, job_workers: int = 1):
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
            "ENHANCE_WORKERS": str(job_workers),
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "server.log"

    def start(self) -> Server:
        """Start everything and wait until /healthz answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")  # noqa: SIM115 - owned by the child process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.supervise"],
            cwd=REPO,
            env={
                **self.env,
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "WEB_CONCURRENCY": str(self.workers),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._healthy, 60, 0.1, "gunicorn to answer /healthz")
        return self

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited: {self.log.read_text()[-3000:]}")
        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # still booting
            return False

    def worker_pids(self) -> list[int]:
        """The pids of the ``flask worker`` processes now running."""
        return [
            pid
            for pid, args in self._children()
            if b"worker" in args and any(a.endswith(b"/flask") for a in args)
        ]

    def gunicorn_pids(self) -> list[int]:
        """The pids of the gunicorn processes (master and HTTP workers) now running."""
        return [pid for pid, args in self._children() if any(b"gunicorn" in a for a in args)]

    def _children(self) -> list[tuple[int, list[bytes]]]:
        """(pid, command line) of every process below the supervisor."""
        found = []
        for pid in descendants(self.proc.pid):
            try:
                found.append((pid, Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")))
            except OSError:  # it ended meanwhile
                continue
        return found

    def kill(self) -> None:
        """kill -9 everything at once, as a power loss would: supervisord, gunicorn and the workers."""
        if self.proc and self.proc.poll() is None:
            pids = [self.proc.pid, *descendants(self.proc.pid)]
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop gracefully (supervisord stops its programs on SIGTERM), then make sure nothing is left."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(45)
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
