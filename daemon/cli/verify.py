"""``custodyd verify EVIDENCE_ID``: re-hash a sealed image; exit 20 on a mismatch."""

from __future__ import annotations

import typer
from rich.console import Console

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.image import cli_actor
from custodyd.daemon.cli.progress import progress_bar
from custodyd.daemon.errors import FixityMismatch


@app.command("verify")
def verify(
    evidence_id: str = typer.Argument(..., help="Evidence id (EV...)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Re-read the sealed image, compare BLAKE3 and piecewise digests, record the result."""
    from custodyd.daemon.acquisition import verify_evidence

    ctx = context()
    try:
        with progress_bar() as progress:
            report = verify_evidence(ctx, evidence_id, actor=cli_actor(), progress=progress)
    finally:
        ctx.close()
    if json_out:
        print_json(report)
    else:
        console = Console()
        state = "[green]match[/]" if report["match"] else "[bold red]MISMATCH[/]"
        console.print(f"{evidence_id}: {state}  blake3 {report['blake3']}")
        if not report["match"]:
            console.print(f"  expected {report['expected']}")
    if not report["match"]:
        windows = report["mismatched_windows"]
        where = ", ".join(
            f"window {w['index']} (bytes {w['offset']}+{w['length']})" for w in windows
        )
        # Raised, not typer.Exit: app.main() maps it to exit 20 and prints it on stderr.
        raise FixityMismatch(
            f"evidence {evidence_id} does not match its recorded hash"
            + (f"; differing: {where}" if where else ""),
            evidence_id=evidence_id,
            mismatched_windows=[w["index"] for w in windows],
        )
