"""Retention of an evidence item: the union of every order that covers it.

An item must be kept while any covering order is in force: until the latest
expiry among them, and indefinitely while any of them is on hold (a hold wins
over every date). It is disposable only when no order is in force.

``retention_status`` and ``assert_disposable`` are what other domains (disposition,
the API, reports) ask of retention. Both take the clock as an optional keyword; without
one they use the system clock.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, col, select

from custodyd.daemon.clock import Clock, SystemClock
from custodyd.daemon.errors import DispositionRefused
from custodyd.daemon.models import PreservationOrder, Transfer, TransferItem
from custodyd.daemon.orders.lifecycle import (
    case_ref_of,
    covered_evidence,
    in_force,
    orders_covering,
)
from custodyd.daemon.orders.records import today
from custodyd.daemon.orders.states import DATED, STANDING, OrderStatus, TransferStatus
from custodyd.daemon.orders.views import BlockingOrder, Due, OrderDue, RetentionStatus, TransferDue


def retention_status(
    session: Session, evidence_id: str, *, clock: Clock | None = None
) -> RetentionStatus:
    on = today(clock or SystemClock())
    blocking: list[BlockingOrder] = []
    for order in orders_covering(session, evidence_id):
        if not in_force(order, on):
            continue
        assert order.id is not None
        blocking.append(
            BlockingOrder(
                order_id=order.id,
                ref=order.ref,
                regime=order.regime_id,
                status=OrderStatus(order.status),
                expires_on=order.expires_on.isoformat(),
                hold=order.status in STANDING,
                confidential=order.confidential,
            )
        )
    return kept_by(evidence_id, blocking)


def kept_by(evidence_id: str, blocking: list[BlockingOrder]) -> RetentionStatus:
    """The status of an item kept by the orders in force ``blocking``: until the latest
    expiry among them, indefinitely while any of them holds it."""
    hold = any(b.hold for b in blocking)
    dates = [date.fromisoformat(b.expires_on) for b in blocking if not b.hold]
    latest = max(dates) if dates else None
    return RetentionStatus(
        evidence_id=evidence_id,
        disposable=not blocking,
        hold=hold,
        retain_until=None if hold else latest,
        blocking=blocking,
    )


def assert_disposable(session: Session, evidence_id: str, *, clock: Clock | None = None) -> None:
    """Raise :class:`DispositionRefused` naming the blocking orders, if any stands."""
    status = retention_status(session, evidence_id, clock=clock)
    if status.disposable:
        return
    names = []
    for b in status.blocking:
        if b.status == OrderStatus.EXECUTING:
            why = "granted, being executed (record the execution first)"
        elif b.hold:
            why = "on hold until a decision"
        else:
            why = f"in force until {b.expires_on}"
        names.append(f"order {b.order_id} ({b.ref}, {b.regime}) {why}")
    raise DispositionRefused(
        f"evidence {evidence_id} cannot be disposed of: " + "; ".join(names),
        evidence=evidence_id,
        blocking=[b.model_dump(mode="json") for b in status.blocking],
    )


def due_within(session: Session, clock: Clock, days: int) -> list[Due]:
    """Every item whose order expiry or transfer deadline falls within ``days`` days.

    Orders on hold have no expiry and are not listed; lapsed-but-unswept orders and
    overdue open transfers are listed (negative ``days_left``).
    """
    on = today(clock)
    horizon = on + timedelta(days=days)
    rows: list[Due] = []
    orders = select(PreservationOrder).where(
        col(PreservationOrder.status).in_(sorted(DATED)),
        col(PreservationOrder.expires_on) <= horizon,
    )
    for order in session.exec(orders):
        assert order.id is not None
        for evidence_id in covered_evidence(session, order) or [None]:
            rows.append(
                OrderDue(
                    evidence_id=evidence_id,
                    case=case_ref_of(session, order.case_id),
                    id=order.id,
                    ref=order.ref,
                    regime=order.regime_id,
                    deadline=order.expires_on.isoformat(),
                    days_left=(order.expires_on - on).days,
                    confidential=order.confidential,
                )
            )
    transfers = select(Transfer).where(
        Transfer.status == TransferStatus.OPEN, col(Transfer.deadline) <= horizon
    )
    for transfer in session.exec(transfers):
        assert transfer.id is not None
        items = session.exec(
            select(TransferItem.evidence_id).where(TransferItem.transfer_id == transfer.id)
        )
        for evidence_id in sorted(set(items)) or [None]:
            rows.append(
                TransferDue(
                    evidence_id=evidence_id,
                    case=case_ref_of(session, transfer.case_id),
                    id=transfer.id,
                    ref=transfer.ref,
                    recipient=transfer.recipient,
                    deadline=transfer.deadline.isoformat(),
                    days_left=(transfer.deadline - on).days,
                    confidential=False,
                )
            )
    rows.sort(key=lambda r: (r.deadline, r.kind, r.id, r.evidence_id or ""))
    return rows


__all__ = ["RetentionStatus", "assert_disposable", "due_within", "kept_by", "retention_status"]
