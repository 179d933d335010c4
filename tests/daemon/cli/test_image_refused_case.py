"""Contract (trust issue): ``custodyd image SRC --case ..`` and ``--case $'A\\x1bB'`` exit 2
and write nothing — as whole processes, with a fresh ``$CUSTODYD_HOME`` that must not even
come to exist (no database, no store directory), and a ``--store`` left empty."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "from custodyd.daemon.cli import main; main()"]


@pytest.mark.parametrize("case", ["..", ".", "A\x1bB"], ids=repr)
@pytest.mark.parametrize("with_store", [False, True], ids=["default-store", "store"])
def test_refused_case_creates_nothing(
    home: Path, tmp_path: Path, case: str, with_store: bool
) -> None:
    source = tmp_path / "src.raw"
    source.write_bytes(os.urandom(64 * 1024))
    store = tmp_path / "store"
    store.mkdir()
    argv = [*CLI, "image", str(source), "--case", case, "--json"]
    if with_store:
        argv += ["--store", str(store)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy())
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert not home.exists(), sorted(str(p) for p in home.rglob("*"))
    assert list(store.iterdir()) == []
