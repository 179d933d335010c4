"""``custodyd tokens create|list|revoke``: API tokens (the secret is shown once)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.cases import cli_actor
from custodyd.daemon.cli.common import context, print_json

if TYPE_CHECKING:
    from custodyd.daemon.models import ApiToken


tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


def token_json(token: ApiToken) -> dict[str, object]:
    return {
        "name": token.name,
        "role": token.role,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


@tokens_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="examiner|investigator|compliance|admin")],
    case: Annotated[
        list[str] | None, typer.Option("--case", help="Case ref it may see (repeatable).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Token name (unique).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="User owning the token.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a token. The secret is printed once and stored only as a hash."""
    from custodyd.daemon.auth.admin import create_token

    ctx = context()
    new = create_token(ctx, cli_actor(), role=role, cases=case or [], name=name, user=user)
    data = token_json(new.token) | {"cases": list(dict.fromkeys(case or []))}
    if json_out:
        print_json({"token": new.secret} | data)
    else:
        console = Console()
        console.print(f"token [bold]{data['name']}[/] ({data['role']}); shown once, keep it:")
        print(new.secret)


@tokens_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List tokens (never their secrets)."""
    from custodyd.daemon.auth import list_tokens

    ctx = context()
    with ctx.session() as session:
        rows = [token_json(t) for t in list_tokens(session, include_revoked=all_)]
    if json_out:
        print_json({"items": rows})
        return
    table = Table("name", "role", "prefix", "created", "revoked")
    for row in rows:
        table.add_row(
            *(str(row[k] or "") for k in ("name", "role", "prefix", "created_at", "revoked_at"))
        )
    Console().print(table)


@tokens_app.command("revoke")
def revoke(name: str, json_out: JsonOpt = False) -> None:
    """Revoke a token by name; it stops working at once."""
    from custodyd.daemon.auth.admin import revoke_token

    ctx = context()
    data = token_json(revoke_token(ctx, cli_actor(), name))
    if json_out:
        print_json(data)
    else:
        Console().print(f"token [bold]{name}[/] revoked")
