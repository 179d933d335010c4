"""``custodyd serve``: the appliance daemon (udev monitor, acquisitions, scheduler, API)."""

from __future__ import annotations

import typer

from custodyd.daemon.cli.app import app
from custodyd.daemon.errors import InvalidInput


@app.command()
def serve(
    host: str | None = typer.Option(None, help="API listen address (settings.host)."),
    port: int | None = typer.Option(None, help="API port (settings.port)."),
    auto_acquire: str | None = typer.Option(
        None,
        "--auto-acquire",
        metavar="CASE",
        help="Acquire every new write-protected medium into CASE (settings.auto_acquire).",
    ),
    no_udev: bool = typer.Option(False, "--no-udev", help="Do not watch block devices."),
    no_api: bool = typer.Option(False, "--no-api", help="Do not start the HTTP API."),
    log_format: str = typer.Option(
        "auto",
        "--log-format",
        help="Logs on stderr: text, json, or auto (text on a terminal, JSON otherwise).",
    ),
) -> None:
    """Run the daemon until SIGTERM/SIGINT."""
    from custodyd.daemon.config import Settings
    from custodyd.daemon.serve.daemon import ServeOptions
    from custodyd.daemon.serve.daemon import serve as run
    from custodyd.daemon.serve.logs import LOG_FORMATS, setup_logging

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if auto_acquire is not None:
        overrides["auto_acquire"] = auto_acquire
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if log_format not in LOG_FORMATS:
        raise InvalidInput(f"the log format is one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    setup_logging(log_format=log_format)
    raise typer.Exit(run(settings, ServeOptions(use_udev=not no_udev, api=not no_api)))
