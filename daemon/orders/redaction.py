"""What a caller who may not know a confidential order sees instead of it.

Retention answers keep telling the truth that matters to them — the item is not
disposable — without the order: its blocking entry is dropped and the answer
says ``held under a confidential order``. Due lists leave the order out. Custody
timelines replace each entry about the order (``order.*``, alerts about it) by
an entry that only says the item is held under a confidential order; the ledger
itself is untouched (it carries commitments, never the confidential fields).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.models import PreservationOrder
from custodyd.daemon.orders.access import can_see
from custodyd.daemon.orders.confidentiality import HELD_NOTICE, may_know
from custodyd.daemon.orders.lifecycle import case_ref_of
from custodyd.daemon.orders.retention import kept_by
from custodyd.daemon.orders.states import DueKind
from custodyd.daemon.orders.views import Due, RetentionStatus


class _Knower:
    """Memoised ``may_know`` by order id (a timeline names the same order many times)."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.known: dict[int, bool] = {}

    def __call__(self, order_id: Any) -> bool:
        try:
            key = int(order_id)
        except (TypeError, ValueError):
            return True
        if key not in self.known:
            order = self.session.get(PreservationOrder, key)
            self.known[key] = order is None or may_know(
                self.principal, order, case_ref_of(self.session, order.case_id)
            )
        return self.known[key]


def retention_for(
    session: Session, principal: Principal, status: RetentionStatus
) -> RetentionStatus:
    """``status`` as ``principal`` may see it: orders it may not know are left out of
    ``blocking`` (and of the dates they set), and ``held`` says that one keeps the item."""
    knows = _Knower(session, principal)
    shown = [b for b in status.blocking if knows(b.order_id)]
    if len(shown) == len(status.blocking):
        return status
    told = kept_by(status.evidence_id, shown)
    return told.model_copy(update={"disposable": status.disposable, "held": HELD_NOTICE})


def due_for(session: Session, principal: Principal, rows: Iterable[Due]) -> list[Due]:
    """The deadlines ``principal`` may know of: those of its cases (all for compliance),
    without a hidden order's."""
    knows = _Knower(session, principal)
    return [
        r for r in rows if can_see(principal, r.case) and (r.kind != DueKind.ORDER or knows(r.id))
    ]


def _order_of(entry: dict[str, Any]) -> Any:
    payload = entry.get("payload") or {}
    if "order_id" in payload and str(entry.get("action", "")).startswith("order."):
        return payload["order_id"]
    if payload.get("kind") == "order" and "subject_id" in payload:
        return payload["subject_id"]
    return None


def timeline_for(
    session: Session, principal: Principal, entries: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Timeline entries (``entry.to_dict()`` shape) with unknowable orders replaced."""
    knows = _Knower(session, principal)
    out = []
    for entry in entries:
        order_id = _order_of(entry)
        if order_id is None or knows(order_id):
            out.append(entry)
            continue
        out.append(
            {
                "index": entry["index"],
                "time": entry["time"],
                "actor": "",
                "action": "retention.held",
                "case": entry.get("case"),
                "evidence": entry.get("evidence"),
                "payload": {"notice": HELD_NOTICE},
            }
        )
    return out
