"""Scheduler jobs of the orders domain (``custodyd serve`` calls :func:`register`).

APScheduler only wakes the workers; every decision and every piece of state is in
the database (the alert outbox, fixity state), so a restart loses nothing. The
alert check runs at once when the scheduler starts (catching up after downtime),
then every ``settings.alert_check_seconds`` (at most 60). The fixity job wakes
every ``FIXITY_WAKE_SECONDS`` and verifies whatever is due, one item at a time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from custodyd.daemon.context import AppContext
from custodyd.daemon.orders.alerts.outbox import CheckReport, check
from custodyd.daemon.orders.fixity import FixityReport, run_fixity

log = logging.getLogger(__name__)

ALERT_JOB_ID = "orders.alert_check"
FIXITY_JOB_ID = "orders.fixity"
FIXITY_WAKE_SECONDS = 600
FIXITY_FIRST_DELAY = timedelta(minutes=2)


def alert_check_job(ctx: AppContext) -> CheckReport | None:
    try:
        report = check(ctx)
    except Exception:  # the next wake-up retries; state is in the database
        log.exception("alert check failed")
        return None
    if report.sent or report.errors or report.expired:
        log.info("alert check: %s", report.as_dict())
    return report


def fixity_job(ctx: AppContext) -> FixityReport | None:
    try:
        report = run_fixity(ctx, budget_seconds=FIXITY_WAKE_SECONDS * 0.8)
    except Exception:
        log.exception("fixity run failed")
        return None
    if report.checked or report.deferred:
        log.info("fixity: %s", report.as_dict())
    return report


def alert_interval_seconds(ctx: AppContext) -> int:
    return max(1, min(int(ctx.settings.alert_check_seconds), 60))


def register(scheduler: Any, ctx: AppContext) -> None:
    """Add the alert-check and fixity jobs to an APScheduler 3 scheduler."""
    now = datetime.now(UTC)
    scheduler.add_job(
        alert_check_job,
        "interval",
        seconds=alert_interval_seconds(ctx),
        args=[ctx],
        id=ALERT_JOB_ID,
        name="preservation-order and transfer alerts",
        next_run_time=now,
        max_instances=1,
        coalesce=True,
        replace_existing=True,
    )
    scheduler.add_job(
        fixity_job,
        "interval",
        seconds=FIXITY_WAKE_SECONDS,
        args=[ctx],
        id=FIXITY_JOB_ID,
        name="scheduled fixity re-verification",
        next_run_time=now + FIXITY_FIRST_DELAY,
        max_instances=1,
        coalesce=True,
        replace_existing=True,
    )
