"""Request-scoped access to the application context and the daemon runtime.

Both are fixed when the app is created: ``create_app(ctx, runtime=...)`` stores
them on ``app.state``. The runtime (udev monitor, acquisition workers,
scheduler) exists only when the API runs inside ``custodyd serve``, whose
composition root (:mod:`custodyd.daemon.serve`) builds it and hands it over;
endpoints that need it answer 503 otherwise.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import ServiceUnavailable
from custodyd.daemon.service.media import MediaRegistry
from custodyd.daemon.service.queue import AcquisitionQueue


class Runtime(Protocol):
    """What the API uses of the daemon it runs in (built in :mod:`custodyd.daemon.serve`)."""

    @property
    def ctx(self) -> AppContext: ...

    @property
    def media(self) -> MediaRegistry: ...

    @property
    def acquisitions(self) -> AcquisitionQueue: ...

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """(ready, the state of each part) for ``/readyz``."""
        ...

    def status(self) -> dict[str, Any]: ...


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def app_ctx(request: Request) -> AppContext:
    """:func:`get_ctx` for the hot paths (authentication, audited timelines): async on
    purpose, as FastAPI runs a plain ``def`` dependency in the thread pool, a hop per
    request that cost more than the rest of an audited read together."""
    ctx: AppContext = request.app.state.ctx
    return ctx


def get_runtime(request: Request) -> Runtime | None:
    runtime: Runtime | None = request.app.state.runtime
    return runtime


def require_runtime(request: Request) -> Runtime:
    runtime = get_runtime(request)
    if runtime is None:
        raise ServiceUnavailable(
            "the daemon runtime (udev monitor, acquisition workers) is not running in this process"
        )
    return runtime
