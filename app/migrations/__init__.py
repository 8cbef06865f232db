"""The job database's schema, managed by Alembic: every table comes from a migration, applied once, up front.

``upgrade_database`` runs before any process serves or works (gunicorn's master in ``gunicorn.conf.py``,
``flask worker``, ``flask db upgrade``, and every ``Service`` as a safety net). It is cheap when the database
is already at the head revision (one SELECT), and serialised when it is not: a file lock beside a SQLite
database, an advisory lock on PostgreSQL, so processes that start together never race to create tables
(they did before, when each store created its own tables lazily at first use).

Databases made by the release before migrations (tables, no ``alembic_version``) are adopted by the
baseline revision, which creates only the tables that are missing and keeps every row.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.config import ConfigError

HERE = Path(__file__).parent
#: the key of the PostgreSQL advisory lock held while migrating (any constant bigint unique to this app)
PG_LOCK_KEY = 7_305_482_117


class SchemaTooNew(ConfigError):
    """The database was migrated by a newer release than this one: refuse to start rather than guess."""


def alembic_config() -> Config:
    """Alembic's configuration, pointing at this package (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


def head_revision() -> str:
    """The newest revision this release knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated, e.g. new or made by the previous release)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_database(engine: Engine) -> str:
    """Bring the database to the head revision (a no-op when it is there); returns the head."""
    head = head_revision()
    if current_revision(engine) == head:
        return head
    with _migration_lock(engine):
        found = current_revision(engine)  # another process may have done it while this one waited
        if found != head:
            if found is not None and not _known(found):
                raise SchemaTooNew(
                    f"the job database is at schema revision {found}, which this release does not know "
                    f"(its newest is {head}): it was upgraded by a newer release; run that release"
                )
            with engine.begin() as conn:
                config = alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
    return head


def _known(revision: str) -> bool:
    """Whether this release's migrations contain ``revision``."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
        return False


@contextmanager
def _migration_lock(engine: Engine):
    """Hold the lock that lets one process at a time migrate this database."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        # SQLite has no advisory lock; a lock file beside the database serialises the processes of a machine,
        # which are the only ones that can share a SQLite file
        with FileLock(f"{engine.url.database}.migrate.lock", timeout=120):
            yield
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
                conn.commit()
    else:
        yield  # an in-memory database belongs to one process
