"""Orders: regimes, expiry from the issue date, renewals, hold until decision, retention union."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, DispositionRefused, InvalidInput, NotFound
from custodyd.daemon.orders import assert_disposable, retention_status
from custodyd.daemon.orders.lifecycle import (
    OrderRequest,
    create_order,
    decide_order,
    expire_due,
    followup_order,
    release_order,
    renew_order,
)
from custodyd.daemon.orders.regimes import RegimeSpec, add_regime, get_regime, list_regimes
from tests.orders.conftest import make_evidence

ACTOR = "user:officer"


def order(ctx: AppContext, regime: str, issued: date, *ids: str, **kw: object) -> dict:
    return create_order(
        ctx,
        OrderRequest(
            regime=regime, ref=kw.pop("ref", "REQ-1"), issued_on=issued, evidence_ids=ids, **kw
        ),  # type: ignore[arg-type]
        actor=ACTOR,
    )


def test_shipped_regimes_are_data(ctx: AppContext) -> None:
    with ctx.session() as s:
        ids = {r.id: r for r in list_regimes(s)}
    assert {"intl-expedited-60", "intl-expedited-90", "intl-expedited-180", "domestic-180"} <= set(
        ids
    )
    assert [ids[f"intl-expedited-{n}"].min_days for n in (60, 90, 180)] == [60, 90, 180]
    assert "68(7)" in ids["intl-expedited-60"].citation
    assert "50(6)" in ids["intl-expedited-180"].citation
    dom = ids["domestic-180"]
    assert dom.max_days == 180 and dom.renewable and dom.renewal_days == 180


def test_admin_regime_added_and_validated(ctx: AppContext) -> None:
    spec = RegimeSpec(
        id="court-30",
        name="Court order",
        citation="Local code 1",
        scope="domestic",
        period_days=30,
        max_days=30,
        renewable=True,
        renewal_days=30,
        max_renewals=1,
    )
    with ctx.session() as s:
        add_regime(s, ctx.clock, spec, actor=ACTOR)
    with ctx.session() as s:
        assert get_regime(s, "court-30").period_days == 30
        with pytest.raises(Conflict):
            add_regime(s, ctx.clock, spec, actor=ACTOR)
        with pytest.raises(Conflict):
            add_regime(
                s,
                ctx.clock,
                RegimeSpec(**{**spec.as_dict(), "id": "domestic-180", "alert_to": ()}),
                actor=ACTOR,
            )
        with pytest.raises(InvalidInput):
            add_regime(
                s,
                ctx.clock,
                RegimeSpec(**{**spec.as_dict(), "id": "bad", "period_days": 40, "alert_to": ()}),
                actor=ACTOR,
            )
        with pytest.raises(NotFound):
            get_regime(s, "nope")


def test_expiry_counts_from_issue_date_and_future_refused(
    ctx: AppContext, clock: ManualClock
) -> None:
    make_evidence(ctx, "EV1")
    today = clock.now().date()
    made = order(ctx, "intl-expedited-60", today - timedelta(days=55), "EV1")
    assert made["expires_on"] == (today + timedelta(days=5)).isoformat()
    assert made["status"] == "active" and made["evidence"] == ["EV1"] and made["case"] == "CASE-1"
    with pytest.raises(InvalidInput, match="future"):
        order(ctx, "intl-expedited-60", today + timedelta(days=1), "EV1")
    with pytest.raises(InvalidInput, match="ran out"):
        order(ctx, "intl-expedited-60", today - timedelta(days=61), "EV1")
    with pytest.raises(InvalidInput, match="below the minimum"):
        order(ctx, "intl-expedited-90", today, "EV1", days=30)
    with pytest.raises(InvalidInput, match="exceeds the maximum"):
        order(ctx, "domestic-180", today, "EV1", days=181)
    with pytest.raises(NotFound):
        order(ctx, "intl-expedited-60", today, "NOPE")
    entries = ctx.ledger.history("EV1")
    assert [e.action for e in entries] == ["order.created"]
    assert entries[0].payload["expires_on"] == made["expires_on"]


def test_renewal_rules(ctx: AppContext, clock: ManualClock) -> None:
    make_evidence(ctx, "EV1")
    today = clock.now().date()
    intl = order(ctx, "intl-expedited-60", today, "EV1")
    with pytest.raises(Conflict, match="does not allow renewal"):
        renew_order(ctx, intl["id"], actor=ACTOR)
    dom = order(ctx, "domestic-180", today - timedelta(days=170), "EV1", ref="DOM-1")
    renewed = renew_order(ctx, dom["id"], actor=ACTOR)
    assert renewed["expires_on"] == (today + timedelta(days=10 + 180)).isoformat()
    assert renewed["renewals"] == 1
    with pytest.raises(InvalidInput):
        renew_order(ctx, dom["id"], actor=ACTOR, days=200)
    assert [e.action for e in ctx.ledger.history("EV1")][-1] == "order.renewed"


def test_hold_until_decision_then_expiry(ctx: AppContext, clock: ManualClock) -> None:
    make_evidence(ctx, "EV1")
    today = clock.now().date()
    made = order(ctx, "intl-expedited-60", today - timedelta(days=55), "EV1")
    held = followup_order(ctx, made["id"], actor=ACTOR, ref="MLA-9")
    assert held["status"] == "hold" and held["hold"]
    with pytest.raises(Conflict, match="on hold"):
        release_order(ctx, made["id"], actor=ACTOR, reason="x")
    clock.advance(timedelta(days=30))  # far past the 60 days: the hold wins
    assert expire_due(ctx) == []
    with ctx.session() as s:
        status = retention_status(s, "EV1", clock=clock)
        assert status.hold and not status.disposable and status.retain_until is None
        with pytest.raises(DispositionRefused, match="hold"):
            assert_disposable(s, "EV1", clock=clock)
    decided = decide_order(ctx, made["id"], "granted", actor=ACTOR)
    assert decided["status"] == "decided" and not decided["in_force"]
    with pytest.raises(Conflict):
        decide_order(ctx, made["id"], "granted", actor=ACTOR)
    assert expire_due(ctx) == [made["id"]]
    with ctx.session() as s:
        assert retention_status(s, "EV1", clock=clock).disposable
        assert_disposable(s, "EV1", clock=clock)
    actions = [e.action for e in ctx.ledger.history("EV1")]
    assert actions == ["order.created", "order.followup", "order.decided", "order.expired"]


def test_retention_is_the_union(ctx: AppContext, clock: ManualClock) -> None:
    make_evidence(ctx, "EV1")
    make_evidence(ctx, "EV2")
    today = clock.now().date()
    order(ctx, "intl-expedited-60", today, "EV1", ref="A")
    whole = create_order(
        ctx,
        OrderRequest(regime="intl-expedited-90", ref="B", issued_on=today, case_ref="CASE-1"),
        actor=ACTOR,
    )
    assert whole["whole_case"] and whole["evidence"] == ["EV1", "EV2"]
    with ctx.session() as s:
        st = retention_status(s, "EV1", clock=clock)
        assert st.retain_until == today + timedelta(days=90) and len(st.blocking) == 2
    clock.advance(timedelta(days=61))
    with ctx.session() as s:
        st = retention_status(s, "EV1", clock=clock)
        assert [b["ref"] for b in st.blocking] == ["B"]
    release_order(ctx, whole["id"], actor=ACTOR, reason="withdrawn by the requesting state")
    with ctx.session() as s:
        assert retention_status(s, "EV2", clock=clock).disposable
