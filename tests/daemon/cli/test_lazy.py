"""The lazy CLI: its static table matches the real commands, and start-up stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer

from custodyd.daemon.cli.app import app, load_all
from custodyd.daemon.cli.commands import COMMANDS, Entry

# Imports a command that only prints must not pay for (each ~0.1-0.7 s of start-up).
HEAVY = ("sqlalchemy", "sqlmodel", "cryptography", "alembic", "httpx", "fastapi", "uvicorn")


def _module_of(instance: typer.Typer) -> str:
    """The cli module that defined a sub-Typer: where its first command's function lives."""
    for command in instance.registered_commands:
        if command.callback is not None:
            return str(command.callback.__module__)
    return _module_of(instance.registered_groups[0].typer_instance)  # type: ignore[arg-type]


def _registered() -> dict[str, str]:
    """Top-level command name -> the module under custodyd.daemon.cli that registered it."""
    names: dict[str, str] = {}
    for command in app.registered_commands:
        assert command.callback is not None
        name = command.name or command.callback.__name__.replace("_", "-")
        names[name] = str(command.callback.__module__)
    for group in app.registered_groups:
        assert group.typer_instance is not None
        names[str(group.name)] = _module_of(group.typer_instance)
    return {n: m.removeprefix("custodyd.daemon.cli.") for n, m in names.items()}


def test_static_table_equals_the_fully_imported_app() -> None:
    load_all()
    group = typer.main.get_command(app)
    modules = _registered()
    real = {
        name: Entry(modules[name], command.get_short_help_str(limit=10_000))
        for name, command in group.commands.items()  # type: ignore[attr-defined]
    }
    missing = {n: e for n, e in real.items() if COMMANDS.get(n) != e}
    assert not missing, (
        "custodyd/daemon/cli/commands.py does not match the commands the modules define; "
        "set these rows in COMMANDS:\n"
        + "\n".join(f"    {n!r}: Entry({e.module!r}, {e.help!r})," for n, e in missing.items())
    )
    stale = set(COMMANDS) - set(real)
    assert not stale, f"COMMANDS names commands no module defines: {sorted(stale)}"


def _modules_after(*argv: str) -> tuple[int, str, list[str]]:
    """Run ``custodyd ARGV`` in a fresh interpreter; its exit code, stdout, loaded modules."""
    code = (
        "import sys, json\n"
        f"sys.argv = ['custodyd', *{list(argv)!r}]\n"
        "from custodyd.daemon.cli import main\n"
        "rc = 0\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    rc = exc.code or 0\n"
        "print('\\n' + json.dumps([rc, sorted(sys.modules)]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    *out, last = proc.stdout.rstrip("\n").split("\n")
    rc, modules = json.loads(last)
    return rc, "\n".join(out), modules


@pytest.mark.parametrize(
    "argv", [["--help"], ["version"], *([name, "--help"] for name in sorted(COMMANDS))], ids=str
)
def test_light_commands_import_nothing_heavy(argv: list[str]) -> None:
    rc, _out, modules = _modules_after(*argv)
    assert rc == 0
    heavy = sorted({m.split(".")[0] for m in modules} & set(HEAVY))
    assert not heavy, f"custodyd {' '.join(argv)} imported {heavy}; import them inside functions"


def test_help_lists_every_command_from_the_table() -> None:
    rc, out, modules = _modules_after("--help")
    assert rc == 0
    for name in COMMANDS:
        assert name in out
    command_modules = {f"custodyd.daemon.cli.{e.module}" for e in COMMANDS.values()}
    assert not command_modules & set(modules)


def test_running_a_command_imports_only_its_module() -> None:
    rc, out, modules = _modules_after("version")
    assert rc == 0 and out.strip().endswith(__import__("custodyd.daemon").daemon.__version__)
    loaded = {m.removeprefix("custodyd.daemon.cli.") for m in modules
              if m.startswith("custodyd.daemon.cli.")}  # fmt: skip
    assert loaded & {e.module for e in COMMANDS.values()} == {"version"}


def test_unknown_command_suggests_from_the_table() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from custodyd.daemon.cli import main; main()", "verfy"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Did you mean 'verify'" in proc.stderr
