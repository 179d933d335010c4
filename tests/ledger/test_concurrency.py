"""Several processes append at once: distinct consecutive indices, nothing lost, one key."""

from __future__ import annotations

import multiprocessing

from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.ledger import Event

PROCESSES = 4
SINGLES = 15
BATCH = 10


def _appender(home: str, url: str, worker: int) -> list[int]:
    ctx = open_context(Settings(home=home, database_url=url))
    try:
        got = []
        for i in range(SINGLES):
            entry = ctx.ledger.append(
                "evidence.accessed",
                actor=f"user:w{worker}",
                evidence=f"W{worker}",
                payload={"i": i},
            )
            got.append(entry.index)
        batch = ctx.ledger.append_many(
            [Event("evidence.accessed", f"user:w{worker}", None, f"W{worker}", {"i": SINGLES + k})
             for k in range(BATCH)]
        )  # fmt: skip
        indices = [e.index for e in batch]
        assert indices == list(range(indices[0], indices[0] + BATCH))  # a batch is contiguous
        return got + indices
    finally:
        ctx.ledger.close()
        ctx.close()


def test_concurrent_appenders_from_several_processes(lctx: AppContext) -> None:
    # No entry yet and no key: the workers also race to create the signing key.
    assert not (lctx.settings.key_dir / "ledger-ed25519.pem").exists()
    spawn = multiprocessing.get_context("spawn")
    args = [(str(lctx.settings.home), lctx.settings.db_url, w) for w in range(PROCESSES)]
    with spawn.Pool(PROCESSES) as pool:
        results = pool.starmap(_appender, args)
    everything = sorted(i for r in results for i in r)
    total = PROCESSES * (SINGLES + BATCH)
    assert everything == list(range(total))  # distinct, consecutive, none lost
    ledger = lctx.ledger
    assert ledger.size() == total
    for worker, indices in enumerate(results):
        history = ledger.history(f"W{worker}")
        assert [e.index for e in history] == sorted(indices)
        assert [e.payload["i"] for e in history] == list(range(SINGLES + BATCH))
    report = ledger.verify()
    assert report.ok, report.message
    assert report.checkpoints == PROCESSES * (SINGLES + 1)
