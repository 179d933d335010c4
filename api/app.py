"""The FastAPI application: ``create_app(ctx)``.

Every module in :mod:`custodyd.api.routers` that defines ``router`` is included,
so endpoints are added by adding a file there, never by editing this one.
Errors are mapped once (:mod:`custodyd.api.problems`); bodies are capped
(:mod:`custodyd.api.limits`); OpenAPI is served at ``/openapi.json``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from custodyd.api import problems
from custodyd.api.deps import Runtime
from custodyd.api.hot_reads import HotReads
from custodyd.api.limits import BodySizeLimit
from custodyd.api.metrics import RequestMetrics
from custodyd.daemon import __version__
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context

DESCRIPTION = """Custody history, evidence, acquisitions, cases and ledger proofs.

Authenticate with `Authorization: Bearer <token>` (`custodyd tokens create`).
Errors are RFC 9457 problem documents (`application/problem+json`) with a stable
`type` per kind of error. Lists are paginated with `limit` (at most 1000) and `offset`.
Every read of custody history or evidence metadata is itself recorded in the ledger
(`history.read`, `evidence.accessed`).
"""


# custodyd's observability is /metrics (Prometheus) and the JSON log. FastAPI's native
# OpenTelemetry (FastAPI >= 0.16x) looks up its providers in os.environ on every request,
# ~8 % of an audited read's CPU in the api thread, to find none: off where it exists.
NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI).parameters
    else {}
)


def routers() -> list[APIRouter]:
    """Every ``router`` in the modules of :mod:`custodyd.api.routers`, by module name."""
    package = importlib.import_module("custodyd.api.routers")
    found: list[APIRouter] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"custodyd.api.routers.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found


def create_app(ctx: AppContext | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """The API over ``ctx`` (the runtime's, else built from the environment and owned).

    ``runtime`` is the live daemon (``custodyd serve`` passes it); without one the
    media and acquisition endpoints answer 503.
    """
    owned = False
    if ctx is None and runtime is not None:
        ctx = runtime.ctx
    if ctx is None:
        ctx, owned = open_context(Settings()), True

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            ctx.close()

    app = FastAPI(
        title="custodyd",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,  # '/v1/evidence/' is not the list: a path id may not be empty
        responses=problems.PROBLEM_RESPONSES,
        **NO_TELEMETRY,
    )
    app.state.ctx = ctx
    app.state.runtime = runtime
    app.state.metrics = RequestMetrics()
    app.state.metrics.watch(ctx)
    problems.install(app)
    for router in routers():
        app.include_router(router)
    app.add_middleware(HotReads, ctx=ctx)  # innermost: inside the body cap and the metrics
    app.add_middleware(BodySizeLimit, max_bytes=ctx.settings.api_max_body_bytes)
    app.add_middleware(RequestMetrics.Middleware, metrics=app.state.metrics)
    return app
