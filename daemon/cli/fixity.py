"""``custodyd fixity run``: re-verify the sealed items that are due, now."""

from __future__ import annotations

from typing import Annotated

import typer

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.orders_support import JsonOpt, cli_actor, console

fixity_app = typer.Typer(help="Scheduled fixity re-verification.", no_args_is_help=True)
app.add_typer(fixity_app, name="fixity")


@fixity_app.command("run")
def run(
    max_items: Annotated[int | None, typer.Option("--max-items")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify every sealed item whose last check is older than the interval."""
    from custodyd.daemon.orders.fixity import run_fixity

    ctx = context()
    report = run_fixity(ctx, actor=cli_actor(), max_items=max_items).as_dict()
    if json_out:
        print_json(report)
    else:
        for r in report["checked"]:
            mark = "[green]ok[/]" if r["match"] else "[bold red]MISMATCH[/]"
            console.print(f"{r['evidence_id']}: {mark}")
        if report["deferred"]:
            console.print("deferred: an acquisition is running")
    if report["mismatches"]:
        raise typer.Exit(20)
