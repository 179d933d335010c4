"""The orders schema and the exactly-once outbox on a real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import open_context
from custodyd.daemon.models import AlertOutbox
from custodyd.daemon.orders import assert_disposable
from custodyd.daemon.orders.alerts import check
from custodyd.daemon.orders.lifecycle import (
    OrderRequest,
    create_order,
    decide_order,
    followup_order,
)
from custodyd.daemon.orders.retention import due_within
from tests.orders.conftest import Mailbox, make_evidence, preserved_on


def test_orders_and_outbox_on_postgres(
    settings: Settings,
    clock: ManualClock,
    fresh_postgres_url: str,
    smtp_server: tuple[str, Mailbox],
) -> None:
    smtp_url, mailbox = smtp_server
    cfg = settings.model_copy(
        update={"database_url": fresh_postgres_url, "smtp_url": smtp_url, "alert_to": ["a@x.org"]}
    )
    ctx = open_context(cfg, clock=clock)
    try:
        make_evidence(ctx, "EV-PG")
        made = create_order(
            ctx,
            OrderRequest(
                regime="intl-expedited-180",
                ref="PG-1",
                **preserved_on(clock.now().date() - timedelta(days=175)),
                evidence_ids=["EV-PG"],
            ),
            actor="user:o",
        )
        assert check(ctx).sent == 1
        second = open_context(cfg, clock=clock)  # a second checker on the same database
        try:
            assert check(second).sent == 0
        finally:
            second.close()
        with ctx.session() as s:
            rows = s.exec(select(AlertOutbox)).all()
            assert sorted((r.lead_days, r.state) for r in rows) == [(7, "sent"), (30, "superseded")]
            assert [r.evidence_id for r in due_within(s, clock, 10)] == ["EV-PG"]
        followup_order(ctx, made.id, actor="user:o")
        decide_order(ctx, made.id, "refused", actor="user:o")
        clock.advance(timedelta(days=6))
        report = check(ctx)
        assert report.expired == [made.id] and report.sent == 1
        with ctx.session() as s:
            assert_disposable(s, "EV-PG", clock=clock)
        assert len(mailbox.messages) == 2
    finally:
        ctx.close()
