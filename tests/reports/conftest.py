"""Report fixtures: a context with small piecewise windows and a real acquisition of a
shared forensic image (MBR, ext2 + ext4) with SHA-256 and MD5 besides BLAKE3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from custodyd.daemon.acquisition import acquire
from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from tests.api.conftest import acquired, app, client, make_case, make_token  # noqa: F401
from tests.conftest import FORENSIC_IMAGES

KiB = 1024
MBR_IMAGE = FORENSIC_IMAGES / "dfvfs_mbr.raw"
ADMIN = Principal(actor="user:reporter", role="admin")


@pytest.fixture
def rctx(home: Path, clock: ManualClock) -> Iterator[AppContext]:
    """256 KiB piecewise windows: the 4 MiB image has 16 of them."""
    settings = Settings(home=home, block_size=256 * KiB, buffers=3, piecewise_window=256 * KiB)
    context = open_context(settings, clock=clock)
    yield context
    context.close()


@pytest.fixture
def mbr_item(rctx: AppContext) -> dict[str, Any]:
    if not MBR_IMAGE.is_file():
        pytest.skip(f"shared test image missing: {MBR_IMAGE}")
    return acquire(
        rctx,
        MBR_IMAGE,
        "CASE-R",
        actor="user:examiner-e",
        hashes=["sha256", "md5"],
        examiner="Erin Examiner",
        notes="seized at the scene",
    )
