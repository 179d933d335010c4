"""Helpers shared by the orders-team command modules (no commands of its own)."""

from __future__ import annotations

import getpass
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console

from custodyd.daemon.errors import InvalidInput

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]

console = Console()


def cli_actor() -> str:
    """``cli:<os user>``: who typed the command."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no passwd entry (containers)
        return "cli:unknown"


def parse_day(text: str | None, what: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} must be a date YYYY-MM-DD, not {text!r}") from None


def parse_leads(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(f"lead days are comma-separated integers, not {text!r}") from None


def show_fields(data: dict[str, Any], keys: list[str]) -> None:
    for key in keys:
        value = data.get(key)
        if value not in (None, "", []):
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            console.print(f"[bold]{key:>18}[/] {value}", highlight=False)
