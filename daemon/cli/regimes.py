"""``custodyd regimes list|add``: the legal bases of preservation orders."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.orders_support import JsonOpt, cli_actor, console

regimes_app = typer.Typer(
    help="Legal bases (regimes) of preservation orders.", no_args_is_help=True
)
app.add_typer(regimes_app, name="regimes")


@regimes_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """List the shipped and added regimes."""
    from custodyd.daemon.orders.regimes import list_regimes

    ctx = context()
    with ctx.session() as session:
        rows = [r.as_dict() for r in list_regimes(session)]
    if json_out:
        print_json(rows)  # a bare array, like `evidence list` and `media list`
        return
    table = Table("id", "days", "min", "max", "renewable", "citation")
    for r in rows:
        renew = f"yes (+{r['renewal_days']}d)" if r["renewable"] else "no"
        table.add_row(
            r["id"],
            str(r["period_days"]),
            str(r["min_days"] or "-"),
            str(r["max_days"] or "-"),
            renew,
            r["citation"],
        )
    console.print(table)


@regimes_app.command("add")
def add(
    regime_id: Annotated[str, typer.Argument(help="Stable id, e.g. court-order-90.")],
    name: Annotated[str, typer.Option("--name", help="Human name.")],
    period_days: Annotated[int, typer.Option("--days", help="Period from the issue date.")],
    citation: Annotated[str, typer.Option("--citation", help="Legal text and article.")] = "",
    scope: Annotated[str, typer.Option("--scope", help="international or domestic.")] = "domestic",
    min_days: Annotated[int | None, typer.Option("--min-days")] = None,
    max_days: Annotated[int | None, typer.Option("--max-days")] = None,
    renewable: Annotated[bool, typer.Option("--renewable/--not-renewable")] = False,
    renewal_days: Annotated[int | None, typer.Option("--renewal-days")] = None,
    max_renewals: Annotated[int | None, typer.Option("--max-renewals")] = None,
    alert_to: Annotated[
        list[str] | None, typer.Option("--alert-to", help="Extra recipient.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a regime (administrators)."""
    from custodyd.daemon.orders.regimes import RegimeSpec, add_regime

    ctx = context()
    spec = RegimeSpec(
        id=regime_id,
        name=name,
        citation=citation,
        scope=scope,
        period_days=period_days,
        min_days=min_days,
        max_days=max_days,
        renewable=renewable,
        renewal_days=renewal_days,
        max_renewals=max_renewals,
        alert_to=tuple(alert_to or ()),
    )
    with ctx.session() as session:
        data = add_regime(session, ctx.clock, spec, actor=cli_actor()).as_dict()
    if json_out:
        print_json(data)
    else:
        console.print(f"regime [bold]{data['id']}[/] added")
