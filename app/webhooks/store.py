"""The ``webhook_deliveries`` table: one row per job whose webhook is being or was sent.

Inserting the row is the claim (its primary key is the job id), so exactly one thread of one process sends
a job's webhook; a lease lets another process's sweeper take over from a sender that died.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import Float, Integer, String, Text, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..jobs.models import FINISHED, Job, utcnow

SWEEP_WINDOW = timedelta(hours=1)  # ends older than this (e.g. before an upgrade) are never announced late


class WebhookBase(DeclarativeBase):
    """The delivery table lives in the job database but is this module's own."""


class Delivery(WebhookBase):
    """One job's webhook: who sends it (a lease), and how it went."""

    __tablename__ = "webhook_deliveries"

    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # sending, delivered, failed, refused
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[float] = mapped_column(Float)  # epoch seconds; a dead sender's lease runs out
    last_error: Mapped[str | None] = mapped_column(Text)


def claim(store, job_id: str, lease_seconds: float) -> bool:
    """Become the sender of a job's webhook: a new row, or a 'sending' row whose sender's lease ran out."""
    now = time.time()
    try:
        with store.Session.begin() as s:
            s.add(Delivery(job_id=job_id, state="sending", attempts=0, lease_until=now + lease_seconds))
        return True
    except IntegrityError:
        pass
    with store.Session.begin() as s:
        taken = s.execute(
            update(Delivery)
            .where(Delivery.job_id == job_id, Delivery.state == "sending", Delivery.lease_until < now)
            .values(lease_until=now + lease_seconds)
        ).rowcount
    return bool(taken)


def record(store, job_id: str, state: str, attempts: int, error: str | None = None) -> None:
    """Write how the delivery went (or how far it got)."""
    with store.Session.begin() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.job_id == job_id)
            .values(state=state, attempts=attempts, last_error=error)
        )


def delivery_state(store, job_id: str) -> Delivery | None:
    """The delivery row of a job, if any (tests and operators)."""
    with store.Session() as s:
        return s.get(Delivery, job_id)


def unannounced(store) -> list[str]:
    """Finished jobs with a webhook and no delivery yet, and deliveries whose sender's lease ran out."""
    with store.Session() as s:
        rows = s.execute(
            select(Job.id)
            .outerjoin(Delivery, Delivery.job_id == Job.id)
            .where(
                Job.webhook_url.is_not(None),
                Job.status.in_(FINISHED),
                or_(
                    and_(Delivery.job_id.is_(None), Job.finished_at >= utcnow() - SWEEP_WINDOW),
                    # a sender died mid-delivery; one whose lease ran out long ago is given up on
                    and_(
                        Delivery.state == "sending",
                        Delivery.lease_until < time.time(),
                        Delivery.lease_until > time.time() - SWEEP_WINDOW.total_seconds(),
                    ),
                ),
            )
        ).all()
    return [r[0] for r in rows]
