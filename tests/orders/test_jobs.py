"""The scheduler jobs ``custodyd serve`` registers."""

from __future__ import annotations

import time
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import open_context
from custodyd.daemon.orders import jobs
from custodyd.daemon.orders.lifecycle import OrderRequest, create_order
from tests.orders.conftest import Mailbox, make_evidence, preserved_on


def test_register_runs_alert_check_at_start(
    settings: Settings, clock: ManualClock, smtp_server: tuple[str, Mailbox]
) -> None:
    smtp_url, mailbox = smtp_server
    cfg = settings.model_copy(
        update={"smtp_url": smtp_url, "alert_to": ["c@lab.example"], "alert_check_seconds": 3600}
    )
    ctx = open_context(cfg, clock=clock)
    make_evidence(ctx, "EV1")
    create_order(
        ctx,
        OrderRequest(
            regime="intl-expedited-60",
            ref="START-1",
            **preserved_on(clock.now().date() - timedelta(days=59)),
            evidence_ids=["EV1"],
        ),
        actor="user:o",
    )
    scheduler = BackgroundScheduler(timezone="UTC")
    jobs.register(scheduler, ctx)
    alert_job = scheduler.get_job(jobs.ALERT_JOB_ID)
    assert alert_job.trigger.interval == timedelta(seconds=60)  # capped at one minute
    assert scheduler.get_job(jobs.FIXITY_JOB_ID) is not None
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while not mailbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
        ctx.close()
    assert len(mailbox.messages) == 1 and "START-1" in mailbox.messages[0]["Subject"]
