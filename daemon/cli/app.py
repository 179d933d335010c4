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

import atexit
import json
import os
import sys
import threading

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


def run() -> None:
    """The installed ``custodyd`` command: :func:`main`, then an exit without the
    interpreter's teardown.

    Once a command is done, tearing down the modules of the database layer (and the
    garbage collections that come with it) costs 0.2-0.5 s of CPU that the user
    waits for and nothing needs: measured after ``custodyd image``, the time between
    the last output and the process's end. Everything an exit must do still happens:
    ``atexit`` functions run (logging's flush among them) and stdout/stderr are
    flushed. Every file the commands write is made durable before they return
    (:mod:`custodyd.daemon.durable`). While a non-daemon thread still runs, the
    ordinary exit waits for it. ``main()`` itself stays an ordinary function: tests
    call it in-process.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # sys.exit("message"): printed, status 1, as Python does
            print(exc.code, file=sys.stderr)
            code = 1
    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.main_thread()
    ):
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, OSError):
        code = code or 120  # what Python's own exit reports when the flush fails
    os._exit(code)


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
