"""Driver-level reads for the hot paths (authentication, visibility, timelines).

An audited read must cost well under 2 ms of CPU. A statement through the ORM
(session, compiled select, result objects) costs ~0.3-0.7 ms, and even a pool
checkout through SQLAlchemy ~0.1 ms; the statements themselves take a few
microseconds. These helpers give a DBAPI cursor and the driver's placeholder
(``?`` for sqlite3, ``%s`` for psycopg), so a hot query is written once for both
engines. Only fixed SQL text with bound parameters goes through here.

SQLite: each thread keeps its own read-only connection per database file
(autocommit, ``PRAGMA query_only``), so a read is one cursor on an open
connection; in WAL mode it sees every committed write and never blocks a writer.
PostgreSQL: a pooled connection per use.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine

PER_THREAD = 8  # open read connections a thread keeps (one per database file)
BUSY_TIMEOUT_S = 60.0

_local = threading.local()


@contextmanager
def raw_cursor(engine: Engine) -> Iterator[tuple[Any, str]]:
    """``(cursor, placeholder)`` for reads; the connection stays open (SQLite) or goes
    back to the pool (PostgreSQL)."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        cursor = _sqlite_reader(str(engine.url.database)).cursor()
        try:
            yield cursor, "?"
        finally:
            cursor.close()
        return
    placeholder = "?" if engine.dialect.name == "sqlite" else "%s"
    raw = engine.raw_connection()
    try:
        pooled: Any = raw.cursor()
        try:
            yield pooled, placeholder
        finally:
            pooled.close()
    finally:
        raw.close()  # back to the pool (rolled back there)


def _sqlite_reader(path: str) -> sqlite3.Connection:
    """This thread's open connection to ``path`` (reopened if the file was replaced)."""
    readers: OrderedDict[str, tuple[sqlite3.Connection, tuple[int, int]]] | None = getattr(
        _local, "readers", None
    )
    if readers is None:
        readers = _local.readers = OrderedDict()
    st = os.stat(path)
    identity = (st.st_dev, st.st_ino)
    cached = readers.get(path)
    if cached is not None:
        if cached[1] == identity:
            readers.move_to_end(path)
            return cached[0]
        cached[0].close()  # a restored or recreated database file: never read the old one
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA query_only=ON")
    conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: the B-tree interiors stay in memory
    conn.execute("PRAGMA mmap_size=1073741824")
    readers[path] = (conn, identity)
    while len(readers) > PER_THREAD:
        _, (old, _identity) = readers.popitem(last=False)
        old.close()
    return conn
