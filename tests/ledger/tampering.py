"""Helpers for tamper tests: remove the append-only triggers, run the real CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from custodyd.daemon.cli import main

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


def custodyd_here(*args: str) -> subprocess.CompletedProcess[str]:
    """The same CLI entry point (``main()``: parsing, exit codes) run in this process.

    Starting the real program costs seconds on a busy 2-core CI machine; the
    subprocess form is kept for the cases that matter most.
    """
    out, err = io.StringIO(), io.StringIO()
    code = 0
    argv = sys.argv
    sys.argv = ["custodyd", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return subprocess.CompletedProcess(["custodyd", *args], code, out.getvalue(), err.getvalue())


def cli_verify(*extra: str, subprocess: bool = False) -> tuple[int, dict[str, Any], str]:
    run = custodyd if subprocess else custodyd_here
    done = run("ledger", "verify", "--json", *extra)
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, done.stderr
