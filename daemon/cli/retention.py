"""``custodyd retention due --days N`` and ``custodyd retention show EVIDENCE_ID``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.orders_support import JsonOpt, console

retention_app = typer.Typer(help="Retention of evidence items.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@retention_app.command("due")
def due(
    days: Annotated[int, typer.Option("--days", help="Window in days.")] = 30,
    json_out: JsonOpt = False,
) -> None:
    """Every item whose order expiry or transfer deadline falls within N days."""
    from custodyd.daemon.orders.retention import due_within

    ctx = context()
    with ctx.session() as session:
        rows = due_within(session, ctx.clock, days)
    if json_out:
        print_json({"days": days, "items": rows})
        return
    table = Table("evidence", "case", "kind", "id", "ref", "deadline", "days left")
    for r in rows:
        table.add_row(
            r.evidence_id or "-",
            r.case,
            r.kind,
            str(r.id),
            r.ref or "-",
            r.deadline,
            str(r.days_left),
        )
    console.print(table)


@retention_app.command("show")
def show(evidence_id: str, json_out: JsonOpt = False) -> None:
    """Whether an item may be disposed of, and which orders keep it."""
    from custodyd.daemon.orders.retention import retention_status

    ctx = context()
    with ctx.session() as session:
        status = retention_status(session, evidence_id, clock=ctx.clock)
    if json_out:
        print_json(status)
        return
    if status.disposable:
        console.print(f"{evidence_id}: no order or hold; disposable")
    elif status.hold:
        console.print(f"{evidence_id}: [yellow]on hold until a decision[/]")
    else:
        console.print(f"{evidence_id}: kept until {status.retain_until}")
    for b in status.blocking:
        console.print(f"  order {b.order_id} {b.ref} ({b.regime}) {b.status}")
