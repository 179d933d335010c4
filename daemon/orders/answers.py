"""Answering the requesting state: refusing a preservation request, and notices.

A request may be refused only on the narrow grounds of the texts (consolidated
text art. 68(3)-(5); grounds are data in ``refusal_grounds.json``), and reasons
must be given (art. 61(22)). When preservation will not secure the data, or
would threaten the confidentiality of the investigation, the requesting state
is told promptly (art. 68(6)): :func:`notify_requester` records that notice,
time-stamped, with the ledger entry ``order.notified``.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from sqlmodel import Session

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, InvalidInput
from custodyd.daemon.models import OrderNotice, PreservationOrder
from custodyd.daemon.orders.lifecycle import STANDS_AS, _require_live, _step
from custodyd.daemon.orders.states import STANDING, NoticeKind, OrderStatus
from custodyd.daemon.orders.views import OrderView

GROUNDS_FILE = Path(__file__).with_name("refusal_grounds.json")


@cache
def refusal_grounds() -> dict[str, dict[str, str]]:
    data = json.loads(GROUNDS_FILE.read_text(encoding="utf-8"))
    return {g["id"]: g for g in data["grounds"]}


def refuse_order(
    ctx: AppContext, order_id: int, *, grounds: str, reason: str, actor: str
) -> OrderView:
    """Refuse the preservation request on one of the texts' grounds, with reasons."""
    known = refusal_grounds()
    if grounds not in known:
        raise InvalidInput(
            f"grounds must be one of {', '.join(known)} (the texts allow no others), "
            f"not {grounds!r}",
            field="grounds",
        )
    if not reason.strip():
        raise InvalidInput("a refusal gives its reasons (art. 61(22))", field="reason")

    def change(_session: Session, order: PreservationOrder) -> dict[str, Any]:
        if order.status in STANDING:
            raise Conflict(
                f"order {order.id} is {STANDS_AS[order.status]}: a follow-up request stands",
                order=order.id,
            )
        _require_live(order, ctx.clock, "refuse it")
        order.status = OrderStatus.REFUSED
        order.refusal_grounds = grounds
        order.refusal_reason = reason.strip()
        order.ended_at = ctx.clock.now()
        order.end_reason = f"refused: {grounds}"
        return {
            "grounds": grounds,
            "grounds_citation": known[grounds]["citation"],
            "reason": order.refusal_reason,
        }

    return _step(ctx, order_id, "order.refused", actor, change)


def notify_requester(
    ctx: AppContext, order_id: int, *, kind: str, text: str, actor: str
) -> OrderView:
    """Record a prompt notice to the requesting state (art. 68(6))."""
    if kind not in tuple(NoticeKind):
        raise InvalidInput(
            f"kind must be one of {', '.join(NoticeKind)}, not {kind!r}", field="kind"
        )
    if not text.strip():
        raise InvalidInput("the notice needs its text", field="text")

    def change(session: Session, order: PreservationOrder) -> dict[str, Any]:
        assert order.id is not None
        now = ctx.clock.now()
        session.add(
            OrderNotice(
                order_id=order.id, kind=kind, text=text.strip(), actor=actor, noticed_at=now
            )
        )
        extra: dict[str, Any] = {"kind": kind, "noticed_at": now.isoformat()}
        if order.confidential:
            extra["text_sha256"] = hashlib.sha256(text.strip().encode()).hexdigest()
        else:
            extra["text"] = text.strip()
        return extra

    return _step(ctx, order_id, "order.notified", actor, change)
