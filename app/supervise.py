"""``python -m app.supervise``: run the HTTP server and the worker processes of one machine, supervised.

``./run.sh`` ends here. supervisord (a well-kept process supervisor) runs gunicorn, which only answers
HTTP, and ``ENHANCE_WORKERS`` ``flask worker`` processes, which run the jobs. A worker that dies (kill -9,
a segfault in FFmpeg or torch, the OOM killer) is restarted by supervisord and its job is taken back by the
janitor of the workers (``ENHANCE_MAX_ATTEMPTS``), while gunicorn keeps answering: heavy compute and its
crashes never share a process with the API. supervisord rather than gunicorn's hooks: gunicorn's arbiter
reaps every child but restarts only its own HTTP workers, so supervising other processes from its hooks
would mean writing a supervisor by hand.

The job database is migrated here once, before any of these processes starts.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from app.config import ConfigError, Settings
from app.jobs.store import make_engine
from app.migrations import upgrade_database

REPO = Path(__file__).resolve().parent.parent
#: a worker must stay up this long to count as started (it imports torch first); quicker deaths are retried
#: a few times, then supervisord gives up on it and says so in its log (e.g. ENHANCE_DEVICE=cuda, no GPU)
WORKER_START_SECONDS = 15


def supervisord_config(settings: Settings, host: str, port: str, web_processes: str, bindir: Path) -> str:
    """The supervisord configuration: gunicorn and ``settings.workers`` worker processes, logs to stdout."""
    data = settings.data_dir
    to_stdout = "stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\nredirect_stderr=true\n"
    config = (
        "[supervisord]\n"
        f"nodaemon=true\nlogfile={data / 'supervisord.log'}\npidfile={data / 'supervisord.pid'}\n"
        f"childlogdir={data}\nloglevel=warn\n\n"
        "[program:web]\n"
        f"command={bindir / 'gunicorn'} wsgi:app --bind {host}:{port} --workers {web_processes}"
        " --worker-class gthread --threads 8 --timeout 120 --graceful-timeout 30"
        " --access-logfile - --error-logfile -\n"
        f"directory={REPO}\nautorestart=true\nstopasgroup=true\nkillasgroup=true\nstopwaitsecs=35\n"
        + to_stdout
    )
    if settings.workers > 0:
        config += (
            "\n[program:worker]\n"
            f"command={bindir / 'flask'} worker --concurrency 1\n"
            f"process_name=worker-%(process_num)d\nnumprocs={settings.workers}\n"
            f"directory={REPO}\nautorestart=true\nstartsecs={WORKER_START_SECONDS}\nstartretries=3\n"
            "stopasgroup=true\nkillasgroup=true\nstopwaitsecs=35\n" + to_stdout
        )
    return config


def main() -> None:
    """Migrate the job database, write supervisord's configuration in the data folder, become supervisord."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(make_engine(settings.sqlalchemy_url))
    bindir = Path(sys.executable).parent
    config = settings.data_dir / "supervisord.conf"
    config.write_text(
        supervisord_config(
            settings,
            os.environ.get("HOST", "127.0.0.1"),  # launcher arguments, as ./run.sh documents them
            os.environ.get("PORT", "8000"),
            os.environ.get("WEB_CONCURRENCY", "2"),
            bindir,
        )
    )
    supervisord = shutil.which("supervisord", path=str(bindir)) or "supervisord"
    os.execv(supervisord, [supervisord, "--nodaemon", "--configuration", str(config)])


if __name__ == "__main__":
    main()
