"""``custodyd install-udev-rules``: put the read-only rules where udev reads them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import typer

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import print_json
from custodyd.daemon.errors import ConfigError, DestinationError

RULES = ("61-custodyd.rules",)
LOOP_RULES = ("61-custodyd-loop.rules",)


def rules_dir() -> Path:
    """The ``udev-rules/`` folder of the source tree this package runs from."""
    import custodyd.hardware

    folder = Path(custodyd.hardware.__file__).resolve().parent.parent / "udev-rules"
    if not (folder / RULES[0]).is_file():
        raise ConfigError(
            f"udev rules not found at {folder}; install from a source checkout "
            "or copy udev-rules/*.rules to /etc/udev/rules.d by hand"
        )
    return folder


def install_rules(dest: Path, *, with_loop: bool = False) -> list[Path]:
    source = rules_dir()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        written = []
        for name in RULES + (LOOP_RULES if with_loop else ()):
            target = dest / name
            shutil.copyfile(source / name, target)
            target.chmod(0o644)
            written.append(target)
    except OSError as exc:
        raise DestinationError(f"cannot write udev rules to {dest}: {exc}") from exc
    return written


@app.command("install-udev-rules")
def install_udev_rules(
    dest: Path = typer.Option(Path("/etc/udev/rules.d"), help="Rules directory."),
    with_loop: bool = typer.Option(
        False, "--with-loop", help="Also treat loop devices as media (labs, tests)."
    ),
    reload: bool = typer.Option(True, help="Ask a running udevd to reload its rules."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Install the rules that force new external block devices read-only."""
    written = install_rules(dest, with_loop=with_loop)
    reloaded = False
    udevadm = shutil.which("udevadm")
    if reload and udevadm and Path("/run/udev/control").exists():
        reloaded = subprocess.run([udevadm, "control", "--reload"], check=False).returncode == 0
    if json_out:
        print_json({"installed": [str(p) for p in written], "reloaded": reloaded})
    else:
        for path in written:
            typer.echo(f"installed {path}")
        typer.echo("udev rules reloaded" if reloaded else "udevd not reloaded")
