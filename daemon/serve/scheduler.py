"""The background scheduler: APScheduler wakes periodic jobs (alerts, fixity...).

Jobs keep their state in the database; the scheduler only wakes them, so a
restart loses nothing. Each domain registers its jobs in a ``register(scheduler,
ctx)`` function, listed in :data:`REGISTRARS` (a direct import: a missing module
is an installation error, not something to skip quietly).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from custodyd.daemon.context import AppContext
from custodyd.daemon.orders import jobs as orders_jobs

log = logging.getLogger("custodyd.scheduler")

REGISTRARS: tuple[Callable[[Any, AppContext], None], ...] = (orders_jobs.register,)


def start_scheduler(ctx: AppContext) -> Any:
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True})
    for register in REGISTRARS:
        register(scheduler, ctx)
        log.info("scheduler: registered jobs from %s", register.__module__)
    scheduler.start()
    return scheduler
