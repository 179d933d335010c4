"""``custodyd history EVIDENCE_ID``: the custody timeline of one item, from the ledger.

The read is itself recorded (``history.read``), as every read of custody history is.
"""

from __future__ import annotations

import getpass
import json

import typer
from rich.console import Console
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.errors import NotFound


@app.command("history")
def history_cmd(
    evidence_id: str = typer.Argument(..., help="Evidence id."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Show the custody timeline of EVIDENCE_ID (oldest first)."""
    ledger = context().ledger
    entries = ledger.history(evidence_id)
    if not entries:
        raise NotFound(f"no ledger entries for evidence {evidence_id}")
    ledger.append(
        "history.read",
        actor=f"cli:{getpass.getuser()}",
        case=entries[-1].case,
        evidence=evidence_id,
        payload={"entries": len(entries)},
    )
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
