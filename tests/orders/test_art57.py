"""Personal data received from another state (consolidated text art. 57), for real.

An incoming transfer's items are handed over only to parties the sender consented
to (custody transfer, outgoing transfer); closing it as destroyed destroys every
item held under it through the ordinary disposition — refused while an order
stands — and links the disposition records; returned likewise, as a return.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.custody import record_transfer
from custodyd.daemon.errors import DispositionRefused, ReleaseRefused
from custodyd.daemon.orders.disposition import get_disposition
from custodyd.daemon.orders.lifecycle import OrderRequest, create_order, release_order
from custodyd.daemon.orders.transfers import (
    TransferRequest,
    close_transfer,
    create_transfer,
    record_consent,
)
from tests.orders.conftest import evidence_bytes, make_evidence

ACTOR = "user:compliance"


def received(ctx: AppContext, *items: str, ref: str = "IN-1") -> dict:
    return create_transfer(
        ctx,
        TransferRequest(
            direction="incoming",
            recipient="Police of State B",  # incoming: the other party, the sender
            purpose="investigation of case 9/2026 only",
            consented_days=30,
            ref=ref,
            items=[(i, None) for i in items],
        ),
        actor=ACTOR,
    )


def test_received_items_go_only_where_the_sender_consented(
    ctx: AppContext, clock: ManualClock
) -> None:
    make_evidence(ctx, "IN1")
    t = received(ctx, "IN1")
    with pytest.raises(ReleaseRefused, match="not consented"):
        record_transfer(
            ctx,
            "IN1",
            actor="user:ex",
            from_party="Cybercrime unit, this state",
            to_party="Tax office",
            reason="asked for it",
            location="lab",
        )
    with pytest.raises(ReleaseRefused, match="Tax office"):
        create_transfer(
            ctx,
            TransferRequest(
                recipient="Tax office", purpose="audit", consented_days=5, items=[("IN1", None)]
            ),
            actor=ACTOR,
        )
    record_consent(ctx, t.id, "Prosecutor's office", "SENDER-LETTER-3", actor=ACTOR)
    entry = record_transfer(
        ctx,
        "IN1",
        actor="user:ex",
        from_party="Cybercrime unit, this state",
        to_party="prosecutor's  office",  # names compare without case or extra spaces
        reason="indictment",
        location="court",
    )
    assert entry.action == "custody.transferred"
    out = create_transfer(
        ctx,
        TransferRequest(
            recipient="Prosecutor's office",
            purpose="indictment",
            consented_days=5,
            items=[("IN1", None)],
        ),
        actor=ACTOR,
    )
    assert out.direction == "outgoing"
    back = record_transfer(  # handing the data back to the sender needs no consent
        ctx,
        "IN1",
        actor="user:ex",
        from_party="Prosecutor's office",
        to_party="Police of State B",
        reason="returned after use",
        location="embassy",
    )
    assert back.payload["to"] == "Police of State B"
    # once the received data are destroyed the question no longer arises
    close_transfer(ctx, t.id, "destroyed", actor=ACTOR)


def test_closing_an_incoming_transfer_destroys_what_was_received(
    ctx: AppContext, clock: ManualClock
) -> None:
    make_evidence(ctx, "IN1")
    make_evidence(ctx, "IN2")
    make_evidence(ctx, "OURS")
    t = received(ctx, "IN1", "IN2")
    day = clock.now().date()
    order = create_order(
        ctx,
        OrderRequest(regime="domestic-180", ref="DOM-7", issued_on=day, evidence_ids=["IN2"]),
        actor=ACTOR,
    )
    before = {e: evidence_bytes(ctx, e) for e in ("IN1", "IN2", "OURS")}
    with pytest.raises(DispositionRefused, match="DOM-7"):
        close_transfer(ctx, t.id, "destroyed", actor=ACTOR)
    # refused before anything was touched: every item checked first
    assert {e: evidence_bytes(ctx, e) for e in ("IN1", "IN2")} == {
        e: before[e] for e in ("IN1", "IN2")
    }
    release_order(ctx, order.id, actor=ACTOR, reason="withdrawn")
    clock.advance(timedelta(days=1))
    closed = close_transfer(ctx, t.id, "destroyed", actor=ACTOR, note="end of consent")
    assert closed.status == "destroyed"
    assert [d.evidence_id for d in closed.dispositions] == ["IN1", "IN2"]
    for evidence_id in ("IN1", "IN2"):
        left = evidence_bytes(ctx, evidence_id)
        assert "image.raw" not in left and "image.copy.raw" not in left
        record = get_disposition(ctx, evidence_id)
        assert record is not None
        assert record.method == "destroy" and record.transfer_id == t.id
        actions = [e.action for e in ctx.ledger.history(evidence_id)]
        assert actions[-2:] == ["evidence.disposed", "transfer.destroyed"]
        disposed = ctx.ledger.history(evidence_id)[-2]
        assert disposed.payload["transfer_id"] == t.id
    closing = ctx.ledger.history("IN1")[-1].payload
    assert {d["evidence_id"] for d in closing["dispositions"]} == {"IN1", "IN2"}
    assert evidence_bytes(ctx, "OURS") == before["OURS"]


def test_returning_received_data(ctx: AppContext) -> None:
    make_evidence(ctx, "IN1")
    t = received(ctx, "IN1")
    closed = close_transfer(ctx, t.id, "returned", actor=ACTOR)
    record = get_disposition(ctx, "IN1")
    assert record is not None and record.method == "return"
    assert record.returned_to == "Police of State B"
    assert closed.dispositions[0].disposition_id == record.id
