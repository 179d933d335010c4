"""Orders: regimes, the clock rule, renewals, hold until decision, grant -> executing,
refusal and notices, retention union.

The expiry tests here replace earlier ones that counted an international
minimum from the issue date and refused a request entered more than 60 days
after it was issued: that encoded a wrong reading of the law (art. 68(7)
counts from the preservation effected in response to the request).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, DispositionRefused, InvalidInput, NotFound
from custodyd.daemon.orders import assert_disposable, retention_status
from custodyd.daemon.orders.answers import notify_requester, refuse_order
from custodyd.daemon.orders.lifecycle import (
    OrderRequest,
    create_order,
    decide_order,
    executed_order,
    expire_due,
    followup_order,
    release_order,
    renew_order,
)
from custodyd.daemon.orders.regimes import RegimeSpec, add_regime, get_regime, list_regimes
from tests.orders.conftest import REQUEST, make_evidence

ACTOR = "user:officer"


def order(ctx: AppContext, regime: str, issued: date, *ids: str, **kw: object) -> dict:
    """A complete request issued on ``issued``; received/effected default to today."""
    fields = {**REQUEST, **kw}
    return create_order(
        ctx,
        OrderRequest(
            regime=regime,
            ref=fields.pop("ref", "REQ-1"),  # type: ignore[arg-type]
            issued_on=issued,
            evidence_ids=ids,
            **fields,  # type: ignore[arg-type]
        ),
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


def test_international_minimum_counts_from_the_day_preservation_was_effected(
    ctx: AppContext, clock: ManualClock
) -> None:
    make_evidence(ctx, "EV1")
    today = clock.now().date()
    ago = lambda n: today - timedelta(days=n)  # noqa: E731
    # issued 70 days ago, received and effected 55 days ago: 5 days left
    late = order(ctx, "intl-expedited-60", ago(70), "EV1", received_on=ago(55), effected_on=ago(55))
    assert late.expires_on == (today + timedelta(days=5)).isoformat()
    assert (late.issued_on, late.received_on, late.effected_on) == (
        ago(70).isoformat(),
        ago(55).isoformat(),
        ago(55).isoformat(),
    )
    assert "effected" in late.expiry_rule and "68(7)" in late.expiry_rule
    # issued 55 days ago, effected today: the full 60 days (the old rule gave 5)
    fresh = order(ctx, "intl-expedited-60", ago(55), "EV1", ref="REQ-2")
    assert fresh.expires_on == (today + timedelta(days=60)).isoformat()
    assert fresh.received_on == fresh.effected_on == today.isoformat()
    # issued 61 or 400 days ago: never refused as "ran out" (the old rule refused it)
    for n in (61, 400):
        old = order(ctx, "intl-expedited-90", ago(n), "EV1", ref=f"OLD-{n}")
        assert old.expires_on == (today + timedelta(days=90)).isoformat()
    # only --effected given, earlier than today: the request was in hand by then
    only = order(ctx, "intl-expedited-180", ago(20), "EV1", ref="EFF", effected_on=ago(10))
    assert only.received_on == only.effected_on == ago(10).isoformat()
    assert only.expires_on == (ago(10) + timedelta(days=180)).isoformat()
    # preserved before the request arrived (a colleague's snapshot): counts from receipt
    snap = order(
        ctx, "intl-expedited-60", ago(30), "EV1", ref="SNAP", received_on=ago(5), effected_on=ago(9)
    )
    assert snap.expires_on == (ago(5) + timedelta(days=60)).isoformat()
    assert "received" in snap.expiry_rule
    with pytest.raises(InvalidInput, match="future"):
        order(ctx, "intl-expedited-60", today + timedelta(days=1), "EV1")
    with pytest.raises(InvalidInput, match="future"):
        order(ctx, "intl-expedited-60", today, "EV1", effected_on=today + timedelta(days=1))
    with pytest.raises(InvalidInput, match="before issued_on"):
        order(ctx, "intl-expedited-60", ago(3), "EV1", received_on=ago(4))
    with pytest.raises(InvalidInput, match="below the minimum"):
        order(ctx, "intl-expedited-90", today, "EV1", days=30)
    with pytest.raises(NotFound):
        order(ctx, "intl-expedited-60", today, "NOPE")
    entries = ctx.ledger.history("EV1")
    assert entries[0].action == "order.created"
    assert entries[0].payload["expires_on"] == late.expires_on
    assert entries[0].payload["effected_on"] == ago(55).isoformat()
    assert entries[0].payload["expiry_rule"] == late.expiry_rule


def test_domestic_maximum_counts_from_the_order_and_is_never_exceeded(
    ctx: AppContext, clock: ManualClock
) -> None:
    make_evidence(ctx, "EV1")
    today = clock.now().date()
    # effected long after the order was issued: the cap still counts from the order
    dom = order(
        ctx,
        "domestic-180",
        today - timedelta(days=100),
        "EV1",
        ref="DOM",
        effected_on=today,
    )
    assert dom.expires_on == (today + timedelta(days=80)).isoformat()
    assert "23(2)" in dom.expiry_rule and "issue date" in dom.expiry_rule
    with pytest.raises(InvalidInput, match="exceeds the maximum"):
        order(ctx, "domestic-180", today, "EV1", days=181)
    # entered after its maximum: recorded as ended, never refused, never extended
    lapsed = order(ctx, "domestic-180", today - timedelta(days=181), "EV1", ref="LAPSED")
    assert lapsed.expires_on == (today - timedelta(days=1)).isoformat()
    assert lapsed.status == "expired" and not lapsed.in_force
    assert "already ended" in lapsed.expiry_rule
    with ctx.session() as s:
        assert [b.ref for b in retention_status(s, "EV1", clock=clock).blocking] == ["DOM"]


def test_international_request_must_state_the_fields_of_art_68_2(ctx: AppContext) -> None:
    make_evidence(ctx, "EV1")
    today = ctx.clock.now().date()
    with pytest.raises(InvalidInput) as caught:
        create_order(
            ctx,
            OrderRequest(
                regime="intl-expedited-60",
                ref="BARE",
                issued_on=today,
                evidence_ids=["EV1"],
                authority="State A",
                summary="   ",
            ),
            actor=ACTOR,
        )
    assert caught.value.extra["fields"] == [
        "offence",
        "summary",
        "data_concerned",
        "relation",
        "custodian",
        "necessity",
        "followup_announced",
    ]
    for name in caught.value.extra["fields"]:
        assert name in caught.value.detail
    # a domestic order is not held to the list
    create_order(
        ctx,
        OrderRequest(regime="domestic-180", ref="D", issued_on=today, evidence_ids=["EV1"]),
        actor=ACTOR,
    )


def test_renewal_rules(ctx: AppContext, clock: ManualClock) -> None:
    make_evidence(ctx, "EV1")
    today = clock.now().date()
    intl = order(ctx, "intl-expedited-60", today, "EV1")
    with pytest.raises(Conflict, match="does not allow renewal"):
        renew_order(ctx, intl.id, actor=ACTOR)
    dom = order(ctx, "domestic-180", today - timedelta(days=170), "EV1", ref="DOM-1")
    renewed = renew_order(ctx, dom.id, actor=ACTOR)
    assert renewed.expires_on == (today + timedelta(days=10 + 180)).isoformat()
    assert renewed.renewals == 1
    assert "renewal 1" in renewed.expiry_rule and "23(2)" in renewed.expiry_rule
    with pytest.raises(InvalidInput):
        renew_order(ctx, dom.id, actor=ACTOR, days=200)
    assert [e.action for e in ctx.ledger.history("EV1")][-1] == "order.renewed"


def test_hold_until_decision_then_expiry(ctx: AppContext, clock: ManualClock) -> None:
    make_evidence(ctx, "EV1")
    today = clock.now().date()
    made = order(
        ctx,
        "intl-expedited-60",
        today - timedelta(days=55),
        "EV1",
        effected_on=today - timedelta(days=55),
    )
    held = followup_order(ctx, made.id, actor=ACTOR, ref="MLA-9")
    assert held.status == "hold" and held.hold
    with pytest.raises(Conflict, match="on hold"):
        release_order(ctx, made.id, actor=ACTOR, reason="x")
    clock.advance(timedelta(days=30))  # far past the 60 days: the hold wins
    assert expire_due(ctx) == []
    with ctx.session() as s:
        status = retention_status(s, "EV1", clock=clock)
        assert status.hold and not status.disposable and status.retain_until is None
        with pytest.raises(DispositionRefused, match="hold"):
            assert_disposable(s, "EV1", clock=clock)
    decided = decide_order(ctx, made.id, "granted", actor=ACTOR)
    # granted: the data are about to be seized; they stay, whatever the date
    assert decided.status == "executing" and decided.in_force and decided.hold
    with pytest.raises(Conflict):
        decide_order(ctx, made.id, "granted", actor=ACTOR)
    assert expire_due(ctx) == []
    with ctx.session() as s, pytest.raises(DispositionRefused, match="being executed"):
        assert_disposable(s, "EV1", clock=clock)
    with pytest.raises(Conflict, match="being executed"):
        release_order(ctx, made.id, actor=ACTOR, reason="x")
    done = executed_order(ctx, made.id, actor=ACTOR, basis="seizure warrant 12/2026")
    assert done.status == "decided" and done.executed_basis == "seizure warrant 12/2026"
    assert not done.in_force  # the ordinary expiry applies again, and it has passed
    with pytest.raises(Conflict):
        executed_order(ctx, made.id, actor=ACTOR, basis="again")
    assert expire_due(ctx) == [made.id]
    with ctx.session() as s:
        assert retention_status(s, "EV1", clock=clock).disposable
        assert_disposable(s, "EV1", clock=clock)
    actions = [e.action for e in ctx.ledger.history("EV1")]
    assert actions == [
        "order.created",
        "order.followup",
        "order.decided",
        "order.executed",
        "order.expired",
    ]


def test_refusal_on_the_texts_grounds_and_notices(ctx: AppContext, clock: ManualClock) -> None:
    make_evidence(ctx, "EV1")
    today = clock.now().date()
    made = order(ctx, "intl-expedited-60", today, "EV1")
    noticed = notify_requester(
        ctx, made.id, kind="cannot-secure", text="logs already purged", actor=ACTOR
    )
    assert [(n.kind, n.text) for n in noticed.notices] == [("cannot-secure", "logs already purged")]
    assert noticed.notices[0].at == clock.now().isoformat()
    with pytest.raises(InvalidInput, match="kind"):
        notify_requester(ctx, made.id, kind="gossip", text="x", actor=ACTOR)
    with pytest.raises(InvalidInput, match="political-offence"):
        refuse_order(ctx, made.id, grounds="inconvenient", reason="x", actor=ACTOR)
    with pytest.raises(InvalidInput, match="61"):
        refuse_order(ctx, made.id, grounds="political-offence", reason=" ", actor=ACTOR)
    refused = refuse_order(
        ctx, made.id, grounds="essential-interests", reason="ordre public", actor=ACTOR
    )
    assert refused.status == "refused" and not refused.in_force
    assert refused.refusal_grounds == "essential-interests"
    with ctx.session() as s:
        assert retention_status(s, "EV1", clock=clock).disposable
    entries = ctx.ledger.history("EV1")
    assert [e.action for e in entries] == ["order.created", "order.notified", "order.refused"]
    assert entries[-1].payload["grounds"] == "essential-interests"
    assert "68(3)" in entries[-1].payload["grounds_citation"]


def test_retention_is_the_union(ctx: AppContext, clock: ManualClock) -> None:
    make_evidence(ctx, "EV1")
    make_evidence(ctx, "EV2")
    today = clock.now().date()
    order(ctx, "intl-expedited-60", today, "EV1", ref="A")
    whole = create_order(
        ctx,
        OrderRequest(
            regime="intl-expedited-90", ref="B", issued_on=today, case_ref="CASE-1", **REQUEST
        ),
        actor=ACTOR,
    )
    assert whole.whole_case and whole.evidence == ["EV1", "EV2"]
    with ctx.session() as s:
        st = retention_status(s, "EV1", clock=clock)
        assert st.retain_until == today + timedelta(days=90) and len(st.blocking) == 2
    clock.advance(timedelta(days=61))
    with ctx.session() as s:
        st = retention_status(s, "EV1", clock=clock)
        assert [b.ref for b in st.blocking] == ["B"]
    release_order(ctx, whole.id, actor=ACTOR, reason="withdrawn by the requesting state")
    with ctx.session() as s:
        assert retention_status(s, "EV2", clock=clock).disposable
