"""``custodyd transfers add|list|show|report|extend|consent|release|close``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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
    run_step,
    show_fields,
)

if TYPE_CHECKING:
    from custodyd.daemon.orders.views import TransferView

transfers_app = typer.Typer(help="Transfers of personal data.", no_args_is_help=True)
app.add_typer(transfers_app, name="transfers")

FIELDS = [
    "id",
    "ref",
    "direction",
    "status",
    "recipient",
    "purpose",
    "case",
    "items",
    "transferred_on",
    "consented_days",
    "deadline",
    "consents",
    "use_report",
    "dispositions",
]


def _out(transfer: TransferView, json_out: bool, verb: str) -> None:
    if json_out:
        print_json(transfer)
        return
    console.print(f"transfer [bold]{transfer.id}[/] {verb}", highlight=False)
    shown = {
        **transfer.model_dump(mode="json"),
        "consents": [f"{c.third_party} ({c.consent_ref})" for c in transfer.consents],
        "items": [
            f"{i.evidence_id}{' (' + i.part + ')' if i.part else ''}" for i in transfer.items
        ],
    }
    show_fields(shown, FIELDS)


def _items(evidence: list[str]) -> list[tuple[str, str | None]]:
    """``EV1`` (whole item) or ``EV1:description of the part`` (partial release)."""
    out: list[tuple[str, str | None]] = []
    for spec in evidence:
        evidence_id, _, part = spec.partition(":")
        out.append((evidence_id.strip(), part.strip() or None))
    return out


@transfers_app.command("add")
def add(
    recipient: Annotated[str, typer.Option("--recipient")],
    purpose: Annotated[str, typer.Option("--purpose")],
    days: Annotated[int, typer.Option("--days", help="Consented period in days.")],
    evidence: Annotated[
        list[str], typer.Option("--evidence", help="EV-ID or EV-ID:part (repeatable).")
    ],
    case: Annotated[str | None, typer.Option("--case")] = None,
    ref: Annotated[str | None, typer.Option("--ref")] = None,
    transferred: Annotated[str | None, typer.Option("--transferred", help="YYYY-MM-DD.")] = None,
    deadline: Annotated[str | None, typer.Option("--deadline", help="Return/destroy by.")] = None,
    direction: Annotated[str, typer.Option("--direction", help="outgoing|incoming.")] = "outgoing",
    third_party_consent: Annotated[bool, typer.Option("--third-party-consent")] = False,
    consent_ref: Annotated[str | None, typer.Option("--consent-ref")] = None,
    lead_days: Annotated[str | None, typer.Option("--lead-days")] = None,
    alert_to: Annotated[list[str] | None, typer.Option("--alert-to")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a transfer of personal data."""
    from custodyd.daemon.orders import transfers as svc

    ctx = context()
    request = svc.TransferRequest(
        recipient=recipient,
        purpose=purpose,
        consented_days=days,
        items=_items(evidence),
        transferred_on=parse_day(transferred, "--transferred"),
        deadline=parse_day(deadline, "--deadline"),
        case_ref=case,
        ref=ref,
        direction=direction,
        third_party_consent=third_party_consent,
        consent_ref=consent_ref,
        lead_days=parse_leads(lead_days),
        alert_to=alert_to or [],
    )
    _out(svc.create_transfer(ctx, request, actor=cli_actor()), json_out, "recorded")


@transfers_app.command("list")
def list_(
    case: Annotated[str | None, typer.Option("--case")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List transfers."""
    from custodyd.daemon.orders import transfers as svc

    ctx = context()
    with ctx.session() as session:
        rows = svc.list_transfers(session, ctx.clock, case_ref=case, status=status, limit=100_000)
    if json_out:
        print_json({"items": rows})
        return
    table = Table("id", "ref", "recipient", "status", "deadline", "days left", "evidence")
    for r in rows:
        table.add_row(
            str(r.id),
            r.ref or "-",
            r.recipient,
            r.status,
            r.deadline,
            str(r.days_left),
            ", ".join(r.evidence),
        )
    console.print(table)


@transfers_app.command("show")
def show(transfer_id: int, json_out: JsonOpt = False) -> None:
    from custodyd.daemon.orders import transfers as svc

    ctx = context()
    data = svc.read_transfer(ctx, transfer_id, actor=cli_actor())
    _out(data, json_out, "")


@transfers_app.command("report")
def report(
    transfer_id: int,
    text: Annotated[str, typer.Option("--text", help="How the recipient used the data.")],
    json_out: JsonOpt = False,
) -> None:
    """Record the recipient's report of use."""
    from custodyd.daemon.orders import transfers as svc

    _out(run_step(context(), svc.report_use, transfer_id, text), json_out, "report recorded")


@transfers_app.command("extend")
def extend(
    transfer_id: int,
    days: Annotated[int, typer.Option("--days")],
    consent_ref: Annotated[str, typer.Option("--consent-ref", help="Sender's consent.")],
    json_out: JsonOpt = False,
) -> None:
    """Move the deadline with the sender's consent."""
    from custodyd.daemon.orders import transfers as svc

    _out(
        run_step(context(), svc.extend, transfer_id, days, consent_ref=consent_ref),
        json_out,
        "extended",
    )


@transfers_app.command("consent")
def consent(
    transfer_id: int,
    third_party: Annotated[
        str, typer.Option("--third-party", help="The party the sender consented to.")
    ],
    ref: Annotated[str, typer.Option("--ref", help="The written consent's reference.")],
    json_out: JsonOpt = False,
) -> None:
    """Record the sender's prior written consent to share with one named third party."""
    from custodyd.daemon.orders import transfers as svc

    data = run_step(context(), svc.record_consent, transfer_id, third_party, ref)
    _out(data, json_out, f"consent recorded for {third_party}")


@transfers_app.command("release")
def release(
    transfer_id: int,
    to: Annotated[str, typer.Option("--to", help="The third party.")],
    part: Annotated[str | None, typer.Option("--part", help="What part is released.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Release the data to a third party: refused without prior written consent."""
    from custodyd.daemon.orders import transfers as svc

    data = run_step(context(), svc.release_to_third_party, transfer_id, to, part=part)
    _out(data, json_out, f"released to {to}")


@transfers_app.command("close")
def close(
    transfer_id: int,
    outcome: Annotated[str, typer.Option("--outcome", help="returned or destroyed.")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The data came back or were destroyed."""
    from custodyd.daemon.orders import transfers as svc

    _out(
        run_step(context(), svc.close_transfer, transfer_id, outcome, note=note), json_out, outcome
    )
