"""Ledger benchmark at a CI-friendly size, on SQLite and PostgreSQL.

Figures: sustained durable append rate (batches of 1000, one signed checkpoint
per batch), inclusion/consistency proof p99, custody history p99, full verify.
Outside references measured in the same run: plain inserts of the same leaf
bytes into a bare table with the same durability (``sqlite3`` module, WAL,
``synchronous=FULL``, one commit per batch), and ``sha256sum`` over the same
leaf bytes. Only loose ratios are asserted (never an absolute time); the
1,000,000-entry figures in the README come from ``custodyd bench ledger``.
Size: ``CUSTODYD_BENCH_LEDGER_ENTRIES`` (default 50,000; PostgreSQL a fifth).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from custodyd.daemon.config import Settings
from custodyd.daemon.context import open_context
from custodyd.daemon.ledger import bench
from custodyd.daemon.ledger.entry import encode_leaf
from tests.pg import PostgresServer

ENTRIES = int(os.environ.get("CUSTODYD_BENCH_LEDGER_ENTRIES", "50000"))
RESULTS = Path(__file__).parent / "results" / "ledger.json"
BATCH = 1000

pytestmark = [pytest.mark.bench, pytest.mark.slow]


def _leaves(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        ev = bench._event(i, max(1, n // bench.ENTRIES_PER_ITEM))
        out.append(
            encode_leaf(i, "2026-01-01T00:00:00.000000Z", ev.actor, ev.action, ev.case,
                        ev.evidence, ev.payload)
        )  # fmt: skip
    return out


def _plain_sqlite_inserts(path: Path, leaves: list[bytes]) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL)")
    started = time.perf_counter()
    for lo in range(0, len(leaves), BATCH):
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO t VALUES (?, ?)", enumerate(leaves[lo : lo + BATCH], start=lo))
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    db.close()
    return len(leaves) / seconds


def _sha256sum_seconds(path: Path, leaves: list[bytes]) -> float:
    path.write_bytes(b"".join(leaves))
    started = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
    return time.perf_counter() - started


def _record(engine: str, figures: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[engine] = figures
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nledger bench ({engine}): {json.dumps(figures)}")


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_ledger_bench(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    entries = ENTRIES if engine == "sqlite" else max(1000, ENTRIES // 5)
    url = None
    if engine == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database("bench")
    ctx = open_context(Settings(home=tmp_path / "home", database_url=url))
    try:
        figures = bench.run(ctx, entries, batch=BATCH, samples=300)
    finally:
        ctx.ledger.close()
        ctx.close()
    leaves = _leaves(entries)
    baseline = _plain_sqlite_inserts(tmp_path / "plain.db", leaves)
    sha_s = _sha256sum_seconds(tmp_path / "leaves.bin", leaves)
    figures.update(
        {
            "plain_sqlite_insert_per_s": round(baseline, 1),
            "append_vs_plain_insert": round(figures["append_per_s"] / baseline, 3),
            "sha256sum_s": round(sha_s, 3),
        }
    )
    _record(engine, figures)
    assert figures["verify_ok"]
    assert figures["entries"] == entries
    assert figures["history_entries_mean"] == pytest.approx(bench.ENTRIES_PER_ITEM, rel=0.2)
    # The ledger does far more per entry (canonical JSON, Merkle nodes, signing), but it
    # must stay within two orders of magnitude of bare inserts with the same durability.
    assert figures["append_vs_plain_insert"] > 0.005
