"""tests/run's guard: as root, a skipped root/postgres test fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, needs_root

CONFTEST = (
    "from tests.conftest import (needs_root, pytest_collection_modifyitems,\n"
    "    pytest_runtest_logreport, pytest_sessionfinish)\n"
)


def _run(tmp_path: Path, body: str) -> int:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_it.py").write_text(
        "import pytest\nfrom tests.conftest import needs_root\n" + body
    )
    env = {**os.environ, "CUSTODYD_REQUIRE_PRIVILEGED_TESTS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return done.returncode


@needs_root
def test_a_root_test_skipped_as_root_fails_the_run(tmp_path: Path) -> None:
    body = "@needs_root\ndef test_fuse():\n    pytest.skip('no /dev/fuse')\n"
    assert _run(tmp_path, body) == 1


@needs_root
def test_environment_skips_and_ordinary_skips_pass(tmp_path: Path) -> None:
    body = (
        "@needs_root\ndef test_parts():\n    pytest.skip('environment: no partition tables')\n"
        "def test_plain():\n    pytest.skip('not a privileged test')\n"
    )
    assert _run(tmp_path, body) == 0
