"""``custodyd report EVIDENCE_ID`` / ``custodyd report --case REF``: the PDF report.

Only translation: the domain (:mod:`custodyd.daemon.reports`) gathers, renders and
records the issue (``report.issued`` with the PDF's SHA-256); this writes the file.
The local operator reads as an administrator, as every other command here does.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import typer

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import print_json


@app.command("report")
def report_cmd(
    evidence_id: str | None = typer.Argument(None, help="Evidence id (EV...)."),
    case: str | None = typer.Option(None, "--case", help="Report on the whole case REF instead."),
    out: Path | None = typer.Option(
        None, "--out", help="PDF to write ('-' for stdout); default ./<subject>-report.pdf."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print what was issued as JSON."),
) -> None:
    """Write the acquisition and custody report (PDF/A) of an item or a case."""
    from custodyd.daemon.auth.principal import Principal
    from custodyd.daemon.auth.roles import ADMIN
    from custodyd.daemon.cli.common import context
    from custodyd.daemon.errors import InvalidInput
    from custodyd.daemon.reports import record_issue, render_case_report, render_evidence_report

    if (evidence_id is None) == (case is None):
        raise InvalidInput("give either an EVIDENCE_ID or --case REF")
    principal = Principal(actor=f"cli:{getpass.getuser()}", role=ADMIN)
    ctx = context()
    try:
        if case is not None:
            rendered = render_case_report(ctx, principal, case)
        else:
            assert evidence_id is not None
            rendered = render_evidence_report(ctx, principal, evidence_id)
        to_stdout = out is not None and str(out) == "-"
        target = out if out is not None else Path(rendered.filename)
        # The file is complete on disk before the issue is recorded, and appears under
        # its name only once the issue is recorded: no recorded report that was never
        # written, no written report that was never recorded.
        tmp = None if to_stdout else _write_aside(target, rendered.pdf)
        try:
            issued = record_issue(ctx, principal, rendered)
        except BaseException:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise
    finally:
        ctx.close()
    if tmp is not None:
        from custodyd.daemon.durable import fsync_dir

        tmp.replace(target)
        fsync_dir(target.parent)
    else:
        sys.stdout.buffer.write(issued.pdf)
        sys.stdout.flush()
    summary = issued.summary() | {"path": None if to_stdout else str(target)}
    if json_out:
        (_stderr_json if to_stdout else print_json)(summary)
    else:
        print(
            f"{'stdout' if to_stdout else target}: {summary['bytes']} bytes, sha256 "
            f"{issued.sha256}; covers ledger entries up to {summary['last_index']} "
            f"(checkpoint size {summary['tree_size']}); issue recorded as ledger entry "
            f"{issued.ledger_index}",
            file=sys.stderr,
        )


def _write_aside(path: Path, data: bytes) -> Path:
    """A complete, fsynced temporary beside ``path`` (renamed over it by the caller)."""
    from custodyd.daemon.durable import write_all
    from custodyd.daemon.errors import DestinationError

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write_all(f.fileno(), data)
            os.fsync(f.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DestinationError(f"cannot write {path}: {exc.strerror}") from None
    return tmp


def _stderr_json(obj: object) -> None:
    import json

    print(json.dumps(obj), file=sys.stderr)
