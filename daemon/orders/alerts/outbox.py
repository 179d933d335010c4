"""The alert checker: due alerts from the clock -> outbox rows -> delivery -> sent.

Exactly once: ``alert_outbox`` has one row per (subject, key, channel), the key
naming the deadline and the lead time (``2026-03-01/7``), under a unique
constraint; rows are inserted with ``ON CONFLICT DO NOTHING``, so however many
checkers run, before or after a restart, an alert is enqueued once. Delivery
claims a row (``pending`` -> ``sending`` in one conditional UPDATE) before
sending, so two checkers never send the same row; it is then marked ``sent`` and
recorded in the ledger (``alert.sent``). A renewal changes the deadline and so
the keys: the new expiry gets its own alerts.

Catch-up policy after downtime (or for an order entered late): when several lead
times have passed unsent, only the **most recent** one (the smallest lead, the
most urgent message) is sent; the older ones are stored as ``superseded`` and
never sent. A failed delivery stays ``pending`` with a growing back-off and is
marked ``failed`` after ``MAX_ATTEMPTS``; a row left ``sending`` by a crash for
``STALE_CLAIM`` is put back to ``pending`` (so a crash in the middle of a send
may, rarely, repeat that one message rather than lose it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import (
    AlertOutbox,
    AlertRecipient,
    PreservationOrder,
    Transfer,
    TransferItem,
)
from custodyd.daemon.orders.alerts import compose
from custodyd.daemon.orders.alerts.smtp import PlainSmtpRefused, send_mail
from custodyd.daemon.orders.alerts.webhook import post_webhook
from custodyd.daemon.orders.lifecycle import case_ref_of, covered_evidence, expire_due
from custodyd.daemon.orders.records import SYSTEM_ACTOR, record, start_of, today
from custodyd.daemon.orders.regimes import get_regime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
STALE_CLAIM = timedelta(minutes=15)
RETRY_CAP = timedelta(hours=1)


@dataclass
class CheckReport:
    enqueued: int = 0
    superseded: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    expired: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "enqueued": self.enqueued,
            "superseded": self.superseded,
            "sent": self.sent,
            "failed": self.failed,
            "retrying": self.retrying,
            "expired": self.expired,
            "errors": self.errors,
        }


def channels(ctx: AppContext, recipients: Sequence[str]) -> list[str]:
    found = []
    if ctx.settings.smtp_url and recipients:
        found.append("smtp")
    if ctx.settings.webhook_url:
        found.append("webhook")
    return found


def recipients_for(
    session: Session, ctx: AppContext, *, case_ref: str | None, regime_id: str | None, extra: Any
) -> list[str]:
    """settings.alert_to, then the case's and the regime's recipients, then the subject's own."""
    found: list[str] = list(ctx.settings.alert_to)
    scopes = [("case", case_ref), ("regime", regime_id)]
    for scope, key in scopes:
        if key is None:
            continue
        rows = session.exec(
            select(AlertRecipient.address).where(
                AlertRecipient.scope == scope, AlertRecipient.key == key
            )
        )
        found.extend(rows)
    if regime_id is not None:
        found.extend(get_regime(session, regime_id).alert_to)
    found.extend(extra or [])
    return list(dict.fromkeys(a.strip() for a in found if a and a.strip()))


