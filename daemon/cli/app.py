"""Root Typer application and the one place CLI errors become exit codes.

Sub-command modules (``custodyd.daemon.cli.<name>``) each define their commands
on ``app`` or a sub-Typer and are imported by ``_register``. A
:class:`~custodyd.daemon.errors.CustodydError` ends the process with its
``exit_code`` and a one-line message on stderr (a problem JSON object on stderr
when ``--json`` was given), never a traceback.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

import typer
from rich.console import Console
from rich.markup import escape

from custodyd.daemon.errors import CustodydError

app = typer.Typer(
    name="custodyd",
    help="Digital-evidence preservation and chain-of-custody service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err_console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Digital-evidence preservation and chain-of-custody service."""


def _register() -> None:
    """Import every command module in this package (each registers itself on ``app``)."""
    package = importlib.import_module("custodyd.daemon.cli")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in {"app", "common"}:
            importlib.import_module(f"custodyd.daemon.cli.{module.name}")


def main() -> None:
    _register()
    try:
        # Without standalone mode click *returns* the code of ``typer.Exit(n)``
        # instead of exiting with it; pass it on, or a failing command exits 0.
        result = app(standalone_mode=False)
        if isinstance(result, int) and result:
            sys.exit(result)
    except CustodydError as exc:
        if "--json" in sys.argv:
            print(json.dumps(exc.to_problem()), file=sys.stderr)
        else:
            err_console.print(f"[bold red]error:[/] {escape(exc.detail)}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("[bold red]cancelled[/]")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:
        # Usage errors from (typer's vendored) click: show them, exit 2. Anything
        # else is a bug and keeps its traceback.
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            sys.exit(exc.exit_code)
        raise
