"""Helpers shared by the orders, transfers, regimes... command modules (no commands)."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from custodyd.daemon.errors import InvalidInput

if TYPE_CHECKING:
    from custodyd.daemon.context import AppContext

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
            console.print(f"[bold]{key:>18}[/] {escape(str(value))}", highlight=False)


@contextmanager
def flag_errors(flags: Mapping[str, str]) -> Iterator[None]:
    """Re-word an :class:`InvalidInput` that names domain fields with the CLI's flags."""
    try:
        yield
    except InvalidInput as exc:
        fields = list(exc.extra.get("fields") or [])
        if exc.extra.get("field"):
            fields.append(exc.extra["field"])
        if not fields:
            raise
        named = ", ".join(flags.get(f, f) for f in fields)
        exc.detail = f"{exc.detail} (CLI: {named})"
        exc.extra["flags"] = [flags.get(f, f) for f in fields]
        raise


T = TypeVar("T")


def run_step(
    ctx: AppContext,
    step: Callable[..., T],
    subject_id: int,
    *args: Any,
    flags: Mapping[str, str] | None = None,
    **fields: Any,
) -> T:
    """One step of an order or a transfer (``step(ctx, subject_id, *args, actor=..., **fields)``)
    as the CLI's operator; a refusal that names fields names their ``flags``."""
    with flag_errors(flags) if flags is not None else nullcontext():
        return step(ctx, subject_id, *args, actor=cli_actor(), **fields)
