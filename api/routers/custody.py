"""Custody timelines (of an evidence item, of a case) and recording a custody transfer.

Reading a timeline is itself recorded in the ledger (``history.read``) before the
timeline is returned. Timelines are paged in SQL (``limit`` with ``after``, the last
index seen, or ``offset``); see :mod:`custodyd.daemon.auth.timeline`.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from custodyd.api.auth import current_principal, require_role
from custodyd.api.deps import app_ctx, get_ctx
from custodyd.api.pagination import MAX_OFFSET, PageParams, page_params
from custodyd.api.schemas import EntryOut, entry_out
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.audit import WAIT_SECONDS, custody_read, submit_read
from custodyd.daemon.auth.timeline import (
    PageRequest,
    timeline_json,
    visible_case_fast,
    visible_evidence_case_fast,
)
from custodyd.daemon.auth.visibility import visible_evidence_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.custody import record_transfer
from custodyd.daemon.errors import ServiceUnavailable
from custodyd.daemon.ledger import LedgerEntry

router = APIRouter(prefix="/v1", tags=["custody"])


class Timeline(BaseModel):
    subject: str
    case: str
    total: int | None = Field(description="Entries in the timeline (null beyond 100,000)")
    items: list[EntryOut]
    limit: int
    offset: int
    next_offset: int | None
    next_after: int | None = Field(
        description="Pass as `after` for the next page (keyset on the entry index)"
    )


class CustodyTransferIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", min_length=1, max_length=500, description="Handed over by")
    to: str = Field(min_length=1, max_length=500, description="Taken over by")
    reason: str = Field(min_length=1, max_length=2000)
    location: str = Field(min_length=1, max_length=500)
    time: datetime | None = Field(None, description="When it happened (default: now)")


async def _audited(future: Future[LedgerEntry]) -> None:
    """Wait (without holding a worker thread) until the read is durably in the ledger."""
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), timeout=WAIT_SECONDS)
    except TimeoutError as exc:
        raise ServiceUnavailable("the read could not be recorded in the ledger in time") from exc


def _page(params: PageParams, after: int | None) -> PageRequest:
    return PageRequest(limit=params.limit, offset=params.offset, after=after)


AFTER = Query(None, ge=0, le=MAX_OFFSET, description="Entries after this index (keyset paging)")
JSON = "application/json"


async def read_evidence_timeline(
    ctx: AppContext, principal: Principal, evidence_id: str, page: PageRequest
) -> bytes:
    """The JSON body of one page of an item's custody timeline, once its read is recorded
    (also used by the console, which renders it)."""
    ref = visible_evidence_case_fast(ctx, principal, evidence_id)
    audit = submit_read(ctx, custody_read(principal.actor, case=ref, evidence=evidence_id))
    body = timeline_json(
        ctx, principal, subject=evidence_id, case=ref, evidence_id=evidence_id, page=page
    )
    await _audited(audit)  # nothing is answered before its read is recorded
    return body


async def read_case_timeline(
    ctx: AppContext, principal: Principal, ref: str, page: PageRequest
) -> bytes:
    """The JSON body of one page of a case's custody timeline, once its read is recorded."""
    visible_case_fast(ctx, principal, ref)
    audit = submit_read(ctx, custody_read(principal.actor, case=ref))
    body = timeline_json(ctx, principal, subject=ref, case=ref, evidence_id=None, page=page)
    await _audited(audit)
    return body


@router.get(
    "/evidence/{evidence_id}/custody",
    response_model=Timeline,
    summary="Custody timeline of an evidence item, oldest first (the read is audited)",
)
async def evidence_custody(
    evidence_id: str,
    params: PageParams = Depends(page_params),
    after: int | None = AFTER,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(app_ctx),
) -> Response:
    body = await read_evidence_timeline(ctx, principal, evidence_id, _page(params, after))
    return Response(body, media_type=JSON)


@router.get(
    "/cases/{ref}/custody",
    response_model=Timeline,
    summary="Custody timeline of a case, oldest first (the read is audited)",
)
async def case_custody(
    ref: str,
    params: PageParams = Depends(page_params),
    after: int | None = AFTER,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(app_ctx),
) -> Response:
    body = await read_case_timeline(ctx, principal, ref, _page(params, after))
    return Response(body, media_type=JSON)


@router.post(
    "/evidence/{evidence_id}/custody/transfers",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryOut,
    summary="Record a custody transfer (examiner): a new ledger entry",
)
def transfer(
    evidence_id: str,
    body: CustodyTransferIn,
    response: Response,
    principal: Principal = Depends(require_role("examiner")),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    with ctx.session() as session:
        visible_evidence_case(session, principal, evidence_id)
    entry = record_transfer(
        ctx,
        evidence_id,
        actor=principal.actor,
        from_party=body.from_,
        to_party=body.to,
        reason=body.reason,
        location=body.location,
        when=body.time,
    )
    response.headers["Location"] = f"/v1/ledger/entries/{entry.index}"
    return entry_out(entry)
