"""Media attached now (live, from the daemon runtime) and starting an acquisition (examiner).

Media are workstation hardware, not case material: examiners and admins see them.
A medium is acquired only when the daemon holds it write-protected; the runtime
refuses otherwise (422 ``write-block``) and refuses a second acquisition of a
medium already queued or running (409).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from custodyd.api.auth import require_role
from custodyd.api.deps import Runtime, get_ctx, require_runtime
from custodyd.api.pagination import Page, PageParams, page, page_params
from custodyd.api.routers.acquisitions import JobOut
from custodyd.daemon.acquisition import default_output
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.casework import visible_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, InvalidInput
from custodyd.daemon.imaging.output import ImageFormat

router = APIRouter(prefix="/v1/media", tags=["media"])

HASHES = ("sha256", "sha1", "md5")
POLL_SECONDS = 0.25  # how often the stream looks at the registry's revision
KEEPALIVE_SECONDS = 15.0
MEDIA_EVENT_SCHEMA = {  # one Server-Sent Event as parsed (event name, data line)
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["media"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": '{"revision": int, "items": [medium, ...]}',
        },
    },
    "required": ["event", "data"],
}


class MediumOut(BaseModel):
    """A live medium: identity, write-block verdict, state (more fields may follow)."""

    model_config = {"extra": "allow"}

    id: int
    key: str
    path: str
    serial: str | None
    model: str | None
    size: int
    read_only: bool
    write_block: str
    write_block_reason: str
    state: str


class AcquireIn(BaseModel):
    case: str = Field(min_length=1, max_length=200, description="Case ref to acquire into")
    hashes: list[str] = Field(
        default_factory=list, max_length=3, description=f"Extra digests besides BLAKE3: {HASHES}"
    )
    notes: str | None = Field(None, max_length=5000)
    format: Literal["raw", "e01"] | None = Field(
        None, description="Image format (default: the appliance's image_format, raw)"
    )
    compression: Literal["none", "fast", "best"] | None = Field(
        None, description="E01 chunk compression (default fast)"
    )
    segment_size: int | None = Field(
        None, ge=1024 * 1024, description="E01 segment size in bytes (default 1500 MiB)"
    )


@router.get("", response_model=Page[MediumOut], summary="Media attached now (examiner)")
def list_(
    params: PageParams = Depends(page_params),
    _principal: Principal = Depends(require_role("examiner")),
    runtime: Runtime = Depends(require_runtime),
) -> Page[dict[str, Any]]:
    items, nxt = params.slice([m.to_dict() for m in runtime.media.list()])
    return page(items, params, nxt)


@router.get(
    "/events",
    summary="The attached media as Server-Sent Events: the whole list at once, then on each change",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": MEDIA_EVENT_SCHEMA}}}},
)
async def events(
    request: Request,
    _principal: Principal = Depends(require_role("examiner")),
    runtime: Any = Depends(require_runtime),
) -> StreamingResponse:
    """One ``media`` event (``{"revision", "items"}``) now and after every attach,
    detach or state change (seen within ``POLL_SECONDS``); a comment line keeps
    an idle connection open. Ends when the client goes or the daemon stops."""
    registry = runtime.media

    async def stream() -> AsyncIterator[bytes]:
        seen: int | None = None
        idle = 0.0
        while not runtime.stopping.is_set():
            revision = registry.revision
            if revision != seen:
                seen = revision
                idle = 0.0
                items = [m.to_dict() for m in registry.list()]
                data = json.dumps({"revision": revision, "items": items})
                yield f"event: media\ndata: {data}\n\n".encode()
            elif idle >= KEEPALIVE_SECONDS:
                idle = 0.0
                yield b": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)
            idle += POLL_SECONDS

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.get("/{medium:path}", response_model=MediumOut, summary="One attached medium (examiner)")
def read(
    medium: str,
    _principal: Principal = Depends(require_role("examiner")),
    runtime: Runtime = Depends(require_runtime),
) -> dict[str, Any]:
    found: dict[str, Any] = runtime.media.get(medium).to_dict()
    return found


@router.post(
    "/{medium:path}/acquire",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    summary="Start acquiring a held, write-protected medium into a case (examiner)",
)
def acquire(
    medium: str,
    body: AcquireIn,
    response: Response,
    principal: Principal = Depends(require_role("examiner")),
    runtime: Runtime = Depends(require_runtime),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    hashes = [h.strip().lower() for h in body.hashes]
    unknown = sorted(set(hashes) - set(HASHES))
    if unknown:
        raise InvalidInput(f"unknown hash algorithm(s) {unknown}; choose from {list(HASHES)}")
    with ctx.session() as session:
        case = visible_case(session, principal, body.case)
        if case.status == "closed":
            raise Conflict(f"case {case.ref!r} is closed; nothing new can be added to it")
    live = runtime.media.get(medium)
    job = runtime.acquisitions.submit(
        live.key,
        body.case,
        actor=principal.actor,
        hashes=hashes,
        examiner=principal.actor,
        notes=body.notes,
        output=ImageFormat.of(
            body.format, body.compression, body.segment_size, defaults=default_output(ctx.settings)
        ),
    )
    response.headers["Location"] = f"/v1/acquisitions/{job.id}"
    out: dict[str, Any] = job.to_dict()
    return out
