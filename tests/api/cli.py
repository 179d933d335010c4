"""The CLI run in this process (fast enough for a corpus of inputs), as ``custodyd`` would.

``run_cli(*args)`` calls :func:`custodyd.daemon.cli.main` with ``args`` and returns
(exit code, stdout, stderr): the same error mapping as the installed command. The
data directory is ``$CUSTODYD_HOME`` (the ``home`` fixture sets it).
"""

from __future__ import annotations

import contextlib
import io
import sys

from custodyd.daemon.cli import main


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["custodyd", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()
