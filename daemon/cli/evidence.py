"""``custodyd evidence list|show``: sealed manifests from the store."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.image import show_manifest

evidence_app = typer.Typer(help="Evidence items and their manifests.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")


@evidence_app.command("list")
def list_(
    case: str | None = typer.Option(None, "--case", help="Only this case."),
    status: str = typer.Option("sealed", "--status", help="sealed|incomplete|mismatch|all"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """List evidence manifests (sealed ones unless --status says otherwise)."""
    from custodyd.daemon.acquisition import list_evidence

    ctx = context()
    try:
        items = list_evidence(ctx, case, None if status == "all" else status)
    finally:
        ctx.close()
    if json_out:
        print_json(items)
        return
    table = Table("evidence", "case", "status", "bytes", "blake3")
    for m in items:
        table.add_row(
            m["evidence_id"],
            m["case"],
            m["status"],
            str(m.get("bytes")),
            (m.get("hashes") or {}).get("blake3", "")[:16],
        )
    Console().print(table)


@evidence_app.command("show")
def show(evidence_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """Print one evidence manifest."""
    from custodyd.daemon.acquisition import get_manifest

    ctx = context()
    try:
        manifest = get_manifest(ctx, evidence_id)
    finally:
        ctx.close()
    if json_out:
        print_json(manifest)
    else:
        show_manifest(manifest)
