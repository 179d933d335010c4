"""Request-scoped access to the application context and the daemon runtime.

The context is fixed when the app is created (``app.state.ctx``). The runtime
(udev monitor, scheduler, acquisition workers; team appliance's
``custodyd.daemon.runtime``) exists only when the API runs inside ``custodyd
serve``; endpoints that need it answer 503 otherwise.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import Request

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import ServiceUnavailable


async def get_ctx(request: Request) -> AppContext:
    # async on purpose: FastAPI runs a plain ``def`` dependency in the thread pool, a
    # hop per request that cost more than the rest of an audited read together.
    ctx: AppContext = request.app.state.ctx
    return ctx


def current_runtime() -> Any | None:
    """The in-process daemon runtime, or None when the API runs without one."""
    try:
        module = importlib.import_module("custodyd.daemon.runtime")
    except ImportError:
        return None
    current = getattr(module, "current", None)
    return current() if callable(current) else None


def get_runtime(request: Request) -> Any | None:
    override = getattr(request.app.state, "runtime", None)
    return override if override is not None else current_runtime()


def require_runtime(request: Request) -> Any:
    runtime = get_runtime(request)
    if runtime is None:
        raise ServiceUnavailable(
            "the daemon runtime (udev monitor, acquisition workers) is not running in this process"
        )
    return runtime
