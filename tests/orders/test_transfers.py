"""Transfers of personal data: consent before third-party release, partial release, deadlines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, InvalidInput, ReleaseRefused
from custodyd.daemon.orders.retention import due_within
from custodyd.daemon.orders.transfers import (
    TransferRequest,
    close_transfer,
    create_transfer,
    extend,
    record_consent,
    release_to_third_party,
    report_use,
)
from tests.orders.conftest import make_evidence

ACTOR = "user:compliance"


def test_transfer_lifecycle(ctx: AppContext, clock: ManualClock) -> None:
    make_evidence(ctx, "EV1")
    make_evidence(ctx, "EV2")
    t = create_transfer(
        ctx,
        TransferRequest(
            recipient="Authority of State B",
            purpose="prosecution of case 12/2026",
            consented_days=90,
            ref="MLA-OUT-1",
            items=[("EV1", None), ("EV2", "traffic data identifying provider X")],
        ),
        actor=ACTOR,
    )
    assert t.deadline == (clock.now().date() + timedelta(days=90)).isoformat()
    assert t.items[1].part == "traffic data identifying provider X"
    with pytest.raises(ReleaseRefused, match="prior written consent"):
        release_to_third_party(ctx, t.id, "State C", actor=ACTOR)
    record_consent(ctx, t.id, "State C", "LETTER-2026-5", actor=ACTOR)
    with pytest.raises(ReleaseRefused, match="State D"):  # consent is per named party
        release_to_third_party(ctx, t.id, "State D", actor=ACTOR)
    released = release_to_third_party(ctx, t.id, "State C", actor=ACTOR, part="summary")
    assert released.third_party_releases[0].consent_ref == "LETTER-2026-5"
    report_use(ctx, t.id, "used as evidence at trial", actor=ACTOR)
    with ctx.session() as s:
        assert due_within(s, clock, 30) == []
        clock.advance(timedelta(days=70))
        rows = due_within(s, clock, 30)
    assert [(r.kind, r.evidence_id, r.days_left) for r in rows] == [
        ("transfer", "EV1", 20),
        ("transfer", "EV2", 20),
    ]
    extended = extend(ctx, t.id, 30, consent_ref="SENDER-OK-2", actor=ACTOR)
    assert extended.days_left == 50
    closed = close_transfer(ctx, t.id, "destroyed", actor=ACTOR)
    # outgoing: the recipient destroyed its copy; our own items stay ours
    assert closed.status == "destroyed" and closed.dispositions == []
    with pytest.raises(Conflict):
        release_to_third_party(ctx, t.id, "State D", actor=ACTOR)
    actions = [e.action for e in ctx.ledger.history("EV2")]
    assert actions == [
        "transfer.created",
        "evidence.released",
        "transfer.consent_recorded",
        "transfer.third_party_release",
        "transfer.reported",
        "transfer.extended",
        "transfer.destroyed",
    ]
    part = ctx.ledger.history("EV2")[1].payload["part"]
    assert part == "traffic data identifying provider X"


def test_transfer_validation(ctx: AppContext, clock: ManualClock) -> None:
    make_evidence(ctx, "EV1")
    base = dict(recipient="B", purpose="p", consented_days=30, items=[("EV1", None)])
    with pytest.raises(InvalidInput, match="future"):
        create_transfer(
            ctx,
            TransferRequest(**base, transferred_on=clock.now().date() + timedelta(days=2)),  # type: ignore[arg-type]
            actor=ACTOR,
        )
    with pytest.raises(InvalidInput, match="beyond the consented"):
        create_transfer(
            ctx,
            TransferRequest(**base, deadline=clock.now().date() + timedelta(days=31)),  # type: ignore[arg-type]
            actor=ACTOR,
        )
    with pytest.raises(InvalidInput, match="written consent"):
        create_transfer(ctx, TransferRequest(**base, third_party_consent=True), actor=ACTOR)  # type: ignore[arg-type]


def test_extension_must_be_asked_before_the_deadline(ctx: AppContext, clock: ManualClock) -> None:
    make_evidence(ctx, "EV1")
    t = create_transfer(
        ctx,
        TransferRequest(recipient="B", purpose="p", consented_days=10, items=[("EV1", None)]),
        actor=ACTOR,
    )
    clock.advance(timedelta(days=10))  # the deadline day itself: still in time
    assert extend(ctx, t.id, 5, consent_ref="OK-1", actor=ACTOR).days_left == 5
    clock.advance(timedelta(days=6))
    with pytest.raises(Conflict, match="in advance"):
        extend(ctx, t.id, 5, consent_ref="OK-2", actor=ACTOR)
