"""Alerts: real SMTP (aiosmtpd) and a real HTTP receiver; exactly once, across restarts."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.models import AlertOutbox
from custodyd.daemon.orders.alerts import check
from custodyd.daemon.orders.alerts.smtp import parse_smtp_url
from custodyd.daemon.orders.alerts.webhook import SIGNATURE_HEADER, verify_signature
from custodyd.daemon.orders.lifecycle import OrderRequest, create_order, followup_order
from tests.orders.conftest import Mailbox, Receiver, make_evidence, preserved_on

ACTOR = "user:officer"


def configured(settings: Settings, smtp_url: str, hook_url: str | None = None) -> Settings:
    return settings.model_copy(
        update={
            "smtp_url": smtp_url,
            "alert_to": ["compliance@lab.example"],
            "alert_from": "custodyd@lab.example",
            "webhook_url": hook_url,
            "webhook_secret": "s3cret" if hook_url else None,
        }
    )


def test_smtp_url_forms() -> None:
    t = parse_smtp_url("smtp+starttls://us%40er:p%3Ass@mail.example:2525")
    assert (t.scheme, t.host, t.port, t.username, t.password) == (
        "smtp+starttls",
        "mail.example",
        2525,
        "us@er",
        "p:ss",
    )
    assert parse_smtp_url("smtp://localhost").port == 25


def test_lead_times_each_sent_once_with_catch_up(
    settings: Settings,
    clock: ManualClock,
    smtp_server: tuple[str, Mailbox],
    webhook_server: tuple[str, Receiver],
) -> None:
    smtp_url, mailbox = smtp_server
    hook_url, receiver = webhook_server
    ctx = open_context(configured(settings, smtp_url, hook_url), clock=clock)
    make_evidence(ctx, "EV1")
    made = create_order(
        ctx,
        OrderRequest(
            regime="intl-expedited-60",
            ref="MLA-2026-17",
            **preserved_on(clock.now().date() - timedelta(days=55)),
            evidence_ids=["EV1"],
        ),
        actor=ACTOR,
    )
    report = check(ctx, webhook_backoff=(0.01,))
    # 5 days left: the 30-day alert is superseded, the 7-day alert goes out on both channels
    assert (report.sent, report.superseded, report.errors) == (2, 2, [])
    assert len(mailbox.messages) == 1
    msg = mailbox.messages[0]
    assert "MLA-2026-17" in msg["Subject"] and made.expires_on in msg["Subject"]
    assert (
        "EV1" in msg.get_payload(decode=True).decode()
        and "7-day alert" in msg.get_payload(decode=True).decode()
    )
    assert mailbox.envelopes[0][1] == ["compliance@lab.example"]
    headers, body = receiver.requests[0]
    assert verify_signature("s3cret", body, headers[SIGNATURE_HEADER])
    sent = json.loads(body)
    assert sent["order_ref"] == "MLA-2026-17" and sent["lead_days"] == 7
    assert sent["evidence"] == ["EV1"]
    assert check(ctx).sent == 0  # nothing twice
    clock.advance(timedelta(days=3))  # 2 days left: nothing new
    assert check(ctx).sent == 0
    clock.advance(timedelta(days=1))  # 1 day left
    receiver.fail_next = 1  # the webhook fails once and is retried with backoff
    report = check(ctx, webhook_backoff=(0.01,))
    assert report.sent == 2 and report.errors == []
    assert mailbox.subjects()[-1].endswith("(tomorrow)")
    assert len(receiver.requests) == 2
    alerts = [e for e in ctx.ledger.history("EV1") if e.action == "alert.sent"]
    assert [(e.payload["channel"], e.payload["lead_days"]) for e in alerts] == [
        ("smtp", 7),
        ("webhook", 7),
        ("smtp", 1),
        ("webhook", 1),
    ]
    ctx.close()


def test_restart_between_lead_times_loses_nothing_sends_nothing_twice(
    settings: Settings, clock: ManualClock, smtp_server: tuple[str, Mailbox]
) -> None:
    smtp_url, mailbox = smtp_server
    cfg = configured(settings, smtp_url)
    first = open_context(cfg, clock=clock)
    make_evidence(first, "EV1")
    create_order(
        first,
        OrderRequest(
            regime="intl-expedited-90",
            ref="R-90",
            **preserved_on(clock.now().date() - timedelta(days=60)),
            evidence_ids=["EV1"],
        ),
        actor=ACTOR,
    )
    assert check(first).sent == 1  # 30 days left: the 30-day alert
    first.close()
    # down for a while; a new process (new context and checker) over the same database
    clock.advance(timedelta(days=23))  # 7 days left
    second = open_context(cfg, clock=clock)
    assert check(second).sent == 1
    assert check(second).sent == 0
    second.close()
    clock.advance(timedelta(days=6))  # 1 day left
    third = open_context(cfg, clock=clock)
    assert check(third).sent == 1
    assert [s.split("(")[-1] for s in mailbox.subjects()] == [
        "in 30 days)",
        "in 7 days)",
        "tomorrow)",
    ]
    with third.session() as s:
        rows = s.exec(select(AlertOutbox).order_by(AlertOutbox.id)).all()
        assert [(r.lead_days, r.state) for r in rows] == [(30, "sent"), (7, "sent"), (1, "sent")]
    third.close()


def test_no_alerts_during_hold_and_unreachable_smtp_retried(
    ctx: AppContext, settings: Settings, clock: ManualClock, smtp_server: tuple[str, Mailbox]
) -> None:
    smtp_url, mailbox = smtp_server
    ctx.settings = configured(settings, "smtp://127.0.0.1:1")  # nothing listens on port 1
    make_evidence(ctx, "EV1")
    made = create_order(
        ctx,
        OrderRequest(
            regime="intl-expedited-60",
            ref="R",
            **preserved_on(clock.now().date() - timedelta(days=59)),
            evidence_ids=["EV1"],
        ),
        actor=ACTOR,
    )
    report = check(ctx)
    assert report.sent == 0 and report.retrying == 1 and report.errors
    ctx.settings = configured(settings, smtp_url)
    assert check(ctx).sent == 0  # back-off not over yet
    clock.advance(timedelta(minutes=3))
    assert check(ctx).sent == 1 and len(mailbox.messages) == 1
    followup_order(ctx, made.id, actor=ACTOR)
    clock.advance(timedelta(days=30))
    assert check(ctx).sent == 0 and len(mailbox.messages) == 1


def test_case_recipients_and_stale_claim_recovered(
    ctx: AppContext, settings: Settings, clock: ManualClock, smtp_server: tuple[str, Mailbox]
) -> None:
    from custodyd.daemon.models import AlertRecipient

    smtp_url, mailbox = smtp_server
    ctx.settings = configured(settings, smtp_url)
    make_evidence(ctx, "EV1", case_ref="C-9")
    with ctx.session() as s:
        s.add(AlertRecipient(scope="case", key="C-9", address="case-lead@lab.example"))
        s.add(AlertRecipient(scope="regime", key="domestic-180", address="dom@lab.example"))
    create_order(
        ctx,
        OrderRequest(
            regime="domestic-180",
            ref="D",
            **preserved_on(clock.now().date() - timedelta(days=179)),
            evidence_ids=["EV1"],
            alert_to=["own@lab.example"],
        ),
        actor=ACTOR,
    )
    # a checker crashed after claiming the row and before sending it
    from custodyd.daemon.orders.alerts.outbox import CheckReport, enqueue_due

    enqueue_due(ctx, CheckReport())
    with ctx.session() as s:
        row = s.exec(select(AlertOutbox).where(AlertOutbox.state == "pending")).one()
        row.state, row.claimed_at = "sending", clock.now()
        s.add(row)
    assert check(ctx).sent == 0  # a fresh claim may still be in flight elsewhere
    clock.advance(timedelta(minutes=16))
    assert check(ctx).sent == 1
    assert sorted(mailbox.envelopes[0][1]) == [
        "case-lead@lab.example",
        "compliance@lab.example",
        "dom@lab.example",
        "own@lab.example",
    ]


def test_a_channel_that_fails_is_not_hammered_in_the_same_run(
    ctx: AppContext, settings: Settings, clock: ManualClock, smtp_server: tuple[str, Mailbox]
) -> None:
    smtp_url, mailbox = smtp_server
    ctx.settings = configured(settings, "smtp://127.0.0.1:1")
    for n in range(3):
        make_evidence(ctx, f"EV{n}")
        create_order(
            ctx,
            OrderRequest(
                regime="intl-expedited-60",
                ref=f"R{n}",
                **preserved_on(clock.now().date() - timedelta(days=58)),
                evidence_ids=[f"EV{n}"],
            ),
            actor=ACTOR,
        )
    report = check(ctx)
    assert (report.enqueued, report.retrying, report.sent) == (3, 1, 0)
    with ctx.session() as s:
        pending = s.exec(select(AlertOutbox).where(AlertOutbox.state == "pending")).all()
    assert sorted(r.attempts for r in pending) == [0, 0, 1]
    ctx.settings = configured(settings, smtp_url)
    clock.advance(timedelta(minutes=3))
    assert check(ctx).sent == 3 and len(mailbox.messages) == 3
