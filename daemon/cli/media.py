"""``custodyd media list``: block devices that are (or could be) media, and their state.

Works with or without a running daemon: devices come from discovery (udev/sysfs),
the state from the ``media`` table the daemon keeps (``unmanaged`` when no
daemon has seen the device), read-only and write-block verdict are read live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from custodyd.daemon.cli import acquire_options as opt
from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json

if TYPE_CHECKING:
    from custodyd.daemon.context import AppContext


media_app = typer.Typer(help="Attached media (block devices) and their protection.")
app.add_typer(media_app, name="media")


def list_media(ctx: AppContext, *, include_system: bool = False) -> list[dict[str, Any]]:
    from sqlmodel import select

    from custodyd.daemon.models import Medium
    from custodyd.hardware import readonly
    from custodyd.hardware.discovery import enumerate_devices
    from custodyd.hardware.system_disks import SystemDisks
    from custodyd.hardware.writeblock import verdict

    settings = ctx.settings
    disks = SystemDisks.scan([settings.home, settings.evidence_dir])
    with ctx.session() as session:
        rows = {m.key: m for m in session.exec(select(Medium)).all()}
    out = []
    for dev in enumerate_devices():
        if not dev.is_disk:
            continue
        excluded = disks.reason_excluded(
            dev, settings.media_allow, settings.media_deny, allow_only=settings.media_allow_only
        )
        if excluded and not include_system:
            continue
        ro = readonly.is_read_only(dev.devnode, dev.kernel_name)
        extra = settings.blockers_file or settings.home / "blockers.json"
        wb, reason = verdict(dev, read_only=ro, extra_file=extra)
        row = rows.get(dev.key)
        state = row.state if row is not None and row.state != "detached" else "unmanaged"
        if excluded:
            state = "system"
        out.append(
            {
                "id": row.id if row else None,
                "key": dev.key,
                "path": dev.devnode,
                "serial": dev.serial,
                "wwn": dev.wwn,
                "vendor": dev.vendor,
                "model": dev.model,
                "bus": dev.bus,
                "usb_id": dev.usb_id,
                "size": dev.size,
                "logical_sector_size": dev.logical_sector_size,
                "physical_sector_size": dev.physical_sector_size,
                "removable": dev.removable,
                "partition_table": dev.partition_table,
                "loop_backing_file": dev.loop_backing_file,
                "read_only": ro,
                "write_block": wb,
                "write_block_reason": reason,
                "state": state,
                "excluded": excluded,
            }
        )
    return out


@media_app.command("list")
def list_command(
    json_out: bool = typer.Option(False, "--json", help="One JSON array on stdout."),
    all_devices: bool = typer.Option(
        False, "--all", help="Also show the machine's own disks (state 'system')."
    ),
) -> None:
    """Attached media: path, serial, size, read-only, write-block verdict, state."""
    ctx = context()
    try:
        items = list_media(ctx, include_system=all_devices)
    finally:
        ctx.close()
    if json_out:
        print_json(items)
        return
    table = Table("path", "serial", "size", "read-only", "write-block", "state", "model")
    for item in items:
        table.add_row(
            item["path"],
            item["serial"] or "-",
            f"{item['size']:,}",
            "yes" if item["read_only"] else "NO",
            item["write_block"],
            item["state"],
            item["model"] or item["loop_backing_file"] or "-",
        )
    Console().print(table)


@media_app.command("acquire")
def acquire_command(
    medium: str = typer.Argument(..., help="Medium id (or key, or device node) from media list."),
    case: str = typer.Option(..., "--case", help="Case reference (created when new)."),
    store: opt.Store = None,
    hashes: opt.Hashes = None,
    examiner: opt.Examiner = None,
    notes: opt.Notes = None,
    no_verify: opt.NoVerify = False,
    image_format: opt.Format = None,
    compression: opt.Compression = None,
    segment_size: opt.SegmentSize = None,
    json_out: opt.JsonOut = False,
) -> None:
    """Acquire a held medium (attached, write-protected) into CASE, as `image` does."""
    from custodyd.daemon.cli.image import acquire_with, report
    from custodyd.daemon.held_media import acquire_held

    chosen = opt.Chosen(
        store, hashes, examiner, notes, no_verify, image_format, compression, segment_size
    )
    ctx = context()
    try:
        output = chosen.output(ctx.settings)
        manifest = acquire_with(acquire_held, ctx, medium, case, chosen=chosen, output=output)
    finally:
        ctx.close()
    report(manifest, json_out)
