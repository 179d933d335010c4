"""Helpers for tamper tests: remove the append-only triggers, run the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

TABLES = ("ledger_entries", "ledger_nodes", "ledger_checkpoints")


def drop_triggers(engine: Engine) -> None:
    """What an administrator with database access could do first."""
    with engine.begin() as conn:
        for table in TABLES:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP TRIGGER {table}_no_change ON {table}"))
                conn.execute(sa.text(f"DROP TRIGGER {table}_no_truncate ON {table}"))
            else:
                conn.execute(sa.text(f"DROP TRIGGER {table}_no_update"))
                conn.execute(sa.text(f"DROP TRIGGER {table}_no_delete"))


def execute(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def custodyd(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``custodyd`` CLI in a subprocess (environment from the fixtures)."""
    exe = Path(sys.executable).with_name("custodyd")
    cmd = (
        [str(exe)]
        if exe.exists()
        else [sys.executable, "-c", "from custodyd.daemon.cli import main; main()"]
    )
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=dict(os.environ), timeout=120
    )


def cli_verify(*extra: str) -> tuple[int, dict[str, Any], str]:
    done = custodyd("ledger", "verify", "--json", *extra)
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, done.stderr
