"""Bench reports judge their figures against targets the same way; `bench ledger` reports them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from custodyd.daemon.bench.targets import LEDGER_TARGETS, judge


def test_judge_reports_met_per_bound_and_skips_unmeasured() -> None:
    verdicts = judge(
        {"a": 3.0, "b": 10, "c": None}, {"a": ("<=", 3.0), "b": ("<", 5), "c": (">", 1)}
    )
    assert verdicts == {
        "a": {"op": "<=", "value": 3.0, "got": 3.0, "met": True},
        "b": {"op": "<", "value": 5.0, "got": 10, "met": False},
    }


def test_bench_ledger_json_carries_its_targets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODYD_")}
    done = subprocess.run(
        [sys.executable, "-c", "from custodyd.daemon.cli import main; main()", "bench", "ledger",
         "--entries", "300", "--batch", "100", "--home", str(tmp_path / "home"), "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["targets"]) == set(LEDGER_TARGETS)
    assert all(isinstance(v["met"], bool) for v in report["targets"].values())
