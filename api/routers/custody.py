"""Custody timelines (of an evidence item, of a case) and recording a custody transfer.

Reading a timeline is itself recorded in the ledger (``history.read``) before the
timeline is returned.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from custodyd.api.auth import current_principal, require_role
from custodyd.api.deps import get_ctx
from custodyd.api.pagination import PageParams, page, page_params
from custodyd.api.schemas import EntryOut, entry_out
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.audit import WAIT_SECONDS, custody_read, submit_read
from custodyd.daemon.auth.casework import visible_case
from custodyd.daemon.auth.visibility import visible_evidence_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.custody import record_transfer
from custodyd.daemon.errors import ServiceUnavailable
from custodyd.daemon.ledger import Event
from custodyd.daemon.orders.redaction import timeline_for

router = APIRouter(prefix="/v1", tags=["custody"])


class Timeline(BaseModel):
    subject: str
    case: str
    total: int
    items: list[EntryOut]
    limit: int
    offset: int
    next_offset: int | None


class CustodyTransferIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", min_length=1, max_length=500, description="Handed over by")
    to: str = Field(min_length=1, max_length=500, description="Taken over by")
    reason: str = Field(min_length=1, max_length=2000)
    location: str = Field(min_length=1, max_length=500)
    time: datetime | None = Field(None, description="When it happened (default: now)")


async def _audited(ctx: AppContext, event: Event) -> None:
    """Wait (without holding a worker thread) until the read is durably in the ledger."""
    future = submit_read(ctx, event)
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), timeout=WAIT_SECONDS)
    except TimeoutError as exc:
        raise ServiceUnavailable("the read could not be recorded in the ledger in time") from exc


def _shown(ctx: AppContext, principal: Principal, items: list[Any]) -> list[dict[str, Any]]:
    """Entries as the caller may see them: confidential orders it may not know are
    shown only as "held under a confidential order"."""
    with ctx.session() as session:
        return timeline_for(session, principal, [entry_out(e) for e in items])


def _evidence_case(ctx: AppContext, principal: Principal, evidence_id: str) -> str:
    with ctx.session() as session:
        return visible_evidence_case(session, principal, evidence_id)


def _case(ctx: AppContext, principal: Principal, ref: str) -> None:
    with ctx.session() as session:
        visible_case(session, principal, ref)


@router.get(
    "/evidence/{evidence_id}/custody",
    response_model=Timeline,
    summary="Custody timeline of an evidence item, oldest first (the read is audited)",
)
async def evidence_custody(
    evidence_id: str,
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    ref = await run_in_threadpool(_evidence_case, ctx, principal, evidence_id)
    await _audited(ctx, custody_read(principal.actor, case=ref, evidence=evidence_id))
    entries = await run_in_threadpool(ctx.ledger.history, evidence_id)
    items, nxt = params.slice(entries)
    body = page(await run_in_threadpool(_shown, ctx, principal, items), params, nxt)
    return {"subject": evidence_id, "case": ref, "total": len(entries)} | body


@router.get(
    "/cases/{ref}/custody",
    response_model=Timeline,
    summary="Custody timeline of a case, oldest first (the read is audited)",
)
async def case_custody(
    ref: str,
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    await run_in_threadpool(_case, ctx, principal, ref)
    await _audited(ctx, custody_read(principal.actor, case=ref))
    entries = await run_in_threadpool(ctx.ledger.case_history, ref)
    items, nxt = params.slice(entries)
    body = page(await run_in_threadpool(_shown, ctx, principal, items), params, nxt)
    return {"subject": ref, "case": ref, "total": len(entries)} | body


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
