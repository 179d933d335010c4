"""Ledger fixtures: every ledger test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from tests.pg import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database of this test; the environment points at it so CLI subprocesses agree."""
    if request.param == "sqlite":
        return f"sqlite:///{home / 'custodyd.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database("ledger")
    monkeypatch.setenv("CUSTODYD_DATABASE_URL", url)
    return url


@pytest.fixture
def lsettings(home: Path, db_url: str) -> Settings:
    return Settings(home=home, database_url=db_url)


@pytest.fixture
def lctx(lsettings: Settings, clock: ManualClock) -> Iterator[AppContext]:
    context = open_context(lsettings, clock=clock)
    yield context
    context.ledger.close()
    context.close()
