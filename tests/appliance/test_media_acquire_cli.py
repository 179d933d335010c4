"""``custodyd media acquire MEDIUM_ID --case C``: a medium ``serve`` holds, acquired from
the command line (real udevd, loop devices, the daemon running beside the CLI)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.appliance.conftest import Loops
from tests.appliance.test_serve import (  # noqa: F401
    CUSTODYD,
    Daemon,
    b3sum,
    random_file,
    spawn,
    wait_for,
)
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.slow]

MiB = 1 << 20


def cli(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CUSTODYD, *args], env=daemon.env, capture_output=True, text=True, timeout=300
    )


def held(daemon: Daemon, node: str) -> dict[str, Any]:
    def find() -> list[dict[str, Any]]:
        return [
            m
            for m in daemon.cli("media", "list", "--json")
            if m["path"] == node and m["state"] == "held"
        ]

    found: dict[str, Any] = wait_for(find, 30, f"{node} held", daemon)[0]
    return found


def test_media_acquire_a_held_medium(
    tmp_path: Path,
    loops: Loops,
    spawn: Callable[..., Daemon],  # noqa: F811
) -> None:
    source = random_file(tmp_path / "held.raw", 16 * MiB)
    writable = random_file(tmp_path / "writable.raw", 4 * MiB)
    daemon = spawn([source, writable])  # no --auto-acquire: media are held
    node = loops.attach(source, read_only=True)
    medium = held(daemon, node)

    proc = cli(daemon, "media", "acquire", str(medium["id"]), "--case", "HELD", "--hash",
               "sha256", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)
    assert manifest["status"] == "sealed" and manifest["verified"] is True
    assert manifest["medium_id"] == medium["id"] and manifest["source"]["path"] == node
    assert manifest["hashes"]["blake3"] == b3sum(source)
    assert manifest["hashes"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    listed = {m["path"]: m for m in daemon.cli("media", "list", "--json")}
    assert listed[node]["state"] == "acquired"
    history = daemon.cli("history", manifest["evidence_id"], "--json")
    entries = history["entries"] if isinstance(history, dict) else history
    started = [e for e in entries if e["action"] == "acquisition.started"]
    assert started and started[0]["payload"]["medium_id"] == medium["id"]

    # Not write-protected any more: refused, nothing recorded.
    rw_node = loops.attach(writable, read_only=False)  # the daemon sets it read-only
    rw = held(daemon, rw_node)
    subprocess.run(["blockdev", "--setrw", rw_node], check=True)
    refused = cli(daemon, "media", "acquire", str(rw["id"]), "--case", "RW", "--json")
    assert refused.returncode == 12, refused.stderr
    assert "not write-protected" in refused.stderr
    assert daemon.cli("evidence", "list", "--case", "RW", "--status", "all", "--json") == []

    unknown = cli(daemon, "media", "acquire", "99999", "--case", "HELD")
    assert unknown.returncode == 3 and "no medium" in unknown.stderr
