"""Issue 11's contract as an outside check calls it: ``orders add`` then ``orders decide
ORDER --outcome granted --json`` (no separate ``orders followup``) gives the order with
``status`` ``executing``; the follow-up's arrival is recorded before the decision, and
disposal stays refused until ``orders executed``. Whole ``custodyd`` processes."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.api.live import cli
from tests.conftest import FORENSIC_IMAGES
from tests.orders.conftest import REQUEST_FLAGS

IMAGE = FORENSIC_IMAGES / "dfvfs_ext2.raw"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(home, *args, check=False)


def one_json(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_decide_right_after_add_grants_and_holds(tmp_path: Path) -> None:
    if not IMAGE.is_file():
        pytest.skip(f"shared test image missing: {IMAGE}")
    home = tmp_path / "home"
    eid = one_json(run(home, "image", str(IMAGE), "--case", "DEC", "--json"))["evidence_id"]
    assert run(home, "users", "add", "ivy", "--role", "investigator").returncode == 0
    today = datetime.now(UTC).date().isoformat()
    made = one_json(
        run(home, "orders", "add", "--evidence", eid, "--regime", "intl-expedited-60",
            "--issued", today, "--ref", "DEC-1", *REQUEST_FLAGS,
            "--confidential", "--need-to-know", "ivy", "--json")
    )  # fmt: skip
    oid = str(made["id"])
    granted = one_json(run(home, "orders", "decide", oid, "--outcome", "granted", "--json"))
    assert granted["id"] == made["id"] and granted["status"] == "executing"
    assert granted["decision"] == "granted" and granted["followup_at"]
    assert run(home, "dispose", eid, "--method", "destroy", "--reason", "x").returncode == 4
    done = run(home, "orders", "executed", oid, "--basis", "seizure under warrant 4/2026")
    assert done.returncode == 0, done.stderr
    # a second decision has nothing to decide
    assert run(home, "orders", "decide", oid, "--outcome", "granted", "--json").returncode == 4
    history = json.loads(run(home, "history", eid, "--json").stdout)
    entries = history["entries"] if isinstance(history, dict) else history
    actions = [e["action"] for e in entries if str(e["action"]).startswith("order.")]
    assert actions == ["order.created", "order.followup", "order.decided", "order.executed"]
