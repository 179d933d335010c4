"""The live daemon: the parts ``custodyd serve`` assembled, handed to the API.

:class:`custodyd.daemon.serve.daemon.Daemon` builds one :class:`Runtime` and
passes it to ``create_app(ctx, runtime=...)``; the API sees it through the
:class:`custodyd.api.deps.Runtime` protocol. No global: a process may hold none.

Shape the API relies on::

    rt.ctx                                  # the AppContext
    rt.ready() -> (bool, dict)              # /readyz
    rt.status() -> dict                     # monitor, queue, scheduler figures
    rt.media.list() -> list[LiveMedium]     # live media; .to_dict() for JSON
    rt.media.get(ref) -> LiveMedium         # by key, id, kernel name or /dev node; NotFound
    rt.acquisitions.submit(medium_key_or_id, case_ref, actor="user:x") -> AcquisitionJob
    rt.acquisitions.list() / .get(job_id) / .cancel(job_id, actor=...)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from custodyd.daemon.context import AppContext

if TYPE_CHECKING:
    from custodyd.daemon.service.media import MediaRegistry
    from custodyd.daemon.service.queue import AcquisitionQueue


@dataclass
class MonitorStatus:
    source: str | None = None  # udev | kernel | None (disabled)
    running: bool = False
    events: int = 0
    last_event_at: datetime | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "running": self.running,
            "events": self.events,
            "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
            "error": self.error,
        }


@dataclass
class Runtime:
    ctx: AppContext
    media: MediaRegistry
    acquisitions: AcquisitionQueue
    monitor: MonitorStatus = field(default_factory=MonitorStatus)
    scheduler: Any | None = None  # apscheduler BackgroundScheduler
    started_at: datetime | None = None
    api_url: str | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Ready when the database answers, workers run, and the monitor runs (if enabled)."""
        checks: dict[str, Any] = {}
        try:
            from sqlalchemy import text

            with self.ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc}"
        checks["workers"] = "ok" if self.acquisitions.alive() else "not running"
        if self.monitor.source is None:
            checks["monitor"] = "disabled"
        else:
            checks["monitor"] = "ok" if self.monitor.running else (self.monitor.error or "down")
        sched_running = bool(self.scheduler is not None and getattr(self.scheduler, "running", 0))
        checks["scheduler"] = "ok" if sched_running else "not running"
        if self.stopping.is_set():
            checks["daemon"] = "stopping"
        ok = all(v in ("ok", "disabled") for v in checks.values())
        return ok, checks

    def status(self) -> dict[str, Any]:
        ok, checks = self.ready()
        return {
            "ready": ok,
            "checks": checks,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "api_url": self.api_url,
            "monitor": self.monitor.to_dict(),
            "media": len(self.media.list()),
            "acquisitions": self.acquisitions.counts(),
        }
