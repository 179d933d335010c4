"""``custodyd version``."""

from __future__ import annotations

from custodyd.daemon import __version__
from custodyd.daemon.cli.app import app


@app.command()
def version() -> None:
    """Print the custodyd version."""
    print(__version__)
