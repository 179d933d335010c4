"""Driver-level reads for the hot paths (authentication, visibility, timelines).

An audited read must cost well under 2 ms of CPU. A statement through the ORM
(session, compiled select, result objects) costs ~0.3-0.7 ms; the same statement
on the driver's cursor ~0.05 ms. These helpers give a pooled connection's DBAPI
cursor and the driver's placeholder (``?`` for sqlite3, ``%s`` for psycopg), so a
hot query is written once for both engines. Only fixed SQL text with bound
parameters goes through here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine


@contextmanager
def raw_cursor(engine: Engine) -> Iterator[tuple[Any, str]]:
    """``(cursor, placeholder)`` on a pooled connection, returned to the pool after."""
    placeholder = "?" if engine.dialect.name == "sqlite" else "%s"
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            yield cursor, placeholder
        finally:
            cursor.close()
