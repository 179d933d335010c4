"""Retention of an evidence item: the union of every order that covers it.

An item must be kept while any covering order is in force: until the latest
expiry among them, and indefinitely while any of them is on hold (a hold wins
over every date). It is disposable only when no order is in force.

``retention_status`` and ``assert_disposable`` are what other domains (disposition,
the API, reports) ask of retention. Both take the clock as an optional keyword; without
one they use the system clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from custodyd.daemon.clock import Clock, SystemClock
from custodyd.daemon.errors import DispositionRefused
from custodyd.daemon.models import PreservationOrder, Transfer, TransferItem
from custodyd.daemon.orders.lifecycle import (
    LIVE_STATES,
    case_ref_of,
    covered_evidence,
    in_force,
    orders_covering,
)
from custodyd.daemon.orders.records import today


@dataclass
class RetentionStatus:
    evidence_id: str
    disposable: bool
    hold: bool
    retain_until: date | None  # latest expiry in force; None when nothing (or a hold) applies
    blocking: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "evidence_id": self.evidence_id,
            "disposable": self.disposable,
            "hold": self.hold,
            "retain_until": self.retain_until.isoformat() if self.retain_until else None,
            "blocking": self.blocking,
        }


def retention_status(
    session: Session, evidence_id: str, *, clock: Clock | None = None
) -> RetentionStatus:
    on = today(clock or SystemClock())
    blocking: list[dict[str, Any]] = []
    hold = False
    latest: date | None = None
    for order in orders_covering(session, evidence_id):
        if not in_force(order, on):
            continue
        held = order.status in ("hold", "executing")
        if held:
            hold = True
        else:
            latest = order.expires_on if latest is None else max(latest, order.expires_on)
        blocking.append(
            {
                "order_id": order.id,
                "ref": order.ref,
                "regime": order.regime_id,
                "status": order.status,
                "expires_on": order.expires_on.isoformat(),
                "hold": held,
                "confidential": order.confidential,
            }
        )
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
        if b["status"] == "executing":
            why = "granted, being executed (record the execution first)"
        elif b["hold"]:
            why = "on hold until a decision"
        else:
            why = f"in force until {b['expires_on']}"
        names.append(f"order {b['order_id']} ({b['ref']}, {b['regime']}) {why}")
    raise DispositionRefused(
        f"evidence {evidence_id} cannot be disposed of: " + "; ".join(names),
        evidence=evidence_id,
        blocking=status.blocking,
    )


def due_within(session: Session, clock: Clock, days: int) -> list[dict[str, Any]]:
    """Every item whose order expiry or transfer deadline falls within ``days`` days.

    Orders on hold have no expiry and are not listed; lapsed-but-unswept orders and
    overdue open transfers are listed (negative ``days_left``).
    """
    on = today(clock)
    horizon = on + timedelta(days=days)
    rows: list[dict[str, Any]] = []
    orders = select(PreservationOrder).where(
        col(PreservationOrder.status).in_(
            [s for s in LIVE_STATES if s not in ("hold", "executing")]
        ),
        col(PreservationOrder.expires_on) <= horizon,
    )
    for order in session.exec(orders):
        for evidence_id in covered_evidence(session, order) or [None]:
            rows.append(
                {
                    "evidence_id": evidence_id,
                    "case": case_ref_of(session, order.case_id),
                    "kind": "order",
                    "id": order.id,
                    "ref": order.ref,
                    "regime": order.regime_id,
                    "deadline": order.expires_on.isoformat(),
                    "days_left": (order.expires_on - on).days,
                    "confidential": order.confidential,
                }
            )
    transfers = select(Transfer).where(Transfer.status == "open", col(Transfer.deadline) <= horizon)
    for transfer in session.exec(transfers):
        items = session.exec(
            select(TransferItem.evidence_id).where(TransferItem.transfer_id == transfer.id)
        )
        for evidence_id in sorted(set(items)) or [None]:
            rows.append(
                {
                    "evidence_id": evidence_id,
                    "case": case_ref_of(session, transfer.case_id),
                    "kind": "transfer",
                    "id": transfer.id,
                    "ref": transfer.ref,
                    "recipient": transfer.recipient,
                    "deadline": transfer.deadline.isoformat(),
                    "days_left": (transfer.deadline - on).days,
                    "confidential": False,
                }
            )
    rows.sort(key=lambda r: (r["deadline"], r["kind"], r["id"], r["evidence_id"] or ""))
    return rows


__all__ = ["RetentionStatus", "assert_disposable", "due_within", "retention_status"]
