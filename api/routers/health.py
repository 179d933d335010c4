"""Liveness, readiness and Prometheus metrics (no authentication; nothing case-related)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from custodyd.api.deps import Runtime, get_ctx, get_runtime
from custodyd.daemon.context import AppContext

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, Check]


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check_database(ctx: AppContext) -> Check:
    with ctx.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return Check(ok=True, detail="reachable")


def _check_ledger(ctx: AppContext) -> Check:
    size = ctx.ledger.size()
    return Check(ok=True, detail=f"{size} entries")


def _runtime_checks(runtime: Runtime | None) -> dict[str, Check]:
    """The runtime's own view of its parts (workers, udev monitor, scheduler)."""
    if runtime is None:
        detail = "no daemon runtime in this process (API only)"
        return {"runtime": Check(ok=True, detail=detail)}
    _ok, parts = runtime.ready()
    checks: dict[str, Check] = {}
    for name, value in dict(parts).items():
        if name == "database":  # checked above, by us
            continue
        text_value = str(value)
        checks[str(name)] = Check(ok=text_value in ("ok", "disabled"), detail=text_value)
    return checks


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database, ledger head, udev monitor, scheduler",
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
def readyz(request: Request, ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    checks: dict[str, Check] = {}
    for name, probe in (("database", _check_database), ("ledger", _check_ledger)):
        try:
            checks[name] = probe(ctx)
        except Exception as exc:  # a failing dependency is the answer, not an error
            checks[name] = Check(ok=False, detail=type(exc).__name__)
    try:
        checks.update(_runtime_checks(get_runtime(request)))
    except Exception as exc:
        checks["runtime"] = Check(ok=False, detail=type(exc).__name__)
    ready = all(check.ok for check in checks.values())
    body = Readiness(ready=ready, checks=checks).model_dump()
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}
    },
)
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
