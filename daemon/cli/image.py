"""``custodyd image SOURCE --case CASE``: acquire a device or image file into the store.

Ctrl-C cancels cleanly: the item is marked ``incomplete`` (ledger
``acquisition.incomplete``), the partial output keeps a ``.incomplete`` name and
the command exits 130.
``custodyd image --resume EVIDENCE_ID [SOURCE]`` continues an incomplete raw
acquisition from its rescue map (SOURCE: where the same medium is now, if it moved).
"""

from __future__ import annotations

import getpass
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

from custodyd.daemon.cli import acquire_options as opt
from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.progress import progress_bar

if TYPE_CHECKING:
    from custodyd.daemon.imaging.progress import ProgressCallback


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


@app.command("image")
def image(
    source: Path | None = typer.Argument(
        None, help="Block device or image file to acquire (with --resume: optional)."
    ),
    case: str | None = typer.Option(None, "--case", help="Case reference (created when new)."),
    resume_id: str | None = typer.Option(
        None,
        "--resume",
        help="Continue the incomplete acquisition EVIDENCE_ID from its rescue map.",
        metavar="EVIDENCE_ID",
    ),
    store: opt.Store = None,
    hashes: opt.Hashes = None,
    examiner: opt.Examiner = None,
    notes: opt.Notes = None,
    no_verify: opt.NoVerify = False,
    image_format: opt.Format = None,
    compression: opt.Compression = None,
    segment_size: opt.SegmentSize = None,
    include_hidden: bool = typer.Option(
        False,
        "--include-hidden",
        help="Open an ATA disk's HPA (volatile, restored after) and image its native size.",
    ),
    json_out: opt.JsonOut = False,
) -> None:
    """Image SOURCE with BLAKE3 (+ requested digests), verify, inventory and seal it."""
    from custodyd.daemon.acquisition import acquire
    from custodyd.daemon.errors import InvalidInput

    if resume_id is not None:
        fixed = {
            "--case": case,
            "--store": store,
            "--hash": hashes,
            "--format": image_format,
            "--compression": compression,
            "--segment-size": segment_size,
            "--examiner": examiner,
            "--notes": notes,
            "--include-hidden": include_hidden or None,
        }
        given = [flag for flag, value in fixed.items() if value is not None]
        if given:
            raise InvalidInput(
                f"{', '.join(given)}: fixed by the item being resumed; give only "
                "--resume EVIDENCE_ID [SOURCE]"
            )
        _resume(resume_id, source, verify=not no_verify, json_out=json_out)
        return
    if source is None or case is None:
        raise InvalidInput("give SOURCE and --case CASE (or --resume EVIDENCE_ID)")
    from custodyd.daemon.cases import check_ref

    check_ref(case)  # before the context: a refused ref creates no home, database or store dir
    chosen = opt.Chosen(
        store, hashes, examiner, notes, no_verify, image_format, compression, segment_size
    )
    ctx = context()
    try:
        output = chosen.output(ctx.settings)
    except BaseException:
        ctx.close()
        raise
    try:
        from custodyd.daemon.hidden import hidden_areas_for_acquisition

        with hidden_areas_for_acquisition(
            ctx, source, actor=cli_actor(), case_ref=case, include_hidden=include_hidden
        ):
            manifest = acquire_with(acquire, ctx, source, case, chosen=chosen, output=output)
        if str(manifest.get("image_path") or "").startswith("s3://"):
            # only an S3 item has an Object Lock to set (the orders layer costs ~40 ms
            # of imports, so a local acquisition does not load it)
            from custodyd.daemon.orders.object_lock import lock_new_item

            lock_new_item(ctx, manifest, actor=cli_actor())
    finally:
        ctx.close()
    report(manifest, json_out)


def _resume(evidence_id: str, source: Path | None, *, verify: bool, json_out: bool) -> None:
    from custodyd.daemon.resume import resume

    ctx = context()
    try:
        manifest = with_progress_and_cancel(
            lambda progress, cancel: resume(
                ctx,
                evidence_id,
                actor=cli_actor(),
                source=source,
                verify=verify,
                progress=progress,
                cancel=cancel,
            )
        )
    finally:
        ctx.close()
    report(manifest, json_out)


def acquire_with(
    run: Callable[..., dict[str, Any]], *target: Any, chosen: opt.Chosen, output: Any
) -> dict[str, Any]:
    """``run(*target, ...)`` — :func:`~custodyd.daemon.acquisition.acquire` or
    :func:`~custodyd.daemon.held_media.acquire_held` — with the options ``image`` and
    ``media acquire`` share, the progress bar and Ctrl-C as a clean cancel."""
    return with_progress_and_cancel(
        lambda progress, cancel: run(
            *target,
            actor=cli_actor(),
            progress=progress,
            cancel=cancel,
            output=output,
            **chosen.keywords(),
        )
    )


def report(manifest: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print_json(manifest)
    else:
        show_manifest(manifest)


def with_progress_and_cancel(
    run: Callable[[ProgressCallback | None, threading.Event], dict[str, Any]],
) -> dict[str, Any]:
    """Run an acquisition with the progress bar (on a terminal) and Ctrl-C as a clean
    cancel (the item is recorded ``incomplete``; the command exits 130)."""
    cancel = threading.Event()

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        cancel.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with progress_bar() as progress:
            return run(progress, cancel)
    finally:
        signal.signal(signal.SIGINT, previous)


def show_manifest(manifest: dict[str, Any]) -> None:
    from rich.console import Console  # only when a person reads it (start-up time)

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
