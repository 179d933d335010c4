"""``custodyd serve`` killed (SIGKILL) with an acquisition in flight, then one run of
``custodyd evidence list --case C --status all --json``: every item it lists is sealed
or incomplete exactly as ``tests/imaging/invariants.py`` checks on disk.

The ``custodyd image`` half of the crash test is ``tests/imaging/test_crash.py``.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.appliance.conftest import Loops
from tests.appliance.test_serve import Daemon, _wait_acquiring, random_file, spawn  # noqa: F401
from tests.conftest import needs_root
from tests.imaging.invariants import check_store

pytestmark = [needs_root, pytest.mark.slow]

MiB = 1 << 20
SEED = os.environ.get("CUSTODYD_CRASH_SEED")


def test_sigkill_serve_with_an_acquisition_in_flight(
    tmp_path: Path,
    loops: Loops,
    spawn: Callable[..., Daemon],  # noqa: F811
) -> None:
    medium = random_file(tmp_path / "medium.raw", 256 * MiB)
    seed = int(SEED or time.time_ns() % 1_000_000)
    rng = random.Random(seed)
    # 128 MiB/s: about 2 s of reading, then verify, inventory and sealing.
    for i, delay in enumerate(rng.uniform(0, 3.0) for _ in range(2)):
        case = f"SERVE-{i}"
        daemon = spawn(
            [medium],
            "--auto-acquire",
            case,
            home=tmp_path / f"home-{i}",
            CUSTODYD_ACQUIRE_MAX_BPS=str(128 * MiB),
        )
        node = loops.attach(medium, read_only=True)
        _wait_acquiring(daemon, node)
        time.sleep(delay)
        daemon.kill()  # SIGKILL: no clean-up at all
        loops.detach(node)
        items = daemon.cli("evidence", "list", "--case", case, "--status", "all", "--json")
        context = f"serve killed {delay:.2f}s into reading (seed {seed})"
        assert len(items) == 1, context
        try:
            check_store(items, daemon.home / "evidence")
        except AssertionError as exc:
            raise AssertionError(f"{context}: {exc}") from None
