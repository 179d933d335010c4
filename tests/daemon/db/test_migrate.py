"""The cheap "schema is current" check agrees with Alembic and never skips needed work."""

from __future__ import annotations

import importlib

import pytest
import sqlalchemy as sa
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


def test_failed_and_cancelled_acquisitions_become_incomplete(ctx: AppContext) -> None:
    """0002_core: one state word for every acquisition that ended without a sealed item."""
    with ctx.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO cases (ref, title, status, created_at) "
                             "VALUES ('C', '', 'open', CURRENT_TIMESTAMP)"))  # fmt: skip
        case_id = conn.execute(sa.text("SELECT id FROM cases WHERE ref = 'C'")).scalar_one()
        for n, state in enumerate(("failed", "cancelled", "done")):
            conn.execute(
                sa.text(
                    "INSERT INTO evidence (id, case_id, status, source_path, bytes, directory, "
                    "image_path, created_at) VALUES (:id, :case, 'incomplete', '/s', 0, '/d', "
                    "'/d/i', CURRENT_TIMESTAMP)"
                ),
                {"id": f"EV{n}", "case": case_id},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO acquisitions (evidence_id, state, bytes_done, bytes_total, "
                    "read_errors, started_at) VALUES (:id, :state, 0, 0, 0, CURRENT_TIMESTAMP)"
                ),
                {"id": f"EV{n}", "state": state},
            )
        # As a database from before 0002_core: 0001_core is implied by its dependants.
        conn.execute(sa.text("DELETE FROM alembic_version WHERE version_num = '0002_core'"))
    migrate(ctx.engine)
    with ctx.engine.connect() as conn:
        states = conn.execute(sa.text("SELECT state FROM acquisitions ORDER BY evidence_id"))
        assert [s for (s,) in states] == ["incomplete", "incomplete", "done"]
