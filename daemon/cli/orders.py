"""``custodyd orders add|list|show|renew|followup|decide|executed|refuse|notify|release``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.orders_support import (
    JsonOpt,
    cli_actor,
    console,
    flag_errors,
    parse_day,
    parse_leads,
    run_step,
    show_fields,
)
from custodyd.daemon.errors import InvalidInput

if TYPE_CHECKING:
    from custodyd.daemon.orders.views import OrderView

# domain field -> the flag that sets it (domain errors name fields; we name flags)
FLAGS = {
    "ref": "--ref",
    "issued_on": "--issued",
    "received_on": "--received",
    "effected_on": "--effected",
    "authority": "--authority",
    "offence": "--offence",
    "summary": "--summary",
    "data_concerned": "--data",
    "relation": "--relation",
    "custodian": "--custodian",
    "necessity": "--necessity",
    "followup_announced": "--followup-announced",
    "need_to_know": "--need-to-know",
    "evidence": "--evidence",
    "case": "--case",
    "outcome": "--outcome",
    "basis": "--basis",
    "transfer": "--transfer",
    "grounds": "--grounds",
    "reason": "--reason",
    "kind": "--kind",
    "text": "--text",
}

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
    "received_on",
    "effected_on",
    "expires_on",
    "expiry_rule",
    "renewals",
    "authority",
    "confidential",
    "need_to_know",
    "followup_ref",
    "decision",
    "executed_basis",
    "refusal_grounds",
    "refusal_reason",
    "end_reason",
]


def _out(order: OrderView, json_out: bool, verb: str) -> None:
    if json_out:
        print_json(order)
        return
    console.print(f"order [bold]{order.id}[/] ({escape(order.ref)}) {verb}", highlight=False)
    show_fields(order.model_dump(mode="json"), FIELDS)
    if order.status == "hold":
        console.print("[yellow]hold until a decision: no expiry while it stands[/]")
    if order.status == "executing":
        console.print("[yellow]granted: kept until the execution is recorded (orders executed)[/]")
    for notice in order.notices:
        console.print(f"notice {notice.at} {notice.kind}: {escape(notice.text)}", highlight=False)


@orders_app.command("add")
def add(
    regime: Annotated[str, typer.Option("--regime", help="Legal basis (custodyd regimes list).")],
    issued: Annotated[str, typer.Option("--issued", help="Issue date YYYY-MM-DD.")],
    ref: Annotated[str, typer.Option("--ref", help="The order's reference.")],
    received: Annotated[
        str | None, typer.Option("--received", help="Day the request arrived (default: today).")
    ] = None,
    effected: Annotated[
        str | None,
        typer.Option("--effected", help="Day the data were preserved (default: today)."),
    ] = None,
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
    need_to_know: Annotated[
        list[str] | None,
        typer.Option("--need-to-know", help="User who may know a confidential order (repeatable)."),
    ] = None,
    days: Annotated[
        int | None, typer.Option("--days", help="Period other than the regime's.")
    ] = None,
    lead_days: Annotated[
        str | None, typer.Option("--lead-days", help="Alert lead times, e.g. 30,7,1,0.")
    ] = None,
    alert_to: Annotated[list[str] | None, typer.Option("--alert-to")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Enter a preservation order; international minimums run from the day preservation was
    effected, a domestic maximum from the issue date."""
    from custodyd.daemon.orders import lifecycle

    ctx = context()
    issued_on = parse_day(issued, "--issued")
    assert issued_on is not None
    request = lifecycle.OrderRequest(
        regime=regime,
        ref=ref,
        issued_on=issued_on,
        received_on=parse_day(received, "--received"),
        effected_on=parse_day(effected, "--effected"),
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
        need_to_know=need_to_know or [],
        days=days,
        lead_days=parse_leads(lead_days),
        alert_to=alert_to or [],
    )
    with flag_errors(FLAGS):
        data = lifecycle.create_order(ctx, request, actor=cli_actor())
    _out(data, json_out, "entered")


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
            str(r.id),
            r.ref,
            r.regime,
            r.case,
            r.status,
            "hold" if r.hold else r.expires_on,
            ", ".join(r.evidence),
        )
    console.print(table)


@orders_app.command("show")
def show(order_id: int, json_out: JsonOpt = False) -> None:
    """Show one order."""
    from custodyd.daemon.orders import lifecycle

    ctx = context()
    data = lifecycle.read_order(ctx, order_id, actor=cli_actor())
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

    _out(
        run_step(context(), lifecycle.renew_order, order_id, days=days, ref=ref),
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

    _out(run_step(context(), lifecycle.followup_order, order_id, ref=ref), json_out, "on hold")


@orders_app.command("decide")
def decide(
    order_id: int,
    outcome: Annotated[str, typer.Option("--outcome", help="granted, refused or withdrawn.")],
    ref: Annotated[str | None, typer.Option("--ref", help="Decision reference.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record the decision on the follow-up request: granted -> executing; else the hold ends."""
    from custodyd.daemon.orders import lifecycle

    data = run_step(context(), lifecycle.decide_order, order_id, outcome, flags=FLAGS, ref=ref)
    _out(data, json_out, f"decided ({outcome})")


@orders_app.command("executed")
def executed(
    order_id: int,
    basis: Annotated[
        str, typer.Option("--basis", help="What executed it: seizure, production, transfer.")
    ],
    transfer: Annotated[
        int | None, typer.Option("--transfer", help="The transfer that executed it.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record that a granted follow-up request was executed; the ordinary expiry applies."""
    from custodyd.daemon.orders import lifecycle

    data = run_step(
        context(),
        lifecycle.executed_order,
        order_id,
        flags=FLAGS,
        basis=basis,
        transfer_id=transfer,
    )
    _out(data, json_out, "executed")


@orders_app.command("refuse")
def refuse(
    order_id: int,
    grounds: Annotated[
        str,
        typer.Option(
            "--grounds", help="political-offence, essential-interests or dual-criminality."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="The reasons given (art. 61(22)).")],
    json_out: JsonOpt = False,
) -> None:
    """Refuse a preservation request on the grounds the texts allow."""
    from custodyd.daemon.orders.answers import refuse_order

    data = run_step(context(), refuse_order, order_id, flags=FLAGS, grounds=grounds, reason=reason)
    _out(data, json_out, f"refused ({grounds})")


@orders_app.command("notify")
def notify(
    order_id: int,
    kind: Annotated[
        str, typer.Option("--kind", help="cannot-secure, confidentiality-threat or other.")
    ],
    text: Annotated[str, typer.Option("--text", help="What the requester was told.")],
    json_out: JsonOpt = False,
) -> None:
    """Record a time-stamped notice to the requesting state (art. 68(6))."""
    from custodyd.daemon.orders.answers import notify_requester

    data = run_step(context(), notify_requester, order_id, flags=FLAGS, kind=kind, text=text)
    _out(data, json_out, f"notice recorded ({kind})")


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
    _out(
        run_step(context(), lifecycle.release_order, order_id, reason=reason), json_out, "released"
    )
