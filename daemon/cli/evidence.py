"""``custodyd evidence list|show``: sealed manifests from the store."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.cases import cli_principal
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
    """List evidence manifests (sealed ones unless --status says otherwise); audited."""
    from custodyd.daemon.auth.reads import EvidenceFilter, audit_evidence_read, list_manifests

    ctx = context()
    try:
        principal = cli_principal()
        flt = EvidenceFilter(case=case, status=None if status == "all" else status)
        items = list_manifests(ctx, principal, flt)
        if items:
            ids = [m["evidence_id"] for m in items]
            audit_evidence_read(ctx, principal, "evidence list", case, ids)
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
    """Print one evidence manifest; the read is recorded (``evidence.accessed``)."""
    from custodyd.daemon.auth.reads import read_manifest

    ctx = context()
    try:
        manifest = read_manifest(ctx, cli_principal(), evidence_id)
    finally:
        ctx.close()
    if json_out:
        print_json(manifest)
    else:
        show_manifest(manifest)
