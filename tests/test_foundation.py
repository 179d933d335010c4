"""The foundation: configuration layering, migrations, error mapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import CustodydError, DispositionRefused, NotFound


def test_settings_env_overrides_toml(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home.mkdir(parents=True)
    (home / "config.toml").write_text('port = 9999\nhost = "0.0.0.0"\nalert_to = ["x@y"]\n')
    monkeypatch.setenv("CUSTODYD_PORT", "1234")
    s = Settings()
    assert s.home == home
    assert s.port == 1234
    assert s.host == "0.0.0.0"
    assert s.alert_to == ["x@y"]


def test_comma_lists_from_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTODYD_ALERT_TO", "a@example.org, b@example.org")
    assert Settings().alert_to == ["a@example.org", "b@example.org"]


def test_migrations_create_core_tables_idempotently(ctx: AppContext) -> None:
    from custodyd.daemon.db import migrate

    migrate(ctx.engine)
    tables = set(sa.inspect(ctx.engine).get_table_names())
    assert {"cases", "media", "evidence", "acquisitions"} <= tables


def test_problem_shape() -> None:
    problem = DispositionRefused("order ORD-1 is active", order="ORD-1").to_problem("/v1/x")
    assert problem["type"] == "urn:custodyd:problem:disposition-refused"
    assert problem["status"] == 409
    assert problem["order"] == "ORD-1"
    assert isinstance(NotFound("x"), CustodydError)


def test_cli_unknown_command_exits_2() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from custodyd.daemon.cli import main; main()", "nope"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "No such command" in out.stderr


def test_cli_typer_exit_code_is_kept(tmp_path: Path) -> None:
    """A command ending in ``typer.Exit(n)`` must exit n, not 0."""
    script = tmp_path / "exit7.py"
    script.write_text(
        "import typer\n"
        "from custodyd.daemon.cli import app, main\n"
        "@app.command('exit-seven')\n"
        "def _seven() -> None:\n"
        "    raise typer.Exit(7)\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, str(script), "exit-seven"], capture_output=True)
    assert out.returncode == 7