def insert_ignore(session: Session, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was new."""
    table = AlertOutbox.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    result = session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def any_due(ctx: AppContext, deadline: date, leads: Sequence[int]) -> bool:
    """Whether the largest lead time before ``deadline`` has come."""
    return bool(leads) and ctx.clock.now() >= start_of(deadline - timedelta(days=max(leads)))


def _enqueue_leads(
    session: Session,
    ctx: AppContext,
    report: CheckReport,
    *,
    kind: str,
    subject_id: str,
    deadline: date,
    leads: Sequence[int],
    recipients: list[str],
    build: Callable[..., dict[str, Any]],
) -> None:
    now = ctx.clock.now()
    due = sorted(lead for lead in set(leads) if now >= start_of(deadline - timedelta(days=lead)))
    if not due:
        return
    chans = channels(ctx, recipients)
    if not chans:
        return
    newest = due[0]
    existing = set(
        session.exec(
            select(AlertOutbox.key, AlertOutbox.channel).where(
                AlertOutbox.subject_kind == kind, AlertOutbox.subject_id == subject_id
            )
        )
    )
    for lead in due:
        key = f"{deadline.isoformat()}/{lead}"
        missing = [c for c in chans if (key, c) not in existing]
        if not missing:  # the common case on every wake-up: nothing to compose
            continue
        message = build(lead_days=lead)
        message["recipients"] = recipients
        for channel in missing:
            state = "pending" if lead == newest else "superseded"
            inserted = insert_ignore(
                session,
                {
                    "subject_kind": kind,
                    "subject_id": subject_id,
                    "key": key,
                    "channel": channel,
                    "lead_days": lead,
                    "state": state,
                    "due_at": start_of(deadline - timedelta(days=lead)),
                    "attempts": 0,
                    "payload": message,
                    "created_at": now,
                },
            )
            if inserted and state == "pending":
                report.enqueued += 1
            elif inserted:
                report.superseded += 1


def enqueue_due(ctx: AppContext, report: CheckReport) -> None:
    """Insert outbox rows for every lead time that has come, for orders and transfers."""
    on = today(ctx.clock)
    default_leads = list(ctx.settings.alert_lead_days)
    with ctx.session() as session:
        orders = session.exec(
            select(PreservationOrder).where(
                col(PreservationOrder.status).in_(("active", "decided"))
            )
        )
        for order in list(orders):
            leads = order.lead_days if order.lead_days is not None else default_leads
            if not any_due(ctx, order.expires_on, leads):
                continue  # most orders on most wake-ups: no query beyond this one
            case_ref = case_ref_of(session, order.case_id)
            evidence = covered_evidence(session, order)
            regime = get_regime(session, order.regime_id)
            recipients = recipients_for(
                session, ctx, case_ref=case_ref, regime_id=regime.id, extra=order.alert_to
            )

            _enqueue_leads(
                session,
                ctx,
                report,
                kind="order",
                subject_id=str(order.id),
                deadline=order.expires_on,
                leads=leads,
                recipients=recipients,
                build=partial(
                    compose.order_alert,
                    order,
                    regime,
                    case_ref=case_ref,
                    evidence_ids=evidence,
                    on=on,
                ),
            )
        transfers = session.exec(select(Transfer).where(Transfer.status == "open"))
        for transfer in list(transfers):
            t_leads = transfer.lead_days if transfer.lead_days is not None else default_leads
            if not any_due(ctx, transfer.deadline, t_leads):
                continue
            case_ref = case_ref_of(session, transfer.case_id)
            t_evidence = sorted(
                set(
                    session.exec(
                        select(TransferItem.evidence_id).where(
                            TransferItem.transfer_id == transfer.id
                        )
                    )
                )
            )
            recipients = recipients_for(
                session, ctx, case_ref=case_ref, regime_id=None, extra=transfer.alert_to
            )

            _enqueue_leads(
                session,
                ctx,
                report,
                kind="transfer",
                subject_id=str(transfer.id),
                deadline=transfer.deadline,
                leads=t_leads,
                recipients=recipients,
                build=partial(
                    compose.transfer_alert,
                    transfer,
                    case_ref=case_ref,
                    evidence_ids=t_evidence,
                    on=on,
                ),
            )


def enqueue_now(
    ctx: AppContext, *, kind: str, subject_id: str, key: str, message: dict[str, Any]
) -> int:
    """Enqueue an immediate alert (e.g. a fixity mismatch). Returns rows inserted."""
    inserted = 0
    with ctx.session() as session:
        recipients = recipients_for(
            session, ctx, case_ref=message.get("case"), regime_id=None, extra=None
        )
        message = {**message, "recipients": recipients}
        for channel in channels(ctx, recipients):
            inserted += insert_ignore(
                session,
                {
                    "subject_kind": kind,
                    "subject_id": subject_id,
                    "key": key,
                    "channel": channel,
                    "lead_days": None,
                    "state": "pending",
                    "due_at": ctx.clock.now(),
                    "attempts": 0,
                    "payload": message,
                    "created_at": ctx.clock.now(),
                },
            )
    return inserted


def recover_stale(ctx: AppContext) -> int:
    cutoff = ctx.clock.now() - STALE_CLAIM
    table = AlertOutbox.__table__  # type: ignore[attr-defined]
    with ctx.session() as session:
        result = session.execute(
            sa.update(table)
            .where(table.c.state == "sending", table.c.claimed_at < cutoff)
            .values(state="pending")
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def _claim(ctx: AppContext, row_id: int) -> AlertOutbox | None:
    table = AlertOutbox.__table__  # type: ignore[attr-defined]
    with ctx.session() as session:
        result = session.execute(
            sa.update(table)
            .where(table.c.id == row_id, table.c.state == "pending")
            .values(state="sending", claimed_at=ctx.clock.now())
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return session.get(AlertOutbox, row_id)


def _send(ctx: AppContext, row: AlertOutbox, webhook_backoff: Sequence[float] | None) -> None:
    payload = row.payload or {}
    settings = ctx.settings
    if row.channel == "smtp":
        if not settings.smtp_url:
            raise RuntimeError("smtp_url is no longer configured")
        send_mail(
            settings.smtp_url,
            require_tls=bool(payload.get("confidential")),
            sender=settings.alert_from,
            recipients=payload.get("recipients") or list(settings.alert_to),
            subject=payload["subject"],
            body=payload["body"],
            message_id_key=f"alert{row.id}",
        )
    elif row.channel.startswith("webhook"):
        url = payload.get("webhook_url") or settings.webhook_url
        if not url:
            raise RuntimeError("webhook_url is no longer configured")
        body = {
            "event": payload.get("event"),
            "delivery": row.id,
            "key": row.key,
            "subject": payload.get("subject"),
            "sent_at": ctx.clock.now().isoformat(),
            **(payload.get("data") or {}),
        }
        kwargs: dict[str, Any] = {}
        if webhook_backoff is not None:
            kwargs["backoff"] = webhook_backoff
        post_webhook(
            url,
            body,
            secret=settings.webhook_secret,
            event=str(payload.get("event")),
            delivery_id=str(row.id),
            **kwargs,
        )
    else:
        raise RuntimeError(f"unknown alert channel {row.channel!r}")


def deliver_pending(
    ctx: AppContext,
    report: CheckReport | None = None,
    *,
    webhook_backoff: Sequence[float] | None = None,
) -> CheckReport:
    """Send every pending row whose retry time has come; mark it sent and record it.

    A refusal (confidential alert over plain SMTP) enqueues its own webhook
    warning; one more pass sends it at once.
    """
    report = report or CheckReport()
    if _deliver_once(ctx, report, webhook_backoff):
        _deliver_once(ctx, report, webhook_backoff)
    return report


def deliver_subject_now(
    ctx: AppContext, *, kind: str, subject_id: str, key_prefix: str
) -> CheckReport:
    """Try at once the pending rows of one subject whose key starts with ``key_prefix``
    (the 24/7 alert of a step just taken). One attempt, no back-off sleeps: a failure
    stays pending for the scheduled checker, which retries it; nothing is lost."""
    report = CheckReport()
    with ctx.session() as session:
        ids = list(
            session.exec(
                select(AlertOutbox.id, AlertOutbox.channel)
                .where(
                    AlertOutbox.state == "pending",
                    AlertOutbox.subject_kind == kind,
                    AlertOutbox.subject_id == subject_id,
                    col(AlertOutbox.key).startswith(key_prefix),
                )
                .order_by(col(AlertOutbox.id))
            )
        )
    if _deliver_rows(ctx, report, (), ids):
        _deliver_once(ctx, report, ())
    return report


def _deliver_once(
    ctx: AppContext, report: CheckReport, webhook_backoff: Sequence[float] | None
) -> bool:
    """One pass over the due rows; True when a refusal enqueued a new row."""
    now = ctx.clock.now()
    with ctx.session() as session:
        ids = list(
            session.exec(
                select(AlertOutbox.id, AlertOutbox.channel)
                .where(
                    AlertOutbox.state == "pending",
                    sa.or_(
                        col(AlertOutbox.next_attempt_at).is_(None),
                        col(AlertOutbox.next_attempt_at) <= now,
                    ),
                )
                .order_by(col(AlertOutbox.id))
            )
        )
    return _deliver_rows(ctx, report, webhook_backoff, ids)


def _deliver_rows(
    ctx: AppContext,
    report: CheckReport,
    webhook_backoff: Sequence[float] | None,
    ids: Sequence[Any],
) -> bool:
    """Claim, send and mark each row; True when a refusal enqueued a new row."""
    refused = False
    down: set[str] = set()  # a channel that just failed is not tried again in this run
    for row_id, channel in ids:
        if row_id is None or channel in down:
            continue  # stays pending for the next run
        row = _claim(ctx, row_id)
        if row is None:
            continue
        try:
            _send(ctx, row, webhook_backoff)
        except PlainSmtpRefused as exc:  # never retried: the link itself is the problem
            _refused(ctx, row, exc, report)
            refused = True
            continue
        except Exception as exc:  # any delivery failure is retried later, never lost
            _failed(ctx, row, exc, report)
            down.add(row.channel)
            continue
        _sent(ctx, row)
        report.sent += 1
    return refused


def _failed(ctx: AppContext, row: AlertOutbox, exc: Exception, report: CheckReport) -> None:
    attempts = row.attempts + 1
    give_up = attempts >= MAX_ATTEMPTS
    delay = min(timedelta(minutes=2**attempts), RETRY_CAP)
    message = f"{type(exc).__name__}: {exc}"
    log.warning("alert %s via %s failed (attempt %d): %s", row.id, row.channel, attempts, message)
    report.errors.append(f"alert {row.id} ({row.channel}): {message}")
    if give_up:
        report.failed += 1
    else:
        report.retrying += 1
    with ctx.session() as session:
        fresh = session.get(AlertOutbox, row.id)
        assert fresh is not None
        fresh.attempts = attempts
        fresh.last_error = message[:2000]
        fresh.state = "failed" if give_up else "pending"
        fresh.next_attempt_at = ctx.clock.now() + delay
        session.add(fresh)


def _refused(ctx: AppContext, row: AlertOutbox, exc: Exception, report: CheckReport) -> None:
    """A confidential alert met plain SMTP: mark it refused, ledger it, tell the webhook."""
    message = str(exc)
    log.error("alert %s refused: %s", row.id, message)
    report.errors.append(f"alert {row.id} ({row.channel}) refused: {message}")
    report.failed += 1
    with ctx.session() as session:
        fresh = session.get(AlertOutbox, row.id)
        assert fresh is not None
        fresh.attempts = row.attempts + 1
        fresh.state = "refused"
        fresh.last_error = message[:2000]
        session.add(fresh)
        record(
            ctx,
            session,
            "alert.refused",
            actor=SYSTEM_ACTOR,
            case_ref=None,
            evidence_ids=[],
            payload={
                "outbox_id": row.id,
                "channel": row.channel,
                "kind": row.subject_kind,
                "subject_id": row.subject_id,
                "key": row.key,
                "reason": message,
            },
        )
        if ctx.settings.webhook_url:
            warning = compose.smtp_refusal_alert(
                int(row.id or 0), row.subject_kind, row.subject_id, message
            )
            insert_ignore(
                session,
                {
                    "subject_kind": "refusal",
                    "subject_id": str(row.id),
                    "key": "smtp-refused",
                    "channel": "webhook",
                    "lead_days": None,
                    "state": "pending",
                    "due_at": ctx.clock.now(),
                    "attempts": 0,
                    "payload": warning,
                    "created_at": ctx.clock.now(),
                },
            )
    ctx.ledger.flush_pending()


def _sent(ctx: AppContext, row: AlertOutbox) -> None:
    with ctx.session() as session:
        fresh = session.get(AlertOutbox, row.id)
        assert fresh is not None
        fresh.attempts = row.attempts + 1
        fresh.state = "sent"
        fresh.sent_at = ctx.clock.now()
        fresh.last_error = None
        session.add(fresh)
        payload = row.payload or {}
        record(
            ctx,
            session,
            "alert.sent",
            actor=SYSTEM_ACTOR,
            case_ref=payload.get("case"),
            evidence_ids=payload.get("evidence") or [],
            payload={
                "outbox_id": row.id,
                "channel": row.channel,
                "kind": row.subject_kind,
                "subject_id": row.subject_id,
                "key": row.key,
                "lead_days": row.lead_days,
                "subject": None if payload.get("confidential") else payload.get("subject"),
                "confidential": bool(payload.get("confidential")),
                "recipients": payload.get("recipients") if row.channel == "smtp" else None,
            },
        )
    ctx.ledger.flush_pending()


def check(ctx: AppContext, *, webhook_backoff: Sequence[float] | None = None) -> CheckReport:
    """One full run: recover stale claims, enqueue due alerts, expire orders, deliver."""
    report = CheckReport()
    recover_stale(ctx)
    enqueue_due(ctx, report)
    report.expired = expire_due(ctx)
    deliver_pending(ctx, report, webhook_backoff=webhook_backoff)
    return report


def outbox_rows(session: Session) -> list[dict[str, Any]]:
    rows = session.exec(select(AlertOutbox).order_by(col(AlertOutbox.id)))
    out = []
    for row in rows:
        data = row.model_dump(exclude={"payload"})
        for key in ("due_at", "created_at", "claimed_at", "sent_at", "next_attempt_at"):
            if data.get(key) is not None:
                data[key] = utc(data[key]).isoformat()
        data["subject"] = (row.payload or {}).get("subject")
        out.append(data)
    return out
