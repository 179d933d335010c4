"""``custodyd verify EVIDENCE_ID``: re-hash a sealed image; exit 20 on a mismatch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.image import cli_actor
from custodyd.daemon.cli.progress import progress_bar
from custodyd.daemon.entry import claim
from custodyd.daemon.errors import FixityMismatch

if TYPE_CHECKING:
    from custodyd.daemon.imaging.progress import Progress


@app.command("verify")
def verify(
    evidence_id: str = typer.Argument(..., help="Evidence id (EV...)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Re-read the sealed image, compare BLAKE3 and piecewise digests, record the result."""
    # Begun by the console script before these imports (custodyd.daemon.entry).
    head_start = claim(evidence_id)
    from custodyd.daemon.acquisition import verify_evidence

    try:
        ctx = context()
        try:
            with progress_bar() as bar:

                def progress(p: Progress) -> None:
                    if bar is not None:
                        bar(p)

                report = verify_evidence(
                    ctx, evidence_id, actor=cli_actor(), progress=progress, head_start=head_start
                )
        finally:
            ctx.close()
    finally:
        if head_start is not None:
            head_start.stop()
    if json_out:
        print_json(report)
    else:
        from rich.console import Console

        console = Console()
        state = "[green]match[/]" if report["match"] else "[bold red]MISMATCH[/]"
        console.print(f"{evidence_id}: {state}  blake3 {report['blake3']}")
        if not report["match"]:
            console.print(f"  expected {report['expected']}")
    if not report["match"]:
        windows = report["mismatched_windows"]
        where = ", ".join(
            [f"window {w['index']} (bytes {w['offset']}+{w['length']})" for w in windows]
            + [
                f"E01 chunk {c['index']} (media offset {c['offset']}: {c['reason']})"
                for c in report.get("bad_chunks") or []
            ]
        )
        # Raised, not typer.Exit: app.main() maps it to exit 20 and prints it on stderr.
        raise FixityMismatch(
            f"evidence {evidence_id} does not match its recorded hash"
            + (f"; differing: {where}" if where else ""),
            evidence_id=evidence_id,
            mismatched_windows=[w["index"] for w in windows],
        )
