"""Real redis-server and PostgreSQL processes for the scale-out tests (started here, stopped after)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from tests.server import free_port, wait_until


def _postgres_bin(name: str) -> str | None:
    """Path of a PostgreSQL server binary from Debian's layout (/usr/lib/postgresql/<ver>/bin)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


class Redis:
    """redis-server on a free loopback port, no persistence."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._up, 20, 0.05, "redis-server to accept connections")

    def _up(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        """Stop the server."""
        self.proc.terminate()
        self.proc.wait(10)


class Postgres:
    """A throw-away PostgreSQL cluster, run as the ``postgres`` user (it refuses to run as root)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="enhance-pg-")
        os.chmod(self.dir, 0o755)
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        data = os.path.join(self.dir, "data")
        self._as_postgres([_postgres_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"])
        self.proc = subprocess.Popen(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                _postgres_bin("postgres"),
                "-D",
                data,
                "-p",
                str(self.port),
                "-k",
                self.dir,
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._up, 30, 0.1, "PostgreSQL to accept connections")

    @staticmethod
    def _as_postgres(cmd: list[str]) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=120
        )

    def _up(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(
                f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", connect_timeout=1
            ):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """Stop the server and delete the cluster."""
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        time.sleep(0)  # the postmaster has exited; its files can go
        shutil.rmtree(self.dir, ignore_errors=True)


def require_servers() -> None:
    """Skip, naming what is missing, when redis-server or PostgreSQL (or root, to run it) is absent."""
    missing = []
    if shutil.which("redis-server") is None:
        missing.append("redis-server (apt-get install redis-server)")
    if _postgres_bin("initdb") is None:
        missing.append("PostgreSQL (apt-get install postgresql)")
    if os.geteuid() != 0:
        missing.append("root (to start PostgreSQL as its own user)")
    if missing:
        pytest.skip("scale-out tests need " + ", ".join(missing))
