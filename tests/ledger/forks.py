"""Helpers for the trust-boundary tests: copy a ledger database aside and restore it."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url


def snapshot(db_url: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Take a copy of the database now; the returned function 'restores' it.

    SQLite: an online backup (sqlite3 backup API) copied back over the file. PostgreSQL:
    a copy made with CREATE DATABASE ... TEMPLATE, and the environment pointed at it
    (what restoring a dump into the appliance's database amounts to).
    """
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        copy = tmp / "backup.db"
        with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)

        def restore_sqlite() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            shutil.copy(copy, path)

        return restore_sqlite
    name = str(url.database)
    backup = f"{name}_backup"
    dsn = f"host={url.host} port={url.port} user={url.username} dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'CREATE DATABASE "{backup}" TEMPLATE "{name}"')
    restored = url.set(database=backup).render_as_string(hide_password=False)

    def restore_pg() -> None:
        monkeypatch.setenv("CUSTODYD_DATABASE_URL", restored)

    return restore_pg
