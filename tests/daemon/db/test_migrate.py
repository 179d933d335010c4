"""The cheap "schema is current" check agrees with Alembic and never skips needed work."""

from __future__ import annotations

import importlib

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from custodyd.daemon.context import AppContext
from custodyd.daemon.db import make_engine, migrate
from custodyd.daemon.db.migrate import alembic_config, database_revisions, script_heads

# ``custodyd.daemon.db.migrate`` the attribute is the function; this is the module.
migrate_module = importlib.import_module("custodyd.daemon.db.migrate")


def test_script_heads_are_what_alembic_records(ctx: AppContext) -> None:
    """``ctx`` was migrated by Alembic itself (a new database is never skipped)."""
    assert script_heads() == database_revisions(ctx.engine)
    every_head = set(ScriptDirectory.from_config(alembic_config(ctx.engine)).get_heads())
    assert script_heads() <= every_head  # (Alembic also lists revisions others depend on)


def test_alembic_runs_only_when_the_database_is_behind(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(command, "upgrade", lambda cfg, target: calls.append(target))
    migrate(ctx.engine)
    assert calls == []  # current: Alembic is not even imported by the CLI
    current = script_heads()
    assert current is not None
    monkeypatch.setattr(migrate_module, "script_heads", lambda: current | {"9999_new"})
    migrate(ctx.engine)
    assert calls == ["heads"]
    monkeypatch.setattr(migrate_module, "script_heads", lambda: None)  # unreadable scripts
    migrate(ctx.engine)
    assert calls == ["heads", "heads"]


def test_a_new_database_is_created(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/new.db")
    assert database_revisions(engine) is None
    migrate(engine)
    assert database_revisions(engine) == script_heads()
    engine.dispose()
