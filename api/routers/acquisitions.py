"""Acquisitions running or done in this daemon: list, read, live progress, cancel.

Progress is available by polling ``GET /v1/acquisitions/{id}`` (bytes, rate,
ETA) or as Server-Sent Events from ``/v1/acquisitions/{id}/events`` (one
``progress`` event per interval until the job ends, then ``end``). A job is
visible to members of its case.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from custodyd.api.auth import current_principal, require_role
from custodyd.api.deps import Runtime, require_runtime
from custodyd.api.pagination import Page, PageParams, page, page_params
from custodyd.daemon.auth import Principal
from custodyd.daemon.errors import NotFound

router = APIRouter(prefix="/v1/acquisitions", tags=["acquisitions"])

ACTIVE = ("queued", "running")
SSE_INTERVAL = 0.5


class JobOut(BaseModel):
    id: str
    medium_key: str
    source: str
    case: str
    actor: str
    state: str
    bytes_done: int
    bytes_total: int
    rate_bps: float
    eta_seconds: float | None
    read_errors: int = 0
    read_error_bytes: int = 0
    evidence_id: str | None
    error: str | None
    cancel_reason: str | None
    submitted_at: str | None
    started_at: str | None
    finished_at: str | None


def _visible_job(runtime: Runtime, principal: Principal, job_id: str) -> Any:
    try:
        job = runtime.acquisitions.get(job_id)
    except NotFound:
        job = None
    if job is None or not principal.can_read_case(job.case_ref):
        raise NotFound(f"no acquisition {job_id!r}", acquisition=job_id)
    return job


@router.get("", response_model=Page[JobOut], summary="Acquisitions of the caller's cases")
def list_(
    state: str | None = Query(
        None, max_length=20, description="queued|running|done|incomplete|failed"
    ),
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(current_principal),
    runtime: Runtime = Depends(require_runtime),
) -> Page[dict[str, Any]]:
    jobs = [
        j.to_dict()
        for j in runtime.acquisitions.list()
        if principal.can_read_case(j.case_ref) and (state is None or j.state == state)
    ]
    items, nxt = params.slice(jobs)
    return page(items, params, nxt)


@router.get("/{job_id}", response_model=JobOut, summary="One acquisition, with progress")
def read(
    job_id: str,
    principal: Principal = Depends(current_principal),
    runtime: Runtime = Depends(require_runtime),
) -> dict[str, Any]:
    out: dict[str, Any] = _visible_job(runtime, principal, job_id).to_dict()
    return out


@router.get(
    "/{job_id}/events",
    summary="Progress as Server-Sent Events until the acquisition ends",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def events(
    job_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    runtime: Runtime = Depends(require_runtime),
) -> StreamingResponse:
    job = _visible_job(runtime, principal, job_id)

    async def stream() -> AsyncIterator[bytes]:
        while True:
            data = json.dumps(job.to_dict())
            if job.state not in ACTIVE:
                yield f"event: end\ndata: {data}\n\n".encode()
                return
            yield f"event: progress\ndata: {data}\n\n".encode()
            if await request.is_disconnected():
                return
            await asyncio.sleep(SSE_INTERVAL)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.post("/{job_id}/cancel", response_model=JobOut, summary="Cancel (examiner)")
def cancel(
    job_id: str,
    principal: Principal = Depends(require_role("examiner")),
    runtime: Runtime = Depends(require_runtime),
) -> dict[str, Any]:
    _visible_job(runtime, principal, job_id)
    out: dict[str, Any] = runtime.acquisitions.cancel(job_id, actor=principal.actor).to_dict()
    return out
