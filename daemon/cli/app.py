"""Root Typer application and the one place CLI errors become exit codes.

Sub-command modules (``custodyd.daemon.cli.<name>``) each define their commands
on ``app`` or a sub-Typer. They are imported lazily: :class:`LazyGroup` imports
only the module of the command being run, as named by the static table in
:mod:`custodyd.daemon.cli.commands` (add a row there for a new command).
A :class:`~custodyd.daemon.errors.CustodydError` ends the process with its
``exit_code`` and a one-line message on stderr (a problem JSON object on stderr
when ``--json`` was given), never a traceback.
"""

from __future__ import annotations

import json
import sys

import typer

from custodyd.daemon.cli.lazy import LazyGroup
from custodyd.daemon.errors import CustodydError

app = typer.Typer(
    name="custodyd",
    cls=LazyGroup,
    help="Digital-evidence preservation and chain-of-custody service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Digital-evidence preservation and chain-of-custody service."""


def _error(message: str) -> None:
    """A red one-line message on stderr (rich is imported only when there is one)."""
    from rich.console import Console

    Console(stderr=True).print(message, highlight=False)


def main() -> None:
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
            from rich.markup import escape  # a detail is text, never markup

            _error(f"[bold red]error:[/] {escape(exc.detail)}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _error("[bold red]cancelled[/]")
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


def load_all() -> None:
    """Import every module of this package, so ``app`` holds every command.

    For tests and tools that inspect the whole command tree; ``custodyd`` itself
    never needs this (see :mod:`custodyd.daemon.cli.lazy`).
    """
    import importlib
    import pkgutil

    package = importlib.import_module("custodyd.daemon.cli")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"custodyd.daemon.cli.{module.name}")


_register = load_all  # the name tests used before the CLI became lazy
