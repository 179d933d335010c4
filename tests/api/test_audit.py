"""Group-committed audit entries: each concurrent reader gets its own durable entry."""

from __future__ import annotations

import threading

import pytest

from custodyd.daemon.auth import HISTORY_READ, record_read
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import InvalidInput


def test_concurrent_reads_each_recorded_once(ctx: AppContext) -> None:
    results: dict[int, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(40)

    def reader(n: int) -> None:
        start.wait(30)
        try:
            entry = record_read(ctx, HISTORY_READ, actor=f"user:r{n}", what="custody", case="A")
            results[n] = entry.index
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(results.values()) == list(range(40))
    for n, index in results.items():
        entry = ctx.ledger.entry(index)
        assert (entry.action, entry.actor) == (HISTORY_READ, f"user:r{n}")
        assert entry.payload == {"what": "custody", "case": "A", "evidence": None}
        assert entry.case is None and entry.evidence is None
    assert len(ctx.ledger.checkpoints()) < 40  # batched: fewer checkpoints than reads
    assert ctx.ledger.verify().ok


def test_failed_append_refuses_the_read(ctx: AppContext) -> None:
    with pytest.raises(InvalidInput):
        record_read(ctx, HISTORY_READ, actor="", what="custody")  # no actor: refused
    entry = record_read(ctx, HISTORY_READ, actor="user:ok", what="custody")
    assert entry.index == 0
