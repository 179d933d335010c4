"""The ``custodyd`` command line: one Typer app, sub-commands registered per module."""

from custodyd.daemon.cli.app import app, main, run

__all__ = ["app", "main", "run"]
