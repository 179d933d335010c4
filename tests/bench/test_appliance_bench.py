"""Appliance benchmark: plug-in to sealed evidence, against dd + b3sum on the same device.

The daemon's whole path (udev event, read-only check, ledger, read + BLAKE3 +
write, verify pass, inventory, seal) is compared with what an examiner would do
by hand on the same loop device: ``dd bs=16M conv=fsync`` to a file, then
``b3sum --no-mmap`` of the copy (the verification read). Figures are printed and
written to tests/bench/results/appliance.json; no absolute time is asserted.
Size: ``CUSTODYD_BENCH_APPLIANCE_MIB`` (default 256 in CI).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.appliance.conftest import Loops, loops, udevd  # noqa: F401  (fixtures)
from tests.appliance.test_serve import (
    Daemon,
    MiB,
    b3sum,
    evidence,
    ledger_entries,
    random_file,
    source_of,
    spawn,  # noqa: F401  (fixture)
    wait_for,
)
from tests.appliance.test_systemd import record
from tests.conftest import needs_root

SIZE_MIB = int(os.environ.get("CUSTODYD_BENCH_APPLIANCE_MIB", "256"))


@needs_root
@pytest.mark.bench
def test_plug_in_to_sealed_evidence_vs_dd_and_b3sum(
    tmp_path: Path,
    loops: Loops,  # noqa: F811  (the imported fixture)
    spawn: Callable[..., Daemon],  # noqa: F811
) -> None:
    medium = random_file(tmp_path / "medium.raw", SIZE_MIB * MiB)
    expected = b3sum(medium)
    node = loops.attach(medium, read_only=True)
    copy = tmp_path / "dd-copy.raw"
    t0 = time.monotonic()
    subprocess.run(
        ["dd", f"if={node}", f"of={copy}", "bs=16M", "conv=fsync", "status=none"], check=True
    )
    subprocess.run(["b3sum", "--no-mmap", str(copy)], check=True, capture_output=True)
    baseline = time.monotonic() - t0
    copy.unlink()
    loops.detach(node)

    daemon = spawn([medium], "--auto-acquire", "CASE-BENCH")
    t0 = time.monotonic()
    node = loops.attach(medium, read_only=True)
    attached = wait_for(
        lambda: [e for e in ledger_entries(daemon.home) if e.action == "medium.attached"],
        60,
        "medium.attached",
        daemon,
    )
    detected = time.monotonic() - t0
    sealed = wait_for(
        lambda: [e for e in evidence(daemon.home) if source_of(e) == node],
        600,
        "sealed evidence",
        daemon,
    )
    total = time.monotonic() - t0
    assert attached and sealed[0]["hashes"]["blake3"] == expected
    assert daemon.terminate() == 0
    ratio = total / baseline
    print(
        f"\n{SIZE_MIB} MiB loop device: attach->medium.attached {detected:.2f}s (with polling), "
        f"attach->sealed {total:.2f}s; dd conv=fsync + b3sum {baseline:.2f}s; "
        f"ratio {ratio:.2f}"
    )
    record(
        f"plug_in_to_sealed_{SIZE_MIB}MiB",
        {
            "attach_to_sealed_s": round(total, 2),
            "attach_to_ledger_s": round(detected, 2),
            "dd_fsync_plus_b3sum_s": round(baseline, 2),
            "ratio_vs_dd_b3sum": round(ratio, 2),
        },
    )
