"""Preservation orders: enter, renew, follow-up (hold), decide, execute, release, expire.

Every step is validated against the regime and the current state and recorded in
the custody ledger in the same transaction (``order.created|renewed|followup|
decided|executed|refused|notified|expired|released``), one entry per covered item.

States: ``active`` (running to ``expires_on``) -> ``hold`` (a follow-up request
arrived: kept until a decision, whatever the date) -> ``executing`` (the follow-up
request was granted: the data are about to be searched, seized or disclosed and
stay preserved until the execution is recorded) or ``decided`` (refused or
withdrawn: the expiry applies again) -> ``expired`` or ``released``. ``executed``
moves ``executing`` to ``decided``: the ordinary expiry applies from then on.
A request may be ``refused`` on the narrow grounds of the texts. ``renew`` keeps
the state and moves ``expires_on``. An order is in force while on hold or
executing, or while active/decided and today is on or before ``expires_on``.

The expiry follows :mod:`custodyd.daemon.orders.dates` (the clock rule, with its
article); international requests must carry the fields of art. 68(2)
(:mod:`custodyd.daemon.orders.request_fields`); confidential orders follow
:mod:`custodyd.daemon.orders.confidentiality`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.cases import get_case
from custodyd.daemon.clock import Clock, utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, InvalidInput, NotFound
from custodyd.daemon.models import Case, Evidence, OrderItem, OrderNotice, PreservationOrder
from custodyd.daemon.names import check_name
from custodyd.daemon.orders import confidentiality
from custodyd.daemon.orders.dates import OrderDates, compute_expiry
from custodyd.daemon.orders.records import (
    SYSTEM_ACTOR,
    audited_page,
    record,
    record_access,
    recorded_step,
    today,
)
from custodyd.daemon.orders.regimes import get_regime
from custodyd.daemon.orders.request_fields import require_request_fields
from custodyd.daemon.orders.states import DATED, ENDED, STANDING, NoticeKind, OrderStatus, Outcome
from custodyd.daemon.orders.views import CommitmentView, OrderNoticeView, OrderView

LIVE_STATES = DATED | STANDING
STANDS_AS = {
    OrderStatus.HOLD: "on hold until a decision",
    OrderStatus.EXECUTING: "granted and being executed",
}


@dataclass
class OrderRequest:
    """What an officer enters: the fields of a preservation request."""

    regime: str
    ref: str
    issued_on: date
    received_on: date | None = None
    effected_on: date | None = None
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
    need_to_know: list[str] = field(default_factory=list)
    days: int | None = None
    lead_days: list[int] | None = None
    alert_to: list[str] = field(default_factory=list)


def in_force(order: PreservationOrder, on: date) -> bool:
    if order.status in STANDING:
        return True
    return order.status in DATED and on <= order.expires_on


def get_order(session: Session, order_id: int) -> PreservationOrder:
    if not 1 <= order_id < 2**63:
        raise NotFound(f"no preservation order {order_id}")
    order = session.get(PreservationOrder, order_id)
    if order is None:
        raise NotFound(f"no preservation order {order_id}")  # same body as a hidden one
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


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return utc(value).isoformat() if isinstance(value, datetime) else value.isoformat()


def order_view(session: Session, order: PreservationOrder, clock: Clock) -> OrderView:
    """The whole order, for those entitled to read it (the callers check that)."""
    assert order.id is not None
    notices = session.exec(
        select(OrderNotice).where(OrderNotice.order_id == order.id).order_by(col(OrderNotice.id))
    )
    commitment = None
    if order.confidential and order.commitment_salt:
        commitment = CommitmentView(
            scheme=confidentiality.COMMITMENT_SCHEME,
            salt=order.commitment_salt,
            value=confidentiality.order_commitment(order),
            fields=confidentiality.committed_fields(order),
        )
    return OrderView(
        id=order.id,
        ref=order.ref,
        regime_id=order.regime_id,
        case_id=order.case_id,
        whole_case=order.whole_case,
        authority=order.authority,
        offence=order.offence,
        summary=order.summary,
        data_concerned=order.data_concerned,
        relation=order.relation,
        custodian=order.custodian,
        necessity=order.necessity,
        followup_announced=order.followup_announced,
        confidential=order.confidential,
        issued_on=order.issued_on.isoformat(),
        received_on=order.received_on.isoformat(),
        effected_on=order.effected_on.isoformat(),
        clock_start=order.clock_start.isoformat(),
        expiry_rule=order.expiry_rule,
        period_days=order.period_days,
        expires_on=order.expires_on.isoformat(),
        renewals=order.renewals,
        status=OrderStatus(order.status),
        followup_ref=order.followup_ref,
        followup_at=_iso(order.followup_at),
        decision=Outcome(order.decision) if order.decision else None,
        decision_ref=order.decision_ref,
        decided_at=_iso(order.decided_at),
        executed_basis=order.executed_basis,
        executed_transfer_id=order.executed_transfer_id,
        executed_at=_iso(order.executed_at),
        refusal_grounds=order.refusal_grounds,
        refusal_reason=order.refusal_reason,
        need_to_know=list(order.need_to_know or []),
        ended_at=_iso(order.ended_at),
        end_reason=order.end_reason,
        lead_days=order.lead_days,
        alert_to=order.alert_to,
        entered_by=order.entered_by,
        entered_at=utc(order.entered_at).isoformat(),
        case=case_ref_of(session, order.case_id),
        evidence=covered_evidence(session, order),
        in_force=in_force(order, today(clock)),
        hold=order.status in STANDING,
        regime=order.regime_id,
        notices=[
            OrderNoticeView(
                kind=NoticeKind(n.kind),
                text=n.text,
                actor=n.actor,
                at=utc(n.noticed_at).isoformat(),
            )
            for n in notices
        ],
        commitment=commitment,
    )


def _ledger_payload(order: PreservationOrder, **extra: Any) -> dict[str, Any]:
    """What goes in the ledger: identifiers, dates and the rule; never confidential substance.

    A confidential order's entries carry a salted commitment of its confidential
    fields (ref included) instead of the fields.
    """
    payload: dict[str, Any] = {
        "order_id": order.id,
        "regime": order.regime_id,
        "issued_on": order.issued_on.isoformat(),
        "received_on": order.received_on.isoformat(),
        "effected_on": order.effected_on.isoformat(),
        "expires_on": order.expires_on.isoformat(),
        "expiry_rule": order.expiry_rule,
        "status": order.status,
        "confidential": order.confidential,
    }
    if order.confidential:
        payload["commitment"] = confidentiality.order_commitment(order)
        payload["commitment_scheme"] = confidentiality.COMMITMENT_SCHEME
    else:
        payload["order_ref"] = order.ref
        if order.authority:
            payload["authority"] = order.authority
    payload.update(extra)
    return payload


def _check_lead_days(lead_days: list[int] | None) -> list[int] | None:
    if lead_days is None:
        return None
    if any(d < 0 for d in lead_days):
        raise InvalidInput("alert lead times are days before the deadline, 0 or more")
    return sorted(set(lead_days), reverse=True)


def create_order(ctx: AppContext, request: OrderRequest, *, actor: str) -> OrderView:
    """Enter an order. Its expiry follows the clock rule of its regime (see ``dates``).

    Entering it, like a follow-up request later, alerts the 24/7 point of contact
    at once (art. 67), through the alert outbox, in the same transaction.
    """
    from custodyd.daemon.orders.alerts.contact247 import alert_contact_now, enqueue_contact_alert

    if not request.ref.strip():
        raise InvalidInput("an order needs its reference (ref)", field="ref")
    check_name(request.ref, "order ref")
    now_day = today(ctx.clock)
    with ctx.session() as session:
        regime = get_regime(session, request.regime)
        if regime.scope == "international":
            require_request_fields(vars(request), regime.id)
        expiry = compute_expiry(
            regime,
            OrderDates(request.issued_on, request.received_on, request.effected_on),
            now_day,
            request.days,
        )
        need_to_know = sorted({check_name(n, "need-to-know user") for n in request.need_to_know})
        if need_to_know and not request.confidential:
            raise InvalidInput(
                "need-to-know applies to confidential orders; mark the order confidential",
                field="need_to_know",
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
            raise InvalidInput(
                "an order covers evidence items or a case", fields=["evidence", "case"]
            )
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
            need_to_know=need_to_know or None,
            commitment_salt=confidentiality.new_salt() if request.confidential else None,
            issued_on=expiry.issued_on,
            received_on=expiry.received_on,
            effected_on=expiry.effected_on,
            clock_start=expiry.clock_start,
            expiry_rule=expiry.rule,
            period_days=expiry.days,
            expires_on=expiry.expires_on,
            status=OrderStatus.ACTIVE if expiry.expires_on >= now_day else OrderStatus.EXPIRED,
            ended_at=None if expiry.expires_on >= now_day else ctx.clock.now(),
            end_reason=None if expiry.expires_on >= now_day else "maximum passed before entry",
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
        result = order_view(session, order, ctx.clock)
        record(
            ctx,
            session,
            "order.created",
            actor=actor,
            case_ref=result.case,
            evidence_ids=result.evidence,
            payload=_ledger_payload(order, entered_by=actor, whole_case=order.whole_case),
        )
        enqueue_contact_alert(
            session, ctx, order, "entered", case_ref=result.case, evidence=result.evidence
        )
    ctx.ledger.flush_pending()
    alert_contact_now(ctx, result.id)
    _sync_store_lock(ctx, result, actor)
    return result


def _lapsed(order: PreservationOrder, clock: Clock) -> bool:
    return order.status in DATED and today(clock) > order.expires_on


def _require_live(order: PreservationOrder, clock: Clock, doing: str) -> None:
    if order.status in ENDED or _lapsed(order, clock):
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
    after: Callable[[Session, PreservationOrder, OrderView], None] | None = None,
) -> OrderView:
    """Validate and apply ``change`` in one transaction, then record ``action``."""
    result = recorded_step(
        ctx,
        action,
        actor=actor,
        load=lambda session: get_order(session, order_id),
        change=change,
        view=lambda session, order: order_view(session, order, ctx.clock),
        payload=lambda order, added: _ledger_payload(order, **added),
        after=after,
    )
    _sync_store_lock(ctx, result, actor)
    return result


def _sync_store_lock(ctx: AppContext, result: OrderView, actor: str) -> None:
    """Items on S3 carry the orders in the store's own Object Lock (retention, legal hold)."""
    from custodyd.daemon.orders.object_lock import sync_object_lock

    sync_object_lock(ctx, list(result.evidence), actor=actor)


