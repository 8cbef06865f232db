"""The job database's schema comes from Alembic migrations, applied once before a process serves or works."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from app.jobs.store import JobStore, make_engine
from app.migrations import SchemaTooNew, current_revision, head_revision, upgrade_database
from app.migrations.tables import all_tables
from tests.services import Postgres, require_servers

OLD_SCHEMA = Path(__file__).parent / "data" / "schema_before_migrations.sql"
TABLES = {"jobs", "segments", "workers", "webhook_deliveries", "rate_limits", "rate_limit_hits"}


def _race(url: str, processes: int = 6) -> list[BaseException]:
    """``processes`` engines (standing for processes) upgrade one database at the same moment."""
    engines = [make_engine(url) if url.startswith("sqlite") else create_engine(url) for _ in range(processes)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def boot(engine):
        barrier.wait()
        try:
            upgrade_database(engine)
            with engine.begin() as conn:  # "no such table" here was the old lazy-creation race
                for table in TABLES:
                    conn.execute(text(f"SELECT count(*) FROM {table}"))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=boot, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for engine in engines:
        engine.dispose()
    return errors


def test_racing_processes_on_a_new_sqlite_database_all_find_every_table(tmp_path):
    for attempt in range(8):  # several fresh databases: a race needs the starters to interleave
        url = f"sqlite:///{tmp_path / f'race{attempt}.sqlite3'}"
        assert _race(url) == []
        engine = make_engine(url)
        assert TABLES <= set(inspect(engine).get_table_names())
        assert current_revision(engine) == head_revision()


def test_database_of_the_release_before_migrations_is_upgraded_with_its_jobs(tmp_path):
    """A database made by create_all (no alembic_version), with jobs in it, as existing deployments have."""
    path = tmp_path / "jobs.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        ddl = "\n".join(line for line in OLD_SCHEMA.read_text().splitlines() if not line.startswith("--"))
        for statement in filter(str.strip, ddl.split(";")):
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql(
            "INSERT INTO jobs (id, owner, status, model, options, input_name, media, frames_done,"
            " frames_total, created_at, attempts, files_removed, result_path)"
            " VALUES ('old-job', 'key-a', 'succeeded', 'lut3d', '{\"crf\": 18}', 'clip.mp4',"
            " '{\"width\": 64}', 8, 8, '2026-11-30 10:00:00', 1, 0, '/data/results/old-job.mp4')"
        )
        conn.exec_driver_sql(
            "INSERT INTO webhook_deliveries (job_id, state, attempts, lease_until) VALUES ('old-job',"
            " 'delivered', 1, 0)"
        )
    assert current_revision(engine) is None
    store = JobStore(f"sqlite:///{path}")
    store.upgrade_schema()
    assert current_revision(store.engine) == head_revision()
    job = store.get("old-job")
    assert (job.status, job.owner, job.model, job.frames_done, job.frames_total) == (
        "succeeded",
        "key-a",
        "lut3d",
        8,
        8,
    )
    assert job.options == {"crf": 18} and job.media == {"width": 64}
    assert job.result_path == "/data/results/old-job.mp4"
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM webhook_deliveries")).scalar() == "delivered"


def test_the_migrations_make_exactly_the_tables_the_code_uses(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    upgrade_database(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), all_tables())
    assert diff == [], "a model changed without a migration: run `alembic revision --autogenerate`"


def test_a_database_from_a_newer_release_is_refused_with_a_clear_message(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    upgrade_database(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaTooNew, match="schema revision 9999, which this release does not know"):
        upgrade_database(engine)


def test_racing_processes_on_postgresql():
    require_servers()
    postgres = Postgres()
    try:
        assert _race(postgres.url) == []
        engine = create_engine(postgres.url)
        assert TABLES <= set(inspect(engine).get_table_names())
        assert current_revision(engine) == head_revision()
        engine.dispose()
    finally:
        postgres.stop()


def test_gunicorn_migrates_in_its_master_before_any_worker_serves(tmp_path):
    """``gunicorn.conf.py``'s hook runs before the fork: the log says so before the first worker boots."""
    from tests.server import Server

    server = Server(tmp_path / "data").start()
    try:
        log = server.log.read_text()
        assert "job database at schema revision " + head_revision() in log, log
        assert log.index("job database at schema revision") < log.index("Booting worker")
        engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'jobs.sqlite3'}")
        assert current_revision(engine) == head_revision()
    finally:
        server.stop()
