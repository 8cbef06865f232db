"""``flask db upgrade`` / ``flask db current``: the job database's schema revision (Alembic)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.jobs.store import make_engine
from app.migrations import current_revision, head_revision, upgrade_database


def _engine():
    """An engine on the configured job database (its folder created for SQLite)."""
    settings = current_app.extensions["enhance"].settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.sqlalchemy_url)


@click.group("db")
def db_group() -> None:
    """The job database's schema (migrations run by the server and workers at start-up, too)."""


@db_group.command("upgrade")
@with_appcontext
def upgrade_command() -> None:
    """Apply every pending migration (safe while other processes start: one migrates, the rest wait)."""
    engine = _engine()
    before = current_revision(engine)
    head = upgrade_database(engine)
    click.echo(f"job database at revision {head}" + ("" if before == head else f" (was {before or 'none'})"))


@db_group.command("current")
@with_appcontext
def current_command() -> None:
    """Print the database's revision and this release's newest one."""
    found = current_revision(_engine())
    click.echo(f"database: {found or 'none (not migrated yet)'}; this release: {head_revision()}")
