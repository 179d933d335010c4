"""``custodyd verify EVIDENCE_ID``: re-hash a sealed image; exit 20 on a mismatch."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import typer

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.image import cli_actor
from custodyd.daemon.cli.progress import progress_bar
from custodyd.daemon.errors import FixityMismatch

if TYPE_CHECKING:
    from custodyd.daemon.imaging.prefetch import Prefetch
    from custodyd.daemon.imaging.progress import Progress


def _prefetch(evidence_id: str) -> Prefetch | None:
    """Start reading the image where the default store keeps it (nothing if not found there).

    Only a guess from the path layout, before the database is open: whatever it
    reads is merely cached; which file is verified is decided from the database.
    """
    from custodyd.daemon.config import Settings
    from custodyd.daemon.imaging.prefetch import Prefetch

    if not re.fullmatch(r"[A-Za-z0-9_-]+", evidence_id):
        return None
    try:
        found = sorted(Settings().evidence_dir.glob(f"*/{evidence_id}/image.raw"))
    except Exception:  # the real run reports configuration errors properly
        return None
    return Prefetch(found[0]).start() if len(found) == 1 else None


@app.command("verify")
def verify(
    evidence_id: str = typer.Argument(..., help="Evidence id (EV...)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Re-read the sealed image, compare BLAKE3 and piecewise digests, record the result."""
    prefetch = _prefetch(evidence_id)  # the disk works while the imports below run
    from custodyd.daemon.acquisition import verify_evidence

    ctx = context()
    try:
        with progress_bar() as bar:

            def progress(p: Progress) -> None:
                if prefetch is not None:
                    prefetch.stop()  # the hashing pass has begun: it reads on its own
                if bar is not None:
                    bar(p)

            report = verify_evidence(ctx, evidence_id, actor=cli_actor(), progress=progress)
    finally:
        if prefetch is not None:
            prefetch.stop()
        ctx.close()
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
