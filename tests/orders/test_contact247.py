"""The 24/7 point of contact (art. 67): a request or a follow-up request alerts it at once,
once, by mail and webhook, through the alert outbox (real aiosmtpd, real HTTP receiver)."""

from __future__ import annotations

import json
from datetime import timedelta

from custodyd.daemon.context import AppContext
from custodyd.daemon.orders.alerts.outbox import check
from custodyd.daemon.orders.lifecycle import OrderRequest, create_order, followup_order
from tests.orders.conftest import REQUEST, Mailbox, Receiver, make_evidence


def test_contact_247_alerted_once_on_entry_and_on_followup(
    ctx: AppContext, smtp_server: tuple[str, Mailbox], webhook_server: tuple[str, Receiver]
) -> None:
    smtp_url, mailbox = smtp_server
    hook_url, receiver = webhook_server
    ctx.settings = ctx.settings.model_copy(
        update={"smtp_url": smtp_url, "contact_247": ["duty247@lab.example", hook_url]}
    )
    make_evidence(ctx, "EV1")
    order = create_order(
        ctx,
        OrderRequest(
            regime="intl-expedited-60",
            ref="MLA-247",
            issued_on=ctx.clock.now().date(),
            evidence_ids=["EV1"],
            **REQUEST,
        ),
        actor="user:olga",
    )
    # delivered at once, within the step, before any scheduled check runs
    assert mailbox.envelopes == [(ctx.settings.alert_from, ["duty247@lab.example"])]
    mail = mailbox.messages[0]
    assert "24/7" in mail["Subject"] and "MLA-247" in mail["Subject"]
    body = mail.get_payload(decode=True).decode()
    assert "EV1" in body and "Expiry rule:" in body and "Effected on:" in body
    hook = json.loads(receiver.requests[0][1])
    assert hook["event"] == "order.contact_247" and hook["what"] == "entered"
    assert hook["order_ref"] == "MLA-247" and hook["evidence"] == ["EV1"]
    assert check(ctx, webhook_backoff=()).sent == 0  # once
    followup_order(ctx, order.id, actor="user:olga", ref="MLA-247-F")
    assert len(mailbox.messages) == 2 and len(receiver.requests) == 2
    assert "follow-up" in mailbox.messages[1]["Subject"]
    assert json.loads(receiver.requests[1][1])["what"].startswith("followup/")
    assert check(ctx, webhook_backoff=()).sent == 0
    sent = [e for e in ctx.ledger.history("EV1") if e.action == "alert.sent"]
    assert len(sent) == 4


def test_contact_247_without_configuration_enqueues_nothing(ctx: AppContext) -> None:
    make_evidence(ctx, "EV1")
    create_order(
        ctx,
        OrderRequest(
            regime="domestic-180", ref="D", issued_on=ctx.clock.now().date(), evidence_ids=["EV1"]
        ),
        actor="user:olga",
    )
    assert check(ctx).as_dict()["enqueued"] == 0


def test_contact_247_unreachable_at_entry_is_delivered_by_the_checker(
    ctx: AppContext, smtp_server: tuple[str, Mailbox], webhook_server: tuple[str, Receiver]
) -> None:
    smtp_url, mailbox = smtp_server
    hook_url, receiver = webhook_server
    receiver.fail_next = 1  # the pager is down when the request arrives
    ctx.settings = ctx.settings.model_copy(
        update={"smtp_url": smtp_url, "contact_247": ["duty247@lab.example", hook_url]}
    )
    make_evidence(ctx, "EV1")
    create_order(
        ctx,
        OrderRequest(
            regime="intl-expedited-60",
            ref="MLA-DOWN",
            issued_on=ctx.clock.now().date(),
            evidence_ids=["EV1"],
            **REQUEST,
        ),
        actor="user:olga",
    )  # entering the order does not fail because the pager is down
    assert len(mailbox.messages) == 1 and receiver.requests == []
    ctx.clock.advance(timedelta(minutes=5))  # past the first retry back-off
    assert check(ctx, webhook_backoff=()).sent == 1
    assert json.loads(receiver.requests[0][1])["order_ref"] == "MLA-DOWN"
