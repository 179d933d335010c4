"""Shared fixtures: an isolated data directory and an application context per test."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from tests.pg import fresh_postgres_url, postgres_server, postgres_url  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
# The shared test images sit beside the checkout (``../shared``); CUSTODYD_TESTDATA
# points elsewhere when the checkout lives somewhere else.
FORENSIC_IMAGES = Path(
    os.environ.get("CUSTODYD_TESTDATA") or REPO.parent / "shared" / "testdata" / "forensic-images"
)


def is_root() -> bool:
    return os.geteuid() == 0


needs_root = pytest.mark.skipif(not is_root(), reason="needs root (loop devices, udev, FUSE)")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh $CUSTODYD_HOME; the environment points at it so CLI runs see it too."""
    home = tmp_path / "home"
    monkeypatch.setenv("CUSTODYD_HOME", str(home))
    for var in list(os.environ):
        if var.startswith("CUSTODYD_") and var != "CUSTODYD_HOME":
            monkeypatch.delenv(var)
    return home


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ctx(settings: Settings, clock: ManualClock) -> Iterator[AppContext]:
    context = open_context(settings, clock=clock)
    yield context
    context.close()


# --- root-only tests must run where they can: CI (root) fails if one was skipped ------------
#
# A test needs root when it is marked ``root`` or carries ``needs_root``; it needs
# PostgreSQL when marked ``postgres`` or when it uses the server fixtures. Running as
# root with CUSTODYD_REQUIRE_PRIVILEGED_TESTS=1 (tests/run sets it), a skip of such a
# test fails the session — a missing package, /dev/fuse or udevd must not turn CI
# silently green. Skips whose reason starts with "environment:" (this kernel has no
# partition tables, / is not a block device) name a property of the machine that no
# installation step can change, and are only reported.
PRIVILEGED_FIXTURES = {"postgres_server", "postgres_url", "fresh_postgres_url"}
ROOT_FIXTURES = {"udevd", "loops", "loop_device"}
_privileged_skips: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        reasons = [str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")]
        fixtures = set(getattr(item, "fixturenames", ()))
        if any(r.startswith("needs root") for r in reasons) or ROOT_FIXTURES & fixtures:
            item.add_marker(pytest.mark.root)
        if PRIVILEGED_FIXTURES & fixtures:
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.skipped or os.environ.get("CUSTODYD_REQUIRE_PRIVILEGED_TESTS") != "1":
        return
    if not (set(report.keywords) & {"root", "postgres"}) or not is_root():
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    if not reason.removeprefix("Skipped: ").startswith("environment:"):
        _privileged_skips.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _privileged_skips:
        print("\nroot/postgres tests were skipped although running as root:", file=sys.stderr)
        for line in _privileged_skips:
            print(f"  {line}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
