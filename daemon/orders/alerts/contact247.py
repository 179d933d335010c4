"""The 24/7 point of contact (consolidated text art. 67): told at once, once.

``CUSTODYD_CONTACT_247`` lists mail addresses and/or ``http(s)://`` webhook URLs.
Entering a preservation order and recording a follow-up request each enqueue one
alert per channel into the ordinary alert outbox, in the transaction of the step
itself (so an order is never entered without its alert, nor alerted twice: the
outbox's unique key is ``247/<event>``). Once the step has committed,
:func:`alert_contact_now` tries those rows at once (one attempt each, no
back-off sleeps); whatever fails stays pending and the scheduled checker of
``custodyd serve`` retries it. Retries and the refusal of plain SMTP for
confidential orders are the outbox's.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session

from custodyd.daemon.context import AppContext
from custodyd.daemon.models import PreservationOrder
from custodyd.daemon.orders.alerts import compose
from custodyd.daemon.orders.alerts.outbox import CheckReport, deliver_subject_now, insert_ignore
from custodyd.daemon.orders.regimes import get_regime

log = logging.getLogger(__name__)


def contact_targets(ctx: AppContext) -> tuple[list[str], list[str]]:
    """(mail addresses, webhook URLs) of the configured 24/7 contact."""
    mails, hooks = [], []
    for target in ctx.settings.contact_247:
        if target.startswith(("http://", "https://")):
            hooks.append(target)
        elif target:
            mails.append(target)
    return mails, hooks


def enqueue_contact_alert(
    session: Session,
    ctx: AppContext,
    order: PreservationOrder,
    event: str,
    *,
    case_ref: str,
    evidence: list[str],
) -> int:
    """Enqueue the 24/7 alert for ``event`` (``entered`` or ``followup/...``) of ``order``."""
    mails, hooks = contact_targets(ctx)
    if not mails and not hooks:
        return 0
    regime = get_regime(session, order.regime_id)
    message = compose.contact_alert(
        order, regime, event=event, case_ref=case_ref, evidence_ids=evidence
    )
    rows: list[tuple[str, dict[str, Any]]] = []
    if mails and ctx.settings.smtp_url:
        rows.append(("smtp", {**message, "recipients": mails}))
    for number, url in enumerate(hooks):
        rows.append((f"webhook{number}" if number else "webhook", {**message, "webhook_url": url}))
    now = ctx.clock.now()
    inserted = 0
    for channel, payload in rows:
        inserted += insert_ignore(
            session,
            {
                "subject_kind": "order",
                "subject_id": str(order.id),
                "key": f"247/{event}"[:100],
                "channel": channel,
                "lead_days": None,
                "state": "pending",
                "due_at": now,
                "attempts": 0,
                "payload": payload,
                "created_at": now,
            },
        )
    return inserted


def alert_contact_now(ctx: AppContext, order_id: int | None) -> CheckReport | None:
    """Deliver the just-enqueued 24/7 alerts of ``order_id`` now (best effort)."""
    if order_id is None or not ctx.settings.contact_247:
        return None
    try:
        return deliver_subject_now(ctx, kind="order", subject_id=str(order_id), key_prefix="247/")
    except Exception:  # the scheduled checker delivers it; never fail the step for this
        log.exception("immediate 24/7 alert for order %s failed; left to the checker", order_id)
        return None
