"""Create a set of tables safely when several processes start on one fresh database at the same moment."""

from __future__ import annotations

import time

from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError

#: how long a process keeps retrying while others create the same tables (each try takes milliseconds)
CREATE_DEADLINE_S = 30.0


def create_tables(metadata, engine, deadline_s: float = CREATE_DEADLINE_S) -> None:
    """Create every table of ``metadata`` that is missing; returns only once all of them exist.

    ``create_all(checkfirst=True)`` checks and creates table by table, so two processes can both see a table
    missing and one of them fails with "already exists" halfway through the list. Checking only the table
    that failed is not enough (that was the race: the loser went on while a later table of the list was
    still missing), so the loser runs ``create_all`` again, which skips what exists now and creates the
    rest, until a run succeeds and every table is there.
    """
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            metadata.create_all(engine, checkfirst=True)
        except DBAPIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # another process is between two of its CREATE statements
            continue
        existing = set(inspect(engine).get_table_names())
        if all(table.name in existing for table in metadata.sorted_tables):
            return
        if time.monotonic() > deadline:
            missing = [t.name for t in metadata.sorted_tables if t.name not in existing]
            raise RuntimeError(f"tables still missing after creating them: {', '.join(missing)}")
