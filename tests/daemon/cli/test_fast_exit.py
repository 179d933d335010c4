"""The installed command ends without the interpreter's teardown, and loses nothing by it:
exit codes, piped output and atexit functions are those of an ordinary exit."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO

# An object whose finalizer shows whether module teardown ran, and an atexit function.
PROBE = """
import atexit, sys
class Witness:
    def __del__(self):
        sys.stderr.write("teardown ran\\n")
sys.modules["__main__"].witness = Witness()
atexit.register(lambda: sys.stderr.write("atexit ran\\n"))
sys.argv = ["custodyd", *sys.argv[1:]]
from custodyd.daemon.cli import {entry}
{entry}()
"""


def custodyd(entry: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(entry=entry), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_skips_the_teardown_but_keeps_output_codes_and_atexit() -> None:
    ordinary, fast = custodyd("main", "version"), custodyd("run", "version")
    assert ordinary.returncode == fast.returncode == 0
    assert fast.stdout == ordinary.stdout != ""
    assert "teardown ran" in ordinary.stderr
    assert "teardown ran" not in fast.stderr
    assert "atexit ran" in fast.stderr


def test_run_keeps_every_exit_code(home: Path) -> None:
    for args in (["no-such-command"], ["verify", "EV-NOPE", "--json"], ["--help"]):
        ordinary, fast = custodyd("main", *args), custodyd("run", *args)
        assert fast.returncode == ordinary.returncode, (args, fast.stderr)
        assert fast.stdout == ordinary.stdout, args
        assert fast.stderr.replace("atexit ran\n", "") == ordinary.stderr.replace(
            "atexit ran\n", ""
        ).replace("teardown ran\n", ""), args


def test_the_installed_command_is_run() -> None:
    # The console script's entry point (a verify head start first, see daemon/entry.py) runs run().
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["custodyd"] == "custodyd.daemon.entry:main"
    probe = PROBE.replace("from custodyd.daemon.cli import {entry}\n{entry}()", "")
    probe += "from custodyd.daemon.entry import main\nmain()\n"
    installed = subprocess.run(
        [sys.executable, "-c", probe, "version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert installed.returncode == 0 and installed.stdout != ""
    assert "teardown ran" not in installed.stderr and "atexit ran" in installed.stderr
