"""``custodyd image SOURCE --case CASE``: acquire a device or image file into the store.

Ctrl-C cancels cleanly: the item is marked ``incomplete`` (ledger
``acquisition.incomplete``), the partial output keeps a ``.incomplete`` name and
the command exits 130.
"""

from __future__ import annotations

import getpass
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Console

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.progress import progress_bar


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


@app.command("image")
def image(
    source: Path = typer.Argument(..., help="Block device or image file to acquire."),
    case: str = typer.Option(..., "--case", help="Case reference (created when new)."),
    store: Path | None = typer.Option(None, "--store", help="Evidence store directory."),
    hashes: str | None = typer.Option(
        None, "--hash", help="Extra digests besides BLAKE3: sha256,md5,sha1."
    ),
    examiner: str | None = typer.Option(None, "--examiner"),
    notes: str | None = typer.Option(None, "--notes"),
    no_verify: bool = typer.Option(False, "--no-verify", help="Skip the re-read verify pass."),
    image_format: str | None = typer.Option(
        None, "--format", help="raw (default) or e01 (EnCase 6 Expert Witness)."
    ),
    compression: str | None = typer.Option(
        None, "--compression", help="E01 chunk compression: none, fast (default) or best."
    ),
    segment_size: str | None = typer.Option(
        None, "--segment-size", help="E01 segment size, e.g. 650M, 2G (default 1500M)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Image SOURCE with BLAKE3 (+ requested digests), verify, inventory and seal it."""
    from custodyd.daemon.acquisition import acquire, default_output
    from custodyd.daemon.imaging.output import ImageFormat

    ctx = context()
    try:
        output = ImageFormat.of(
            image_format, compression, segment_size, defaults=default_output(ctx.settings)
        )
    except BaseException:
        ctx.close()
        raise
    cancel = threading.Event()

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        cancel.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with progress_bar() as progress:
            manifest = acquire(
                ctx,
                source,
                case,
                actor=cli_actor(),
                hashes=hashes.split(",") if hashes else (),
                examiner=examiner,
                notes=notes,
                verify=not no_verify,
                store=store,
                progress=progress,
                cancel=cancel,
                output=output,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
        ctx.close()
    if json_out:
        print_json(manifest)
    else:
        show_manifest(manifest)


def show_manifest(manifest: dict[str, Any]) -> None:
    console = Console()
    console.print(f"[bold]evidence[/] {manifest['evidence_id']}  case {manifest['case']}")
    console.print(f"  status   {manifest['status']}  verified {manifest.get('verified')}")
    console.print(f"  bytes    {manifest['bytes']}  in {manifest.get('seconds')} s")
    for name, digest in (manifest.get("hashes") or {}).items():
        console.print(f"  {name:<8} {digest}")
    errors = manifest.get("read_errors") or []
    console.print(f"  read errors {len(errors)} range(s)")
    for bad in errors:
        console.print(
            f"    bytes {bad['offset']}+{bad['length']} (sector {bad['start_sector']}"
            f"+{bad['sectors']}) zero-filled"
        )
    console.print(f"  image    {manifest['image_path']}")
    segments = (manifest.get("image") or {}).get("segments") or []
    if len(segments) > 1:
        console.print(f"  segments {len(segments)} (.E01 .. {Path(segments[-1]).suffix})")
