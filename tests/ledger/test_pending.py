"""The pending-events outbox: staged batches land exactly once, or never if rolled back.

Each test runs on SQLite and PostgreSQL (``lctx``/``db_url`` from conftest). The
crash tests run a child Python process that dies with ``os._exit`` at the
dangerous moment (after the domain commit, or inside the flush transaction).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from custodyd.daemon.cases import create_case_unrecorded, find_case
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.errors import InvalidInput
from custodyd.daemon.ledger.service import PENDING, Event, Ledger
from custodyd.daemon.orders.lifecycle import OrderRequest, create_order, renew_order
from tests.orders.conftest import make_evidence, preserved_on

ACTOR = "user:examiner"


def pending_rows(ctx: AppContext) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(PENDING)).scalar_one())


def actions(ctx: AppContext, case_ref: str) -> list[str]:
    return [e.action for e in ctx.ledger.case_history(case_ref)]


def test_rolled_back_stage_never_reaches_the_ledger(lctx: AppContext) -> None:
    before = lctx.ledger.size()
    with pytest.raises(RuntimeError, match="domain failure"), lctx.session() as session:
        create_case_unrecorded(session, lctx.clock, "ROLLBACK-1")
        lctx.ledger.stage(session, [Event("case.created", ACTOR, "ROLLBACK-1")])
        raise RuntimeError("domain failure")
    assert lctx.ledger.flush_pending() == []
    assert pending_rows(lctx) == 0
    assert lctx.ledger.size() == before
    with lctx.session() as session:
        assert find_case(session, "ROLLBACK-1") is None


def test_stage_then_flush_lands_once_with_one_checkpoint(lctx: AppContext) -> None:
    when = lctx.clock.now()
    with lctx.session() as session:
        create_case_unrecorded(session, lctx.clock, "C-1")
        lctx.ledger.stage(
            session,
            [
                Event("case.created", ACTOR, "C-1", None, {"ref": "C-1", "at": when}),
                Event("custody.transferred", ACTOR, "C-1", "EV-1", {"to": "lab"}),
            ],
        )
    assert lctx.ledger.size() == 0 and pending_rows(lctx) == 1
    entries = lctx.ledger.flush_pending()
    assert [e.index for e in entries] == [0, 1]
    assert entries[0].payload == {"ref": "C-1", "at": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    assert pending_rows(lctx) == 0
    assert lctx.ledger.flush_pending() == []  # a second flush finds nothing
    assert actions(lctx, "C-1") == ["case.created", "custody.transferred"]
    assert len(lctx.ledger.checkpoints()) == 1  # one batch, one checkpoint (as append_many)
    assert lctx.ledger.verify().ok
    assert lctx.ledger.witness() == lctx.ledger.checkpoint()


def test_a_payload_the_ledger_would_refuse_fails_the_callers_transaction(
    lctx: AppContext,
) -> None:
    with pytest.raises(InvalidInput), lctx.session() as session:
        create_case_unrecorded(session, lctx.clock, "BAD-1")
        lctx.ledger.stage(session, [Event("case.created", ACTOR, "BAD-1", None, {"n": 2**60})])
    assert pending_rows(lctx) == 0
    with lctx.session() as session:
        assert find_case(session, "BAD-1") is None
    assert lctx.ledger.append("case.created", actor=ACTOR, case="OK-1").index == 0


def test_append_flushes_older_staged_batches_first(lctx: AppContext) -> None:
    with lctx.session() as session:
        lctx.ledger.stage(session, [Event("case.created", ACTOR, "C-2")])
    entry = lctx.ledger.append("custody.transferred", actor=ACTOR, case="C-2", evidence="EV")
    assert entry.index == 1
    assert actions(lctx, "C-2") == ["case.created", "custody.transferred"]
    assert pending_rows(lctx) == 0
    assert lctx.ledger.verify().ok


def test_a_failed_flush_keeps_the_batch_and_writes_no_witness(
    lctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    lctx.ledger.append("case.created", actor=ACTOR, case="C-3")
    witness = lctx.ledger.witness()
    with lctx.session() as session:
        lctx.ledger.stage(session, [Event("custody.transferred", ACTOR, "C-3", "EV")])

    def boom(*_args: object) -> str:
        raise OSError("disk gone mid-flush")

    monkeypatch.setattr(Ledger, "_sign", boom)
    with pytest.raises(OSError, match="mid-flush"):
        lctx.ledger.flush_pending()
    monkeypatch.undo()
    assert lctx.ledger.witness() == witness  # nothing committed, so no witness
    assert lctx.ledger.size() == 1 and pending_rows(lctx) == 1
    assert len(lctx.ledger.flush_pending()) == 1
    assert lctx.ledger.flush_pending() == []
    assert actions(lctx, "C-3") == ["case.created", "custody.transferred"]
    assert lctx.ledger.verify().ok


CHILD = textwrap.dedent(
    """
    import os, sys
    from custodyd.daemon.cases import create_case_unrecorded
    from custodyd.daemon.config import Settings
    from custodyd.daemon.context import open_context
    from custodyd.daemon.ledger.service import Event, Ledger

    home, url, case_ref, where = sys.argv[1:5]
    ctx = open_context(Settings(home=home, database_url=url))
    with ctx.session() as session:
        create_case_unrecorded(session, ctx.clock, case_ref)
        ctx.ledger.stage(session, [
            Event("case.created", "user:examiner", case_ref, None, {"ref": case_ref}),
            Event("custody.transferred", "user:examiner", case_ref, "EV-9", {"to": "lab"}),
        ])
    if where == "after-commit":
        os._exit(3)  # the domain change committed; the flush never ran

    real_sign = Ledger._sign

    def die(self, conn, size, root, before):
        real_sign(self, conn, size, root, before)  # entries, nodes and checkpoint written...
        os._exit(3)  # ...and the process dies before the commit

    Ledger._sign = die
    ctx.ledger.flush_pending()
    os._exit(0)  # not reached
    """
)


@pytest.mark.parametrize("where", ["after-commit", "inside-flush"])
def test_a_crash_loses_nothing_and_duplicates_nothing(
    where: str, home: Path, db_url: str, clock: ManualClock
) -> None:
    settings = Settings(home=home, database_url=db_url)
    first = open_context(settings, clock=clock)
    first.ledger.append("medium.attached", actor=ACTOR, case="OTHER")
    first.ledger.close()
    first.close()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(home), db_url, "CRASH-1", where],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 3, child.stderr
    ctx = open_context(settings, clock=clock)  # the next open flushes the staged batch
    try:
        assert pending_rows(ctx) == 0
        assert actions(ctx, "CRASH-1") == ["case.created", "custody.transferred"]
        assert ctx.ledger.size() == 3
        assert ctx.ledger.flush_pending() == []
        reopened = open_context(settings, clock=clock)
        assert reopened.ledger.size() == 3  # opening again does not append it twice
        reopened.ledger.close()
        reopened.close()
        with ctx.session() as session:
            assert find_case(session, "CRASH-1") is not None
        report = ctx.ledger.verify()
        assert report.ok, report.message
    finally:
        ctx.ledger.close()
        ctx.close()


def test_open_context_without_pending_does_not_load_the_key(
    lsettings: Settings, clock: ManualClock
) -> None:
    ctx = open_context(lsettings, clock=clock)
    try:
        assert "_signing_key" not in ctx.ledger.__dict__  # the EXISTS check needs no key
    finally:
        ctx.ledger.close()
        ctx.close()


def test_an_order_renewal_leaves_the_same_ledger_entries(
    lctx: AppContext, clock: ManualClock
) -> None:
    make_evidence(lctx, "EV1")
    make_evidence(lctx, "EV2")
    today = clock.now().date()
    order = create_order(
        lctx,
        OrderRequest(
            regime="domestic-180",
            ref="DOM-1",
            **preserved_on(today - timedelta(days=170)),
            evidence_ids=("EV1", "EV2"),
        ),
        actor=ACTOR,
    )
    size, notes = lctx.ledger.size(), len(lctx.ledger.checkpoints())
    renewed = renew_order(lctx, order.id, actor=ACTOR)
    entries = lctx.ledger.entries(size)
    assert [(e.action, e.evidence, e.case, e.actor) for e in entries] == [
        ("order.renewed", "EV1", "CASE-1", ACTOR),
        ("order.renewed", "EV2", "CASE-1", ACTOR),
    ]
    assert entries[0].payload == entries[1].payload
    assert entries[0].payload["order_ref"] == "DOM-1"
    assert entries[0].payload["order_id"] == order.id
    assert entries[0].payload["expires_on"] == renewed.expires_on
    assert len(lctx.ledger.checkpoints()) == notes + 1  # one step, one batch, one checkpoint
    assert pending_rows(lctx) == 0
    assert lctx.ledger.verify().ok
