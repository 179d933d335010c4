"""``custodyd extract EVIDENCE_ID (--path /dir/file | --inode N) [--partition N] --json``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.cli.orders_support import JsonOpt, cli_actor, console, flag_errors

FLAGS = {"path": "--path", "inode": "--inode", "partition": "--partition"}


@app.command("extract")
def extract(
    evidence_id: str,
    path: Annotated[
        str | None, typer.Option("--path", help="Absolute path in the file system.")
    ] = None,
    inode: Annotated[int | None, typer.Option("--inode", help="Inode (metadata address).")] = None,
    partition: Annotated[
        int | None,
        typer.Option("--partition", help="N-th partition of `custodyd inventory` (from 1)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Extract one file of a sealed image into a new sealed, derived evidence item."""
    from custodyd.daemon.extract import ExtractRequest
    from custodyd.daemon.extract import extract as run

    ctx = context()
    request = ExtractRequest(evidence_id, path=path, inode=inode, partition=partition)
    with flag_errors(FLAGS):
        manifest = run(ctx, request, actor=cli_actor())
    if json_out:
        print_json(manifest.model_dump(mode="json"))
        return
    origin = manifest.derived_from
    where = escape(origin.path) if origin.path else f"inode {origin.inode}"
    console.print(
        f"evidence [bold]{manifest.evidence_id}[/] derived from {manifest.parent} "
        f"({where}, {manifest.bytes} bytes)\n"
        f"  blake3 {manifest.hashes.blake3}\n  sha256 {manifest.hashes.sha256}",
        highlight=False,
    )
