"""``custodyd inventory IMAGE_OR_DEVICE``: partitions and filesystems (The Sleuth Kit)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import print_json
from custodyd.daemon.errors import SourceError


@app.command("inventory")
def inventory(
    path: Path = typer.Argument(..., help="Raw image file or block device."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """List the volume system, allocated partitions and filesystems with entry counts."""
    from custodyd.daemon.inventory import inventory as run_inventory

    if not path.exists():
        raise SourceError(f"{path} does not exist", source=str(path))
    result = run_inventory(path)
    if json_out:
        print_json(result)
        return
    console = Console()
    console.print(
        f"[bold]{path}[/]: {result['volume_system'] or 'no volume system'}, "
        f"sector size {result['sector_size']}"
    )
    if result["partitions"]:
        table = Table("start", "length", "description", title="partitions")
        for p in result["partitions"]:
            table.add_row(str(p["start_sector"]), str(p["length_sectors"]), p["description"])
        console.print(table)
    table = Table("offset", "type", "entries", title="filesystems")
    for fs in result["filesystems"]:
        table.add_row(str(fs["offset_sectors"]), fs["type"], str(fs["file_count"]))
    console.print(table)
    for note in result["notes"]:
        console.print(f"[dim]{note}[/]")
