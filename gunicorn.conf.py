"""gunicorn settings read from the working directory (``./run.sh``, the Dockerfile and the tests run there).

The hook migrates the job database once, in the master, before any worker process is forked: workers then
find the schema ready and never create tables themselves.
"""


def on_starting(server) -> None:
    """Bring the job database to this release's schema before serving (exit with the reason if impossible)."""
    import sys

    from app.config import ConfigError, Settings
    from app.jobs.store import make_engine
    from app.migrations import upgrade_database

    try:
        settings = Settings.from_env()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        head = upgrade_database(make_engine(settings.sqlalchemy_url))
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")
    server.log.info("job database at schema revision %s", head)
