"""Baseline: the job database as the release before migrations made it.

Creates each table only where it is missing, so a database made by that release (which created its tables
lazily, by ``create_all``) is adopted with its rows, and a new database gets everything.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> dict[str, tuple]:
    """Each table's columns and constraints, frozen as they were (never import the live models here)."""
    return {
        "jobs": (
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("owner", sa.String(64), index=True),
            sa.Column("status", sa.String(16), nullable=False, index=True),
            sa.Column("model", sa.String(512), nullable=False),
            sa.Column("options", sa.JSON, nullable=False),
            sa.Column("input_name", sa.String(255), nullable=False),
            sa.Column("input_path", sa.Text),
            sa.Column("result_path", sa.Text),
            sa.Column("media", sa.JSON, nullable=False),
            sa.Column("frames_done", sa.Integer, nullable=False),
            sa.Column("frames_total", sa.Integer),
            sa.Column("fps", sa.Double),
            sa.Column("eta_seconds", sa.Double),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
            sa.Column("started_at", sa.DateTime(timezone=True)),
            sa.Column("finished_at", sa.DateTime(timezone=True)),
            sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
            sa.Column("error", sa.JSON),
            sa.Column("worker", sa.String(255)),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("claim", sa.String(32)),
            sa.Column("webhook_url", sa.Text),
            sa.Column("files_removed", sa.Boolean, nullable=False),
            sa.Column("segment_count", sa.Integer),
        ),
        "segments": (
            sa.Column("job_id", sa.String(32), primary_key=True),
            sa.Column("index", sa.Integer, primary_key=True),
            sa.Column("start_pts", sa.BigInteger, nullable=False),
            sa.Column("end_pts", sa.BigInteger),
            sa.Column("frames_total", sa.Integer, nullable=False),
            sa.Column("frames_done", sa.Integer, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("claim", sa.String(32)),
            sa.Column("worker", sa.String(255)),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
            sa.Column("path", sa.Text),
        ),
        "workers": (
            sa.Column("name", sa.String(255), primary_key=True),
            sa.Column("queue", sa.String(16), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        ),
        "webhook_deliveries": (
            sa.Column("job_id", sa.String(32), primary_key=True),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("lease_until", sa.Float, nullable=False),
            sa.Column("last_error", sa.Text),
        ),
        "rate_limits": (
            sa.Column("key", sa.String(255), primary_key=True),
            sa.Column("count", sa.Integer, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False, index=True),
        ),
        "rate_limit_hits": (
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("key", sa.String(255), nullable=False),
            sa.Column("at", sa.Float, nullable=False),
            sa.Index("ix_rate_limit_hits_key_at", "key", "at"),
        ),
    }


def upgrade() -> None:
    """Create the tables that are missing (all of them on a new database)."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns in _tables().items():
        if name not in existing:
            op.create_table(name, *columns)


def downgrade() -> None:
    """Drop every table (the whole job database)."""
    for name in reversed(list(_tables())):
        op.drop_table(name)
