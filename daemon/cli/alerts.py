"""``custodyd alerts check|list|recipients``: the alert outbox, for cron and operators."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.orders_support import JsonOpt, console
from custodyd.daemon.errors import InvalidInput

alerts_app = typer.Typer(help="Expiry and deadline alerts.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("check")
def check(json_out: JsonOpt = False) -> None:
    """Run the alert checker once: enqueue due alerts, expire orders, deliver."""
    from custodyd.daemon.orders.alerts.outbox import check as run_check

    ctx = context()
    report = run_check(ctx).as_dict()
    if json_out:
        print_json(report)
    else:
        console.print(
            f"sent {report['sent']}, queued {report['enqueued']}, superseded "
            f"{report['superseded']}, retrying {report['retrying']}, failed {report['failed']}, "
            f"expired orders {report['expired'] or 'none'}",
            highlight=False,
        )
        for error in report["errors"]:
            console.print(f"[red]{error}[/]", highlight=False)
    if report["errors"]:
        raise typer.Exit(1)


@alerts_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """The outbox: every alert, its channel and state."""
    from custodyd.daemon.orders.alerts.outbox import outbox_rows

    ctx = context()
    with ctx.session() as session:
        rows = outbox_rows(session)
    if json_out:
        print_json({"items": rows})
        return
    table = Table("id", "kind", "subject", "key", "channel", "state", "sent")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["subject_kind"],
            r["subject_id"],
            r["key"],
            r["channel"],
            r["state"],
            r["sent_at"] or "-",
        )
    console.print(table)


@alerts_app.command("recipients")
def recipients(
    address: Annotated[str | None, typer.Argument(help="Address to add.")] = None,
    case: Annotated[str | None, typer.Option("--case")] = None,
    regime: Annotated[str | None, typer.Option("--regime")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List per-case/per-regime recipients, or add ADDRESS for --case or --regime."""
    from sqlmodel import select

    from custodyd.daemon.models import AlertRecipient

    ctx = context()
    with ctx.session() as session:
        if address is not None:
            if (case is None) == (regime is None):
                raise InvalidInput("give exactly one of --case or --regime")
            scope, key = ("case", case) if case is not None else ("regime", regime)
            assert key is not None
            exists = session.exec(
                select(AlertRecipient).where(
                    AlertRecipient.scope == scope,
                    AlertRecipient.key == key,
                    AlertRecipient.address == address,
                )
            ).first()
            if exists is None:
                session.add(AlertRecipient(scope=scope, key=key, address=address))
                session.flush()
        rows = [
            {"scope": r.scope, "key": r.key, "address": r.address}
            for r in session.exec(select(AlertRecipient).order_by(AlertRecipient.id))
        ]
    if json_out:
        print_json({"items": rows})
    else:
        for r in rows:
            console.print(f"{r['scope']:>6} {r['key']}: {r['address']}", highlight=False)
