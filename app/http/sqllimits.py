"""A ``limits`` storage backend in the job database, so every gunicorn process (and machine) shares counters.

``limits`` ships memory, Redis, Memcached and MongoDB storages only: memory is per process (with N gunicorn
processes a key would get N times its limit) and the others are servers this service does not otherwise
need. The job database is already shared by every process, so the counters live there, in two small
tables. The service uses the moving window (exact: never more than N hits in any window of the period).
Each hit is one short transaction whose first statement is a write: SQLite takes its write lock there and
PostgreSQL locks the key's row, so concurrent hits on one key are serialised and never lost or doubled.
"""

from __future__ import annotations

import threading
import time

from limits.storage import MovingWindowSupport, Storage
from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

metadata = MetaData()
counters = Table(
    "rate_limits",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),  # epoch seconds
)
hits = Table(
    "rate_limit_hits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False),
    Column("at", Float, nullable=False),  # epoch seconds
    Index("ix_rate_limit_hits_key_at", "key", "at"),
)

PURGE_SECONDS = 60.0  # how often expired counters are deleted (by whichever process hits first)


class SqlStorage(Storage, MovingWindowSupport):
    """Fixed-window counters and moving-window hits in SQL; ``engine``: an Engine or a callable giving one."""

    STORAGE_SCHEME = ["enhance-sql"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, engine=None, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._engine_source = engine
        self._engine = None
        self._lock = threading.Lock()
        self._last_purge = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        """Errors flask-limiter treats as 'storage unavailable'."""
        return SQLAlchemyError

    @property
    def engine(self):
        """The database engine, resolved on first use (its tables come from the migrations)."""
        with self._lock:
            if self._engine is None:
                source = self._engine_source
                engine = source() if callable(source) else source
                self._engine = engine
            return self._engine

    # -- fixed window ----------------------------------------------------------------------------
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the counter (a new window starts when the old one expired); the new count."""
        return self._retrying(lambda conn: _incr(conn, key, expiry, amount, time.time()))

    def get(self, key: str) -> int:
        """The live count of ``key`` (0 when expired or absent)."""
        with self.engine.connect() as conn:
            return _count(conn, key, time.time())

    def get_expiry(self, key: str) -> float:
        """When the counter of ``key`` expires (epoch seconds)."""
        with self.engine.connect() as conn:
            value = conn.execute(select(counters.c.expires_at).where(counters.c.key == key)).scalar()
        return value if value is not None else time.time()

    def check(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        """Delete every counter."""
        with self.engine.begin() as conn:
            return conn.execute(delete(counters)).rowcount

    def clear(self, key: str) -> None:
        """Delete one counter."""
        with self.engine.begin() as conn:
            conn.execute(delete(counters).where(counters.c.key == key))

    # -- moving window: exact, "N in any 60 s" ---------------------------------------------------
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Record ``amount`` hits unless ``limit`` hits already fell in the last ``expiry`` seconds."""
        if amount > limit:
            return False
        now = time.time()

        def attempt(conn) -> bool:
            _incr(conn, f"{key}#lock", expiry, 0, now)  # the write first: serialises hits on this key
            conn.execute(delete(hits).where(hits.c.key == key, hits.c.at <= now - expiry))
            used = conn.execute(select(func.count()).select_from(hits).where(hits.c.key == key)).scalar_one()
            if used + amount > limit:
                return False
            conn.execute(insert(hits), [{"key": key, "at": now}] * amount)
            return True

        allowed = self._retrying(attempt, commit_if=bool)
        self._purge(now)
        return allowed

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(time of the oldest hit still in the window, number of hits in it)."""
        now = time.time()
        with self.engine.connect() as conn:
            oldest, count = conn.execute(
                select(func.min(hits.c.at), func.count()).where(hits.c.key == key, hits.c.at > now - expiry)
            ).one()
        return (oldest, count) if count else (now, 0)

    # -- helpers ---------------------------------------------------------------------------------
    def _retrying(self, work, commit_if=lambda result: True):
        """Run ``work(conn)`` in a transaction; commit when ``commit_if(result)``, else roll back.

        Two first hits on a new key in PostgreSQL may both insert: the loser retries and then updates.
        """
        for attempt in range(3):
            try:
                with self.engine.connect() as conn:
                    transaction = conn.begin()
                    result = work(conn)
                    if commit_if(result):
                        transaction.commit()
                    else:
                        transaction.rollback()
                    return result
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _purge(self, now: float) -> None:
        """Delete expired counters and old hits now and then, so the tables stay as small as the live keys."""
        if now - self._last_purge < PURGE_SECONDS:
            return
        self._last_purge = now
        with self.engine.begin() as conn:
            conn.execute(delete(counters).where(counters.c.expires_at < now))
            # a hit older than a day is outside any window ENHANCE_RATE_LIMIT can name
            conn.execute(delete(hits).where(hits.c.at < now - 86400))


def _incr(conn, key: str, expiry: float, amount: int, now: float) -> int:
    """Increment (or restart, when expired) the counter of ``key`` inside ``conn``'s transaction."""
    expired = counters.c.expires_at <= now
    changed = conn.execute(
        update(counters)
        .where(counters.c.key == key)
        .values(
            count=case((expired, amount), else_=counters.c.count + amount),
            expires_at=case((expired, now + expiry), else_=counters.c.expires_at),
        )
    ).rowcount
    if not changed:
        conn.execute(insert(counters).values(key=key, count=amount, expires_at=now + expiry))
    return conn.execute(select(counters.c.count).where(counters.c.key == key)).scalar_one()


def _count(conn, key: str, now: float) -> int:
    """The live count of ``key``."""
    value = conn.execute(
        select(counters.c.count).where(counters.c.key == key, counters.c.expires_at > now)
    ).scalar()
    return value or 0
