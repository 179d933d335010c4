"""``custodyd dispose EVIDENCE_ID --method destroy|return --reason TEXT``."""

from __future__ import annotations

from typing import Annotated

import typer

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.orders_support import JsonOpt, cli_actor, console


@app.command("dispose")
def dispose(
    evidence_id: str,
    method: Annotated[str, typer.Option("--method", help="destroy or return.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")],
    returned_to: Annotated[str | None, typer.Option("--returned-to")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Return or destroy an item: refused while any order or hold covers it."""
    from custodyd.daemon.orders.disposition import dispose as dispose_item

    ctx = context()
    data = dispose_item(
        ctx, evidence_id, method=method, reason=reason, actor=cli_actor(), returned_to=returned_to
    )
    if json_out:
        print_json(data)
        return
    total = sum(int(f.get("bytes") or 0) for f in data.files)  # S3 versions have no size
    console.print(
        f"evidence [bold]{evidence_id}[/] disposed ({method}): {len(data.files)} file(s), "
        f"{total} bytes overwritten and deleted; kept: {', '.join(data.kept) or 'nothing'}",
        highlight=False,
    )
