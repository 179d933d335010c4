"""``custodyd orders add|list|show|renew|followup|decide|release``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.orders_support import (
    JsonOpt,
    cli_actor,
    console,
    parse_day,
    parse_leads,
    show_fields,
)
from custodyd.daemon.errors import InvalidInput

orders_app = typer.Typer(help="Preservation orders.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")

FIELDS = [
    "id",
    "ref",
    "status",
    "regime",
    "case",
    "evidence",
    "issued_on",
    "expires_on",
    "renewals",
    "authority",
    "confidential",
    "followup_ref",
    "decision",
    "end_reason",
]


def _out(data: dict[str, Any], json_out: bool, verb: str) -> None:
    if json_out:
        print_json(data)
        return
    console.print(f"order [bold]{data['id']}[/] ({data['ref']}) {verb}", highlight=False)
    show_fields(data, FIELDS)
    if data["status"] == "hold":
        console.print("[yellow]hold until a decision: no expiry while it stands[/]")


@orders_app.command("add")
def add(
    regime: Annotated[str, typer.Option("--regime", help="Legal basis (custodyd regimes list).")],
    issued: Annotated[str, typer.Option("--issued", help="Issue date YYYY-MM-DD.")],
    ref: Annotated[str, typer.Option("--ref", help="The order's reference.")],
    evidence: Annotated[
        list[str] | None, typer.Option("--evidence", help="Evidence id (repeatable).")
    ] = None,
    case: Annotated[
        str | None, typer.Option("--case", help="Case ref (alone: whole case).")
    ] = None,
    authority: Annotated[str | None, typer.Option("--authority")] = None,
    offence: Annotated[str | None, typer.Option("--offence")] = None,
    summary: Annotated[str | None, typer.Option("--summary", help="Summary of the facts.")] = None,
    data_concerned: Annotated[str | None, typer.Option("--data")] = None,
    relation: Annotated[str | None, typer.Option("--relation", help="Data vs offence.")] = None,
    custodian: Annotated[
        str | None, typer.Option("--custodian", help="Custodian/location.")
    ] = None,
    necessity: Annotated[str | None, typer.Option("--necessity")] = None,
    followup_announced: Annotated[bool, typer.Option("--followup-announced")] = False,
    confidential: Annotated[
        bool, typer.Option("--confidential", help="Do not notify the user.")
    ] = False,
    days: Annotated[
        int | None, typer.Option("--days", help="Period other than the regime's.")
    ] = None,
    lead_days: Annotated[
        str | None, typer.Option("--lead-days", help="Alert lead times, e.g. 30,7,1,0.")
    ] = None,
    alert_to: Annotated[list[str] | None, typer.Option("--alert-to")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Enter a preservation order; its expiry counts from the issue date."""
    from custodyd.daemon.orders import lifecycle

    ctx = context()
    issued_on = parse_day(issued, "--issued")
    assert issued_on is not None
    request = lifecycle.OrderRequest(
        regime=regime,
        ref=ref,
        issued_on=issued_on,
        evidence_ids=evidence or [],
        case_ref=case,
        authority=authority,
        offence=offence,
        summary=summary,
        data_concerned=data_concerned,
        relation=relation,
        custodian=custodian,
        necessity=necessity,
        followup_announced=followup_announced,
        confidential=confidential,
        days=days,
        lead_days=parse_leads(lead_days),
        alert_to=alert_to or [],
    )
    _out(lifecycle.create_order(ctx, request, actor=cli_actor()), json_out, "entered")


@orders_app.command("list")
def list_(
    case: Annotated[str | None, typer.Option("--case")] = None,
    evidence: Annotated[str | None, typer.Option("--evidence")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List orders (by case, evidence item or status)."""
    from custodyd.daemon.orders import lifecycle

    ctx = context()
    with ctx.session() as session:
        rows = lifecycle.list_orders(
            session, ctx.clock, case_ref=case, evidence_id=evidence, status=status, limit=100_000
        )
    if json_out:
        print_json({"items": rows})
        return
    table = Table("id", "ref", "regime", "case", "status", "expires", "evidence")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["ref"],
            r["regime"],
            r["case"],
            r["status"],
            "hold" if r["hold"] else r["expires_on"],
            ", ".join(r["evidence"]),
        )
    console.print(table)


@orders_app.command("show")
def show(order_id: int, json_out: JsonOpt = False) -> None:
    """Show one order."""
    from custodyd.daemon.orders import lifecycle

    ctx = context()
    with ctx.session() as session:
        data = lifecycle.order_dict(session, lifecycle.get_order(session, order_id), ctx.clock)
    _out(data, json_out, "")


@orders_app.command("renew")
def renew(
    order_id: int,
    days: Annotated[int | None, typer.Option("--days", help="Renewal length.")] = None,
    ref: Annotated[str | None, typer.Option("--ref", help="Reference of the renewal.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Renew an order (regimes that allow it): the expiry moves on."""
    from custodyd.daemon.orders import lifecycle

    ctx = context()
    _out(
        lifecycle.renew_order(ctx, order_id, actor=cli_actor(), days=days, ref=ref),
        json_out,
        "renewed",
    )


@orders_app.command("followup")
def followup(
    order_id: int,
    ref: Annotated[str | None, typer.Option("--ref", help="Follow-up request reference.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """A follow-up request arrived: hold the data until a decision."""
    from custodyd.daemon.orders import lifecycle

    ctx = context()
    _out(lifecycle.followup_order(ctx, order_id, actor=cli_actor(), ref=ref), json_out, "on hold")


@orders_app.command("decide")
def decide(
    order_id: int,
    outcome: Annotated[str, typer.Option("--outcome", help="granted or refused.")],
    ref: Annotated[str | None, typer.Option("--ref", help="Decision reference.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record the decision on the follow-up request; the hold ends."""
    from custodyd.daemon.orders import lifecycle

    ctx = context()
    data = lifecycle.decide_order(ctx, order_id, outcome, actor=cli_actor(), ref=ref)
    _out(data, json_out, f"decided ({outcome})")


@orders_app.command("release")
def release(
    order_id: int,
    reason: Annotated[str, typer.Option("--reason", help="Why the order ends early.")] = "",
    json_out: JsonOpt = False,
) -> None:
    """End an order early (withdrawn). Refused while a hold stands."""
    from custodyd.daemon.orders import lifecycle

    if not reason:
        raise InvalidInput("releasing an order needs --reason")
    ctx = context()
    _out(
        lifecycle.release_order(ctx, order_id, actor=cli_actor(), reason=reason),
        json_out,
        "released",
    )
