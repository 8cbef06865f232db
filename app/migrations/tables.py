"""Every table of the job database as the code declares it, for ``alembic revision --autogenerate`` and the
test that the migrations and the code agree (a module of its own: the job store runs the migrations
without importing the HTTP and webhook layers that own some of these tables)."""

from __future__ import annotations


def all_tables() -> list:
    """Every table of the job database as the code uses it (the MetaData of each module that owns tables)."""
    from app.http.sqllimits import metadata as rate_limit_tables
    from app.jobs.models import Base as job_tables
    from app.webhooks.store import WebhookBase as webhook_tables

    return [job_tables.metadata, webhook_tables.metadata, rate_limit_tables]
