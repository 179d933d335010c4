"""Engine creation. SQLite is the embedded default; PostgreSQL the scale-out engine.

SQLite runs in WAL mode with ``synchronous=FULL`` so a ledger append that has
returned survives power loss, ``foreign_keys=ON`` and a generous busy timeout so
several processes (daemon, CLI) can share one file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import create_engine

SQLITE_BUSY_TIMEOUT_MS = 60_000


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def session_factory(engine: Engine) -> Callable[[], Session]:
    """Sessions that keep loaded objects usable after commit (services return them)."""
    from sqlmodel import Session as SQLModelSession

    return sessionmaker(bind=engine, class_=SQLModelSession, expire_on_commit=False)
