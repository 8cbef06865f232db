"""Tables created by several processes at once on a fresh database: every one of them finds every table."""

from __future__ import annotations

import threading

from sqlalchemy import inspect, text

from app.dbschema import create_tables
from app.jobs.store import make_engine
from app.sqllimits import metadata as limit_tables


def test_racing_creators_all_return_with_every_table_there(tmp_path):
    """Engines stand for processes; a barrier starts them together; each then writes to every table."""
    for attempt in range(15):  # the race needs the creators to interleave: several fresh databases
        url = f"sqlite:///{tmp_path / f'race{attempt}.sqlite3'}"
        engines = [make_engine(url) for _ in range(6)]
        barrier = threading.Barrier(len(engines))
        errors: list[BaseException] = []

        def create(engine, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                create_tables(limit_tables, engine)
                with engine.begin() as conn:  # "no such table" here was the bug
                    for table in limit_tables.sorted_tables:
                        conn.execute(text(f"SELECT count(*) FROM {table.name}"))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=create, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        names = set(inspect(engines[0]).get_table_names())
        assert {t.name for t in limit_tables.sorted_tables} <= names
        for engine in engines:
            engine.dispose()
