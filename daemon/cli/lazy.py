"""A Typer group that imports a command's module only when that command runs.

Click builds the whole command tree before parsing, so a plain Typer app pays
for importing every command module (and SQLAlchemy, cryptography, FastAPI... with
them) on ``custodyd --help``. :class:`LazyGroup` knows the top-level commands from
the static table in :mod:`custodyd.daemon.cli.commands`: the root help is printed
from that table, and resolving ``custodyd NAME`` imports only the module the table
names, whose decorators register the command on the root ``app``.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from custodyd.daemon.cli.commands import COMMANDS


class LazyGroup(TyperGroup):
    """Root group whose sub-commands come from :data:`COMMANDS`, imported on first use."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if self._listing and cmd_name in COMMANDS and cmd_name not in self.commands:
            # Help listing: a stand-in carrying the table's short help is enough.
            entry = COMMANDS[cmd_name]
            return TyperCommand(name=cmd_name, help=entry.help, short_help=entry.help)
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self._load(cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            matches = get_close_matches(name, self.list_commands(ctx))
            hint = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def _load(self, cmd_name: str) -> None:
        """Import the command's module and build its click command from the root app."""
        from custodyd.daemon.cli.app import app

        importlib.import_module(f"custodyd.daemon.cli.{COMMANDS[cmd_name].module}")
        built = typer.main.get_command(app)
        command = getattr(built, "commands", {}).get(cmd_name)
        if command is None:
            raise RuntimeError(
                f"custodyd.daemon.cli.{COMMANDS[cmd_name].module} did not register the command "
                f"{cmd_name!r} named for it in custodyd/daemon/cli/commands.py"
            )
        self.commands[cmd_name] = command
