"""``custodyd custody transfer EVIDENCE_ID``: record a physical hand-over of an item.

The same domain call as ``POST /v1/evidence/{id}/custody/transfers``: a new
``custody.transferred`` ledger entry; a time outside [acquisition, now + 5 min]
is refused (exit 2).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.cases import cli_actor
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.errors import InvalidInput

custody_app = typer.Typer(help="Custody of evidence items.", no_args_is_help=True)
app.add_typer(custody_app, name="custody")


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--time must be an ISO 8601 date-time, not {text[:40]!r}") from None
    if when.tzinfo is None:
        raise InvalidInput("--time needs a time zone (e.g. 2026-03-16T10:00:00Z)")
    return when


@custody_app.command("transfer")
def transfer(
    evidence_id: str,
    from_party: Annotated[str, typer.Option("--from", help="Handed over by.")],
    to_party: Annotated[str, typer.Option("--to", help="Taken over by.")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    location: Annotated[str, typer.Option("--location", help="Where.")],
    time: Annotated[
        str | None, typer.Option("--time", help="When it happened (ISO 8601; default now).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="The ledger entry as JSON.")] = False,
) -> None:
    """Record that EVIDENCE_ID changed hands (a new ledger entry, never an edit)."""
    from custodyd.daemon.custody import record_transfer

    entry = record_transfer(
        context(),
        evidence_id,
        actor=cli_actor(),
        from_party=from_party,
        to_party=to_party,
        reason=reason,
        location=location,
        when=_when(time),
    )
    if json_out:
        print_json(entry.to_dict())
    else:
        Console().print(f"custody transfer recorded as ledger entry {entry.index}")
