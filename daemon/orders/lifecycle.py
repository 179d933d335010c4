"""Preservation orders: enter, renew, follow-up (hold), decide, release, expire.

Every step is validated against the regime and the current state, committed, and
then recorded in the custody ledger (``order.created|renewed|followup|decided|
expired|released``), one entry per covered evidence item.

States: ``active`` (running to ``expires_on``) -> ``hold`` (a follow-up request
arrived: kept until a decision, whatever the date) -> ``decided`` (the hold ended;
the expiry applies again) -> ``expired`` or ``released``. ``renew`` keeps the
state and moves ``expires_on``. An order is in force while on hold, or while
active/decided and today is on or before ``expires_on``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from custodyd.daemon.cases import get_case
from custodyd.daemon.clock import Clock, utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, InvalidInput, NotFound
from custodyd.daemon.models import Case, Evidence, OrderItem, PreservationOrder
from custodyd.daemon.names import check_name
from custodyd.daemon.orders.records import SYSTEM_ACTOR, record, today
from custodyd.daemon.orders.regimes import get_regime

LIVE_STATES = ("active", "hold", "decided")
OUTCOMES = ("granted", "refused")


@dataclass
class OrderRequest:
    """What an officer enters (REQUIREMENTS §1: the fields of a preservation request)."""

    regime: str
    ref: str
    issued_on: date
    evidence_ids: Sequence[str] = ()
    case_ref: str | None = None
    authority: str | None = None
    offence: str | None = None
    summary: str | None = None
    data_concerned: str | None = None
    relation: str | None = None
    custodian: str | None = None
    necessity: str | None = None
    followup_announced: bool = False
    confidential: bool = False
    days: int | None = None
    lead_days: list[int] | None = None
    alert_to: list[str] = field(default_factory=list)


def in_force(order: PreservationOrder, on: date) -> bool:
    if order.status == "hold":
        return True
    return order.status in ("active", "decided") and on <= order.expires_on


def get_order(session: Session, order_id: int) -> PreservationOrder:
    if not 1 <= order_id < 2**63:
        raise NotFound(f"no preservation order {order_id}")
    order = session.get(PreservationOrder, order_id)
    if order is None:
        raise NotFound(f"no preservation order {order_id}", order=order_id)
    return order


def covered_evidence(session: Session, order: PreservationOrder) -> list[str]:
    """Evidence ids the order covers: its items, or every item of its case."""
    if order.whole_case:
        query = select(Evidence.id).where(Evidence.case_id == order.case_id)
    else:
        query = select(OrderItem.evidence_id).where(OrderItem.order_id == order.id)
    return sorted(session.exec(query))


def case_ref_of(session: Session, case_id: int) -> str:
    case = session.get(Case, case_id)
    return case.ref if case else str(case_id)


def order_dict(session: Session, order: PreservationOrder, clock: Clock) -> dict[str, Any]:
    data = order.model_dump()
    for key in ("followup_at", "decided_at", "ended_at", "entered_at"):
        if data.get(key) is not None:
            data[key] = utc(data[key]).isoformat()
    for key in ("issued_on", "expires_on"):
        data[key] = data[key].isoformat()
    data["case"] = case_ref_of(session, order.case_id)
    data["evidence"] = covered_evidence(session, order)
    data["in_force"] = in_force(order, today(clock))
    data["hold"] = order.status == "hold"
    data["regime"] = order.regime_id
    return data


def _ledger_payload(order: PreservationOrder, **extra: Any) -> dict[str, Any]:
    """What goes in the ledger: identifiers and dates, never the confidential substance."""
    payload: dict[str, Any] = {
        "order_id": order.id,
        "order_ref": order.ref,
        "regime": order.regime_id,
        "issued_on": order.issued_on.isoformat(),
        "expires_on": order.expires_on.isoformat(),
        "status": order.status,
        "confidential": order.confidential,
    }
    if order.authority and not order.confidential:
        payload["authority"] = order.authority
    payload.update(extra)
    return payload


def _check_lead_days(lead_days: list[int] | None) -> list[int] | None:
    if lead_days is None:
        return None
    if any(d < 0 for d in lead_days):
        raise InvalidInput("alert lead times are days before the deadline, 0 or more")
    return sorted(set(lead_days), reverse=True)


def create_order(ctx: AppContext, request: OrderRequest, *, actor: str) -> dict[str, Any]:
    """Enter an order. Its expiry counts from the issue date, whenever it is entered."""
    if not request.ref.strip():
        raise InvalidInput("an order needs its reference (--ref)")
    check_name(request.ref, "order ref")
    now_day = today(ctx.clock)
    if request.issued_on > now_day:
        raise InvalidInput(
            f"issue date {request.issued_on} is in the future (today is {now_day} UTC)"
        )
    with ctx.session() as session:
        regime = get_regime(session, request.regime)
        days = request.days if request.days is not None else regime.period_days
        regime.check_length(days)
        expires_on = request.issued_on + timedelta(days=days)
        if expires_on < now_day:
            raise InvalidInput(
                f"an order issued {request.issued_on} under {regime.id} ran out on "
                f"{expires_on}; it no longer preserves anything"
            )
        ids = sorted(set(request.evidence_ids))
        items = []
        for evidence_id in ids:
            item = session.get(Evidence, evidence_id)
            if item is None:
                raise NotFound(f"no evidence item {evidence_id!r}", evidence=evidence_id)
            if item.status == "disposed":
                raise Conflict(f"evidence {evidence_id} was already disposed of")
            items.append(item)
        case_ids = {item.case_id for item in items}
        if request.case_ref is not None:
            case = get_case(session, request.case_ref)
            if case_ids - {case.id}:
                raise InvalidInput(f"not every evidence item belongs to case {case.ref!r}")
        elif len(case_ids) == 1:
            case = session.get(Case, case_ids.pop())  # type: ignore[assignment]
        elif not items:
            raise InvalidInput("an order covers evidence items (--evidence) or a case (--case)")
        else:
            raise InvalidInput("the evidence items belong to different cases; one order each")
        assert case is not None and case.id is not None
        order = PreservationOrder(
            ref=request.ref.strip(),
            regime_id=regime.id,
            case_id=case.id,
            whole_case=not items,
            authority=request.authority,
            offence=request.offence,
            summary=request.summary,
            data_concerned=request.data_concerned,
            relation=request.relation,
            custodian=request.custodian,
            necessity=request.necessity,
            followup_announced=request.followup_announced,
            confidential=request.confidential,
            issued_on=request.issued_on,
            period_days=days,
            expires_on=expires_on,
            status="active",
            lead_days=_check_lead_days(request.lead_days),
            alert_to=list(request.alert_to) or None,
            entered_by=actor,
            entered_at=ctx.clock.now(),
        )
        session.add(order)
        session.flush()
        assert order.id is not None
        for item in items:
            session.add(OrderItem(order_id=order.id, evidence_id=item.id))
        session.flush()
        result = order_dict(session, order, ctx.clock)
        record(
            ctx,
            session,
            "order.created",
            actor=actor,
            case_ref=result["case"],
            evidence_ids=result["evidence"],
            payload=_ledger_payload(order, entered_by=actor, whole_case=order.whole_case),
        )
    ctx.ledger.flush_pending()
    return result


def _lapsed(order: PreservationOrder, clock: Clock) -> bool:
    return order.status in ("active", "decided") and today(clock) > order.expires_on


def _require_live(order: PreservationOrder, clock: Clock, doing: str) -> None:
    if order.status in ("expired", "released") or _lapsed(order, clock):
        raise Conflict(
            f"order {order.id} ({order.ref}) is no longer in force "
            f"({order.status}, expiry {order.expires_on}); cannot {doing}",
            order=order.id,
        )


def _step(
    ctx: AppContext,
    order_id: int,
    action: str,
    actor: str,
    change: Callable[[Session, PreservationOrder], dict[str, Any]],
) -> dict[str, Any]:
    """Validate and apply ``change`` in one transaction, then record ``action``."""
    with ctx.session() as session:
        order = get_order(session, order_id)
        extra = change(session, order)
        session.add(order)
        session.flush()
        result = order_dict(session, order, ctx.clock)
        record(
            ctx,
            session,
            action,
            actor=actor,
            case_ref=result["case"],
            evidence_ids=result["evidence"],
            payload=_ledger_payload(order, **extra),
        )
    ctx.ledger.flush_pending()
    return result


def renew_order(
    ctx: AppContext, order_id: int, *, actor: str, days: int | None = None, ref: str | None = None
) -> dict[str, Any]:
    """Extend the expiry by one renewal (the regime's length unless ``days`` is given)."""
    if ref is not None:
        check_name(ref, "order ref")

    def change(session: Session, order: PreservationOrder) -> dict[str, Any]:
        _require_live(order, ctx.clock, "renew it")
        if order.status == "hold":
            raise Conflict(
                f"order {order.id} is on hold until a decision; there is no expiry to renew",
                order=order.id,
            )
        regime = get_regime(session, order.regime_id)
        if not regime.renewable:
            raise Conflict(
                f"regime {regime.id} does not allow renewal ({regime.citation})",
                order=order.id,
                regime=regime.id,
            )
        if regime.max_renewals is not None and order.renewals >= regime.max_renewals:
            raise Conflict(
                f"order {order.id} was already renewed {order.renewals} times, "
                f"the most {regime.id} allows",
                order=order.id,
            )
        length = days if days is not None else int(regime.renewal_days or 0)
        if regime.renewal_days is not None and length > regime.renewal_days:
            raise InvalidInput(
                f"a renewal under {regime.id} is at most {regime.renewal_days} days, not {length}"
            )
        regime.check_length(length, "renewal")
        previous = order.expires_on
        order.expires_on = previous + timedelta(days=length)
        order.renewals += 1
        return {
            "previous_expiry": previous.isoformat(),
            "renewal_days": length,
            "renewal_ref": ref,
        }

    return _step(ctx, order_id, "order.renewed", actor, change)


def followup_order(
    ctx: AppContext, order_id: int, *, actor: str, ref: str | None = None
) -> dict[str, Any]:
    """A follow-up request (search, seizure, disclosure) arrived: hold until a decision."""
    if ref is not None:
        check_name(ref, "order ref")

    def change(_session: Session, order: PreservationOrder) -> dict[str, Any]:
        if order.status == "hold":
            raise Conflict(f"order {order.id} is already on hold", order=order.id)
        _require_live(order, ctx.clock, "record a follow-up request")
        order.status = "hold"
        order.followup_at = ctx.clock.now()
        order.followup_ref = ref
        order.decision = None
        order.decided_at = None
        return {"followup_ref": ref, "hold": True}

    return _step(ctx, order_id, "order.followup", actor, change)


def decide_order(
    ctx: AppContext, order_id: int, outcome: str, *, actor: str, ref: str | None = None
) -> dict[str, Any]:
    """Record the decision on the follow-up request: the hold ends, the expiry applies."""
    if ref is not None:
        check_name(ref, "order ref")
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be granted or refused, not {outcome!r}")

    def change(_session: Session, order: PreservationOrder) -> dict[str, Any]:
        if order.status != "hold":
            raise Conflict(
                f"order {order.id} has no follow-up request awaiting a decision "
                f"(status {order.status})",
                order=order.id,
            )
        order.status = "decided"
        order.decision = outcome
        order.decision_ref = ref
        order.decided_at = ctx.clock.now()
        return {"outcome": outcome, "decision_ref": ref, "hold": False}

    return _step(ctx, order_id, "order.decided", actor, change)


def release_order(ctx: AppContext, order_id: int, *, actor: str, reason: str) -> dict[str, Any]:
    """End an order early (withdrawn by the authority). Refused while a hold stands."""
    if not reason.strip():
        raise InvalidInput("releasing an order needs a reason")

    def change(_session: Session, order: PreservationOrder) -> dict[str, Any]:
        if order.status == "hold":
            raise Conflict(
                f"order {order.id} is on hold until a decision on the follow-up request; "
                "record the decision first",
                order=order.id,
            )
        if order.status in ("expired", "released"):
            raise Conflict(f"order {order.id} already ended ({order.status})", order=order.id)
        order.status = "released"
        order.ended_at = ctx.clock.now()
        order.end_reason = reason
        return {"reason": reason}

    return _step(ctx, order_id, "order.released", actor, change)


def expire_due(ctx: AppContext, *, actor: str = SYSTEM_ACTOR) -> list[int]:
    """Mark every order whose expiry day is over as ``expired`` (ledger ``order.expired``)."""
    now_day = today(ctx.clock)
    done: list[tuple[PreservationOrder, dict[str, Any]]] = []
    with ctx.session() as session:
        query = select(PreservationOrder).where(
            col(PreservationOrder.status).in_(("active", "decided")),
            col(PreservationOrder.expires_on) < now_day,
        )
        for order in session.exec(query):
            order.status = "expired"
            order.ended_at = ctx.clock.now()
            order.end_reason = "period ended"
            session.add(order)
            session.flush()
            result = order_dict(session, order, ctx.clock)
            done.append((order, result))
            record(
                ctx,
                session,
                "order.expired",
                actor=actor,
                case_ref=result["case"],
                evidence_ids=result["evidence"],
                payload=_ledger_payload(order),
            )
    ctx.ledger.flush_pending()
    return [order.id for order, _ in done if order.id is not None]


def list_orders(
    session: Session,
    clock: Clock,
    *,
    case_ref: str | None = None,
    evidence_id: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    query = select(PreservationOrder).order_by(col(PreservationOrder.id))
    if case_ref is not None:
        query = query.where(PreservationOrder.case_id == get_case(session, case_ref).id)
    if status is not None:
        query = query.where(PreservationOrder.status == status)
    if evidence_id is not None:
        return [order_dict(session, o, clock) for o in orders_covering(session, evidence_id)][
            offset : offset + limit
        ]
    return [order_dict(session, o, clock) for o in session.exec(query.offset(offset).limit(limit))]


def orders_covering(session: Session, evidence_id: str) -> list[PreservationOrder]:
    """Every order (any state) that covers the item, directly or through its case."""
    item = session.get(Evidence, evidence_id)
    if item is None:
        raise NotFound(f"no evidence item {evidence_id!r}", evidence=evidence_id)
    direct = select(PreservationOrder).join(
        OrderItem, col(OrderItem.order_id) == col(PreservationOrder.id)
    )
    direct = direct.where(OrderItem.evidence_id == evidence_id)
    by_case = select(PreservationOrder).where(
        PreservationOrder.case_id == item.case_id, col(PreservationOrder.whole_case).is_(True)
    )
    found = {o.id: o for o in session.exec(direct)}
    found.update({o.id: o for o in session.exec(by_case)})
    return [found[k] for k in sorted(k for k in found if k is not None)]
