"""``custodyd users add|list|disable``: people who hold a role."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.cases import cli_actor
from custodyd.daemon.cli.common import context, print_json

if TYPE_CHECKING:
    from custodyd.daemon.models import User


users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
app.add_typer(users_app, name="users")

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


def user_json(user: User) -> dict[str, object]:
    return {
        "name": user.name,
        "role": user.role,
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
    }


@users_app.command("add")
def add(
    name: str,
    role: Annotated[str, typer.Option("--role", help="examiner|investigator|compliance|admin")],
    json_out: JsonOpt = False,
) -> None:
    """Add a user with a role."""
    from custodyd.daemon.auth.admin import add_user

    ctx = context()
    data = user_json(add_user(ctx, cli_actor(), name, role))
    if json_out:
        print_json(data)
    else:
        Console().print(f"user [bold]{data['name']}[/] added with role {data['role']}")


@users_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """List users."""
    from custodyd.daemon.auth import list_users

    ctx = context()
    with ctx.session() as session:
        rows = [user_json(u) for u in list_users(session, limit=10_000)]
    if json_out:
        print_json({"items": rows})
        return
    table = Table("name", "role", "disabled", "created")
    for row in rows:
        table.add_row(
            str(row["name"]), str(row["role"]), str(row["disabled"]), str(row["created_at"])
        )
    Console().print(table)


@users_app.command("disable")
def disable(name: str, json_out: JsonOpt = False) -> None:
    """Disable a user: their tokens stop working (recorded: ``user.disabled``)."""
    from custodyd.daemon.auth.admin import disable_user

    data = user_json(disable_user(context(), cli_actor(), name))
    if json_out:
        print_json(data)
    else:
        Console().print(f"user [bold]{name}[/] disabled")
