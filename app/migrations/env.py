"""Alembic's environment: migrate the connection ``upgrade_database`` hands over (or ``sqlalchemy.url``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from app.migrations.tables import all_tables


def _run(connection) -> None:
    """Run the pending migrations on ``connection`` (batch mode: SQLite's ALTER TABLE is limited)."""
    context.configure(connection=connection, target_metadata=all_tables(), render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic command line, with -x or sqlalchemy.url set
    with create_engine(context.config.get_main_option("sqlalchemy.url")).connect() as conn:
        _run(conn)
