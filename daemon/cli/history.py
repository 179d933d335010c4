"""``custodyd history EVIDENCE_ID``: the custody timeline of one item, from the ledger.

The read is itself recorded (``history.read``) exactly as the API records it: the item
and case read are in the payload, not in the entry's own fields, so reading a timeline
does not lengthen it.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.cases import cli_principal
from custodyd.daemon.cli.common import context, print_json


@app.command("history")
def history_cmd(
    evidence_id: str = typer.Argument(..., help="Evidence id."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Show the custody timeline of EVIDENCE_ID (oldest first)."""
    from custodyd.daemon.auth.audit import custody_read, record_event
    from custodyd.daemon.auth.visibility import visible_evidence_case

    ctx = context()
    principal = cli_principal()
    with ctx.session() as session:
        ref = visible_evidence_case(session, principal, evidence_id)
    record_event(ctx, custody_read(principal.actor, case=ref, evidence=evidence_id))
    entries = ctx.ledger.history(evidence_id)
    if json_out:
        print_json({"evidence": evidence_id, "entries": [e.to_dict() for e in entries]})
        return
    table = Table(title=f"custody of {evidence_id}")
    for column in ("#", "time (UTC)", "actor", "action", "case", "details"):
        table.add_column(column)
    for e in entries:
        details = json.dumps(e.payload, sort_keys=True)
        table.add_row(str(e.index), e.time, e.actor, e.action, e.case or "", details)
    Console().print(table)