def renew_order(
    ctx: AppContext, order_id: int, *, actor: str, days: int | None = None, ref: str | None = None
) -> OrderView:
    """Extend the expiry by one renewal (the regime's length unless ``days`` is given)."""
    if ref is not None:
        check_name(ref, "order ref")

    def change(session: Session, order: PreservationOrder) -> dict[str, Any]:
        _require_live(order, ctx.clock, "renew it")
        if order.status in STANDING:
            raise Conflict(
                f"order {order.id} is {STANDS_AS[order.status]} (a follow-up request stands); "
                "there is no expiry to renew",
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
        order.expiry_rule = (
            f"{order.expiry_rule}; renewal {order.renewals} on {today(ctx.clock)}: "
            f"{previous} + {length} days ({regime.citation})"
        )
        return {
            "previous_expiry": previous.isoformat(),
            "renewal_days": length,
            "renewal_ref": ref,
        }

    return _step(ctx, order_id, "order.renewed", actor, change)


def followup_order(
    ctx: AppContext, order_id: int, *, actor: str, ref: str | None = None
) -> OrderView:
    """A follow-up request (search, seizure, disclosure) arrived: hold until a decision."""
    if ref is not None:
        check_name(ref, "order ref")

    from custodyd.daemon.orders.alerts.contact247 import alert_contact_now, enqueue_contact_alert

    def change(_session: Session, order: PreservationOrder) -> dict[str, Any]:
        if order.status in STANDING:
            raise Conflict(f"order {order.id} is already {STANDS_AS[order.status]}", order=order.id)
        _require_live(order, ctx.clock, "record a follow-up request")
        order.status = OrderStatus.HOLD
        order.followup_at = ctx.clock.now()
        order.followup_ref = ref
        order.decision = None
        order.decided_at = None
        return {"followup_ref": ref, "hold": True}

    def alert(session: Session, order: PreservationOrder, result: OrderView) -> None:
        key = f"followup/{utc(order.followup_at).isoformat()}" if order.followup_at else "followup"
        enqueue_contact_alert(
            session, ctx, order, key, case_ref=result.case, evidence=result.evidence
        )

    result = _step(ctx, order_id, "order.followup", actor, change, alert)
    alert_contact_now(ctx, order_id)
    return result


def decide_order(
    ctx: AppContext, order_id: int, outcome: str, *, actor: str, ref: str | None = None
) -> OrderView:
    """Record the decision on the follow-up request.

    ``granted``: the order becomes ``executing`` — the data are about to be
    searched, seized or disclosed and stay preserved until :func:`executed_order`.
    ``refused`` / ``withdrawn``: the hold ends and the expiry applies again.

    A decision on an ``active`` order (no follow-up recorded yet) means the
    follow-up request has arrived: its arrival is recorded first, exactly as
    :func:`followup_order` does (``order.followup`` entry, 24/7 alert), so
    ``orders add`` then ``orders decide`` works as the issue's contract calls it
    and the ledger still shows both steps.
    """
    if ref is not None:
        check_name(ref, "order ref")
    if outcome not in tuple(Outcome):
        raise InvalidInput(
            f"outcome must be one of {', '.join(Outcome)}, not {outcome!r}", field="outcome"
        )
    decision = Outcome(outcome)
    with ctx.session() as session:
        awaiting = get_order(session, order_id).status == OrderStatus.ACTIVE
    if awaiting:
        followup_order(ctx, order_id, actor=actor)

    def change(_session: Session, order: PreservationOrder) -> dict[str, Any]:
        if order.status != OrderStatus.HOLD:
            raise Conflict(
                f"order {order.id} has no follow-up request awaiting a decision "
                f"(status {order.status})",
                order=order.id,
            )
        granted = decision is Outcome.GRANTED
        order.status = OrderStatus.EXECUTING if granted else OrderStatus.DECIDED
        order.decision = decision
        order.decision_ref = ref
        order.decided_at = ctx.clock.now()
        return {"outcome": outcome, "decision_ref": ref, "hold": granted}

    return _step(ctx, order_id, "order.decided", actor, change)


def executed_order(
    ctx: AppContext,
    order_id: int,
    *,
    actor: str,
    basis: str,
    transfer_id: int | None = None,
) -> OrderView:
    """The granted follow-up request was executed (seizure, production or transfer).

    From now on the ordinary expiry (or a new order) decides how long the data stay.
    """
    if not basis.strip():
        raise InvalidInput("name what executed the request (basis)", field="basis")

    def change(session: Session, order: PreservationOrder) -> dict[str, Any]:
        if order.status != OrderStatus.EXECUTING:
            raise Conflict(
                f"order {order.id} has no granted request being executed (status {order.status})",
                order=order.id,
            )
        if transfer_id is not None:
            from custodyd.daemon.orders.transfers import get_transfer

            transfer = get_transfer(session, transfer_id)
            if transfer.case_id != order.case_id:
                raise InvalidInput(
                    f"transfer {transfer_id} belongs to another case", field="transfer"
                )
        order.status = OrderStatus.DECIDED
        order.executed_basis = basis.strip()
        order.executed_transfer_id = transfer_id
        order.executed_at = ctx.clock.now()
        return {"basis": order.executed_basis, "transfer_id": transfer_id, "hold": False}

    return _step(ctx, order_id, "order.executed", actor, change)


def release_order(ctx: AppContext, order_id: int, *, actor: str, reason: str) -> OrderView:
    """End an order early (withdrawn by the authority). Refused while a hold stands."""
    if not reason.strip():
        raise InvalidInput("releasing an order needs a reason")

    def change(_session: Session, order: PreservationOrder) -> dict[str, Any]:
        if order.status in STANDING:
            raise Conflict(
                f"order {order.id} is {STANDS_AS[order.status]}: a follow-up request stands; "
                "record its decision and execution first",
                order=order.id,
            )
        if order.status in ENDED:
            raise Conflict(f"order {order.id} already ended ({order.status})", order=order.id)
        order.status = OrderStatus.RELEASED
        order.ended_at = ctx.clock.now()
        order.end_reason = reason
        return {"reason": reason}

    return _step(ctx, order_id, "order.released", actor, change)


def expire_due(ctx: AppContext, *, actor: str = SYSTEM_ACTOR) -> list[int]:
    """Mark every order whose expiry day is over as ``expired`` (ledger ``order.expired``)."""
    now_day = today(ctx.clock)
    done: list[int] = []
    with ctx.session() as session:
        query = select(PreservationOrder).where(
            col(PreservationOrder.status).in_(sorted(DATED)),
            col(PreservationOrder.expires_on) < now_day,
        )
        for order in session.exec(query):
            order.status = OrderStatus.EXPIRED
            order.ended_at = ctx.clock.now()
            order.end_reason = "period ended"
            session.add(order)
            session.flush()
            assert order.id is not None
            done.append(order.id)
            record(
                ctx,
                session,
                "order.expired",
                actor=actor,
                case_ref=case_ref_of(session, order.case_id),
                evidence_ids=covered_evidence(session, order),
                payload=_ledger_payload(order),
            )
    ctx.ledger.flush_pending()
    return done


def list_orders(
    session: Session,
    clock: Clock,
    *,
    case_ref: str | None = None,
    evidence_id: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
    principal: Principal | None = None,
) -> list[OrderView]:
    """Orders by case, item or status; with ``principal``, only those it may know: the
    cases it sees are selected in SQL, need-to-know of confidential orders here."""
    from custodyd.daemon.orders.access import can_see, only_visible

    if principal is not None and case_ref is not None and not can_see(principal, case_ref):
        return []
    query = select(PreservationOrder).join(Case, col(Case.id) == col(PreservationOrder.case_id))
    query = only_visible(query.order_by(col(PreservationOrder.id)), principal)
    if case_ref is not None:
        query = query.where(PreservationOrder.case_id == get_case(session, case_ref).id)
    if status is not None:
        query = query.where(PreservationOrder.status == status)
    orders: Sequence[PreservationOrder]
    if evidence_id is not None:
        orders = orders_covering(session, evidence_id)
        if status is not None:
            orders = [o for o in orders if o.status == status]
    else:
        orders = list(session.exec(query))
    if principal is not None:
        orders = knowable_orders(session, principal, orders)
    return [order_view(session, o, clock) for o in orders[offset : offset + limit]]


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


ORDER_ACCESSED = "order.accessed"


def read_order(
    ctx: AppContext, order_id: int, *, actor: str, principal: Principal | None = None
) -> OrderView:
    """One order, for a reader entitled to it; the read is recorded (``order.accessed``).

    ``principal`` (API callers) is checked against need-to-know: an order the
    caller may not know is reported exactly like one that does not exist.
    """
    with ctx.session() as session:
        order = get_order(session, order_id)
        case_ref = case_ref_of(session, order.case_id)
        if principal is not None and not confidentiality.may_know(principal, order, case_ref):
            raise NotFound(f"no preservation order {order_id}")
        data = order_view(session, order, ctx.clock)
    detail = {"order_id": order_id}
    record_access(ctx, ORDER_ACCESSED, actor=actor, what="order", subject=data, detail=detail)
    return data


def read_orders(
    ctx: AppContext,
    principal: Principal,
    *,
    case_ref: str | None = None,
    evidence_id: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[OrderView], int | None]:
    """One page of the orders ``principal`` may know (and the next offset, None on the
    last page); the read of a non-empty page is recorded (``order.accessed``)."""
    return audited_page(
        ctx,
        lambda session, rows: list_orders(
            session,
            ctx.clock,
            case_ref=case_ref,
            evidence_id=evidence_id,
            status=status,
            offset=offset,
            limit=rows,
            principal=principal,
        ),
        offset=offset,
        limit=limit,
        action=ORDER_ACCESSED,
        actor=principal.actor,
        what="orders",
        case_ref=case_ref,
        evidence_id=evidence_id,
    )


def knowable_orders(
    session: Session, principal: Principal, orders: Sequence[PreservationOrder]
) -> list[PreservationOrder]:
    """The orders among ``orders`` that ``principal`` may know exist."""
    return [
        o for o in orders if confidentiality.may_know(principal, o, case_ref_of(session, o.case_id))
    ]
