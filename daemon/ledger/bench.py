"""Ledger benchmark: sustained append rate, proof and history latency, full verify time.

Used by ``custodyd bench ledger`` and ``tests/bench/test_ledger_bench.py`` so the
figures in the README can be reproduced. Appends go through the real, durable
path (:meth:`Ledger.append_many`, one transaction + one signed checkpoint per
batch).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from custodyd.daemon.errors import InvalidInput
from custodyd.daemon.ledger import merkle
from custodyd.daemon.ledger.host import StagingHost
from custodyd.daemon.ledger.service import Event

ENTRIES_PER_ITEM = 20


def p99(samples: list[float]) -> float:
    if len(samples) < 2:
        return samples[0] if samples else 0.0
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def _event(i: int, items: int) -> Event:
    return Event(
        action="evidence.accessed" if i % 3 else "evidence.acquired",
        actor=f"user:examiner{i % 7}",
        case=f"CASE-{(i % items) // 50:05d}",
        evidence=f"EV{i % items:08d}",
        payload={
            "hashes": {"blake3": f"{i:064x}", "sha256": f"{i * 7:064x}"},
            "bytes": 512 * (i + 1),
            "reason": "benchmark",
        },
    )


def run(
    ctx: StagingHost,
    entries: int,
    *,
    batch: int = 1000,
    samples: int = 500,
    seed: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    ledger = ctx.ledger
    start_size = ledger.size()
    items = max(1, entries // ENTRIES_PER_ITEM)
    started, started_cpu = time.perf_counter(), time.process_time()
    done = 0
    while done < entries:
        n = min(batch, entries - done)
        ledger.append_many([_event(start_size + done + k, items) for k in range(n)])
        done += n
        if progress:
            progress("append", done, entries)
    append_s = time.perf_counter() - started
    append_cpu_s = time.process_time() - started_cpu
    size = ledger.size()
    if size == 0:
        raise InvalidInput("nothing to measure: the ledger is empty (use --entries N)")
    items = max(1, size // ENTRIES_PER_ITEM)  # --entries 0 measures an existing ledger
    rng = random.Random(seed)
    root = ledger.root()

    inclusion: list[float] = []
    for _ in range(samples):
        index = rng.randrange(size)
        t = time.perf_counter()
        proof = ledger.inclusion_proof(index, size)
        inclusion.append((time.perf_counter() - t) * 1000)
        merkle.verify_inclusion(index, size, merkle.leaf_hash(ledger.leaf(index)), proof, root)
    consistency: list[float] = []
    for _ in range(samples):
        first = rng.randrange(1, size + 1)
        t = time.perf_counter()
        ledger.consistency_proof(first, size)
        consistency.append((time.perf_counter() - t) * 1000)
    history: list[float] = []
    lengths: list[int] = []
    for _ in range(samples):
        item = f"EV{rng.randrange(items):08d}"
        t = time.perf_counter()
        found = ledger.history(item)
        history.append((time.perf_counter() - t) * 1000)
        lengths.append(len(found))
    if progress:
        progress("verify", 0, size)
    load = os.getloadavg()[0]
    t, cpu = time.perf_counter(), time.process_time()
    report = ledger.verify()
    verify_s = time.perf_counter() - t
    verify_cpu_s = time.process_time() - cpu  # this process only (SQLite: all of the work)
    return {
        "engine": ctx.engine.dialect.name,
        "entries": size,
        "appended": entries,
        "batch": batch,
        "append_s": round(append_s, 3),
        "append_per_s": round(entries / append_s, 1) if append_s else None,
        "append_cpu_s": round(append_cpu_s, 3),
        "inclusion_ms_p99": round(p99(inclusion), 3),
        "consistency_ms_p99": round(p99(consistency), 3),
        "proof_ms_p99": round(max(p99(inclusion), p99(consistency)), 3),
        "history_ms_p99": round(p99(history), 3),
        "inclusion_ms_mean": round(statistics.fmean(inclusion), 3),
        "consistency_ms_mean": round(statistics.fmean(consistency), 3),
        "history_ms_mean": round(statistics.fmean(history), 3),
        "history_entries_mean": round(statistics.fmean(lengths), 1) if lengths else 0,
        "verify_s": round(verify_s, 3),
        "verify_cpu_s": round(verify_cpu_s, 3),
        "verify_ok": report.ok,
        "samples": samples,
        "load_average_1m": round(load, 2),  # other work on the machine distorts the p99s
    }
