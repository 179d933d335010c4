"""The background scheduler: APScheduler wakes periodic jobs (alerts, fixity...).

Jobs keep their state in the database; the scheduler only wakes them, so a
restart loses nothing. Each team registers its jobs in a ``register(scheduler,
ctx)`` function; the orders team's lives in ``custodyd.daemon.orders.jobs``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from custodyd.daemon.context import AppContext

log = logging.getLogger("custodyd.scheduler")

JOB_MODULES = ("custodyd.daemon.orders.jobs",)


def start_scheduler(ctx: AppContext) -> Any:
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True})
    for name in JOB_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                log.warning("scheduler: %s is not available; its jobs are not scheduled", name)
                continue
            raise
        module.register(scheduler, ctx)
        log.info("scheduler: registered jobs from %s", name)
    scheduler.start()
    return scheduler
