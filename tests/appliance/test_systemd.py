"""The systemd unit passes ``systemd-analyze verify`` and scores well on ``security``.

``systemd-analyze security`` normally asks the running systemd over D-Bus; in
a container without systemd as PID 1 we use ``--offline=true`` (systemd >= 250),
which scores the unit file itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
RESULTS = REPO / "tests" / "bench" / "results" / "appliance.json"


def unit_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's binary (verify checks it exists)."""
    text = (REPO / "systemd" / "custodyd.service").read_text()
    binary = REPO / ".venv" / "bin" / "custodyd"
    assert binary.exists()
    unit = tmp_path / "custodyd.service"
    unit.write_text(text.replace("/opt/custodyd/venv/bin/custodyd", str(binary)))
    return unit


def record(key: str, value: object) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = value
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def test_unit_has_the_required_settings() -> None:
    text = (REPO / "systemd" / "custodyd.service").read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "User=custodyd",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/custodyd",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
    ):
        assert line in text
    assert "u custodyd" in (REPO / "systemd" / "custodyd.sysusers.conf").read_text()
    assert "/var/lib/custodyd" in (REPO / "systemd" / "custodyd.tmpfiles.conf").read_text()


@needs_analyze
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = unit_copy(tmp_path)
    out = subprocess.run(
        [str(ANALYZE), "verify", str(unit)], capture_output=True, text=True, check=False
    )
    complaints = [
        line for line in (out.stdout + out.stderr).splitlines() if "custodyd.service" in line
    ]
    assert out.returncode == 0, out.stderr
    assert not complaints, complaints


@needs_analyze
def test_systemd_analyze_security_score(tmp_path: Path) -> None:
    unit = unit_copy(tmp_path)
    out = subprocess.run(
        [str(ANALYZE), "--offline=true", "security", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for custodyd\.service: ([\d.]+) (\w+)", out.stdout)
    if match is None:
        pytest.skip(f"systemd-analyze security gave no score here: {out.stderr.strip()}")
    score = float(match.group(1))
    print(f"systemd-analyze security: {score} {match.group(2)}")
    record("systemd_security_exposure", {"score": score, "rating": match.group(2)})
    assert score <= 3.0, out.stdout
