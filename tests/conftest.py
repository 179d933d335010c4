"""Shared fixtures: an isolated data directory and an application context per test."""

from __future__ import annotations

import os
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
