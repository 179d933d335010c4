"""``custodyd cases create|list|close|add-member|remove-member``."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.errors import InvalidInput

if TYPE_CHECKING:
    from custodyd.daemon.auth import Principal
    from custodyd.daemon.auth.admin import MemberKind
    from custodyd.daemon.models import Case


cases_app = typer.Typer(help="Cases.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


def cli_actor() -> str:
    """The operator at the workstation, as the ledger names them: ``cli:<os user>``."""
    return f"cli:{getpass.getuser()}"


def cli_principal() -> Principal:
    """The operator at the workstation has full rights (they own the data directory)."""
    from custodyd.daemon.auth import ADMIN, Principal

    return Principal(actor=cli_actor(), role=ADMIN)


def case_json(case: Case) -> dict[str, object]:
    return {
        "ref": case.ref,
        "title": case.title,
        "status": case.status,
        "created_at": case.created_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
    }


@cases_app.command("create")
def create(
    ref: str,
    title: Annotated[str, typer.Option("--title", help="Human title.")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Create a case."""
    from custodyd.daemon.auth.casework import create_case

    ctx = context()
    data = case_json(create_case(ctx, cli_principal(), ref, title))
    if json_out:
        print_json(data)
    else:
        Console().print(f"case [bold]{data['ref']}[/] created")


@cases_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """List cases."""
    from custodyd.daemon.cases import list_cases

    ctx = context()
    with ctx.session() as session:
        rows = [case_json(c) for c in list_cases(session, limit=100_000)]
    if json_out:
        print_json({"items": rows})
        return
    table = Table("ref", "title", "status", "created")
    for row in rows:
        table.add_row(*(str(row[k]) for k in ("ref", "title", "status", "created_at")))
    Console().print(table)


@cases_app.command("close")
def close(ref: str, json_out: JsonOpt = False) -> None:
    """Close a case: nothing new enters it."""
    from custodyd.daemon.auth.casework import close_case

    ctx = context()
    data = case_json(close_case(ctx, cli_principal(), ref))
    if json_out:
        print_json(data)
    else:
        Console().print(f"case [bold]{ref}[/] closed")


@cases_app.command("add-member")
def add_member_cmd(
    ref: str,
    role: Annotated[str, typer.Option("--role", help="Role in the case.")],
    user: Annotated[str | None, typer.Option("--user", help="User name.")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Token name.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Make a user or a token a member of a case (recorded: ``case.member_set``)."""
    from rich.markup import escape

    from custodyd.daemon.auth.admin import set_member

    kind, name = _member(user, token)
    data = set_member(context(), cli_actor(), ref, kind, name, role)
    if json_out:
        print_json(data)
    else:
        Console().print(f"{escape(name)} is now a member of case [bold]{escape(ref)}[/] as {role}")


@cases_app.command("remove-member")
def remove_member_cmd(
    ref: str,
    user: Annotated[str | None, typer.Option("--user", help="User name.")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Token name.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Remove a user or a token from a case (recorded: ``case.member_removed``)."""
    from rich.markup import escape

    from custodyd.daemon.auth.admin import remove_member

    kind, name = _member(user, token)
    remove_member(context(), cli_actor(), ref, kind, name)
    if json_out:
        print_json({"case": ref, "kind": kind, "name": name, "removed": True})
    else:
        Console().print(f"{escape(name)} is no longer a member of case [bold]{escape(ref)}[/]")


def _member(user: str | None, token: str | None) -> tuple[MemberKind, str]:
    if user is not None and token is None:
        return "user", user
    if token is not None and user is None:
        return "token", token
    raise InvalidInput("give exactly one of --user or --token")
