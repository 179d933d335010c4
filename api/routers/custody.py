"""Custody timelines (of an evidence item, of a case) and recording a custody transfer.

Reading a timeline is itself recorded in the ledger (``history.read``) before the
timeline is returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field

from custodyd.api.auth import current_principal, require_role
from custodyd.api.deps import get_ctx
from custodyd.api.pagination import PageParams, page, page_params
from custodyd.api.schemas import EntryOut, entry_out
from custodyd.daemon.auth import HISTORY_READ, Principal, record_read
from custodyd.daemon.auth.casework import visible_case
from custodyd.daemon.auth.visibility import visible_evidence_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.custody import record_transfer

router = APIRouter(prefix="/v1", tags=["custody"])


class Timeline(BaseModel):
    subject: str
    case: str
    total: int
    items: list[EntryOut]
    limit: int
    offset: int
    next_offset: int | None


class TransferIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", min_length=1, max_length=500, description="Handed over by")
    to: str = Field(min_length=1, max_length=500, description="Taken over by")
    reason: str = Field(min_length=1, max_length=2000)
    location: str = Field(min_length=1, max_length=500)
    time: datetime | None = Field(None, description="When it happened (default: now)")


@router.get(
    "/evidence/{evidence_id}/custody",
    response_model=Timeline,
    summary="Custody timeline of an evidence item, oldest first (the read is audited)",
)
def evidence_custody(
    evidence_id: str,
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    with ctx.session() as session:
        ref = visible_evidence_case(session, principal, evidence_id)
    record_read(
        ctx, HISTORY_READ, actor=principal.actor, what="custody", case=ref, evidence=evidence_id
    )
    entries = ctx.ledger.history(evidence_id)
    items, nxt = params.slice(entries)
    body = page([entry_out(e) for e in items], params, nxt)
    return {"subject": evidence_id, "case": ref, "total": len(entries)} | body


@router.get(
    "/cases/{ref}/custody",
    response_model=Timeline,
    summary="Custody timeline of a case, oldest first (the read is audited)",
)
def case_custody(
    ref: str,
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    with ctx.session() as session:
        visible_case(session, principal, ref)
    record_read(ctx, HISTORY_READ, actor=principal.actor, what="case custody", case=ref)
    entries = ctx.ledger.case_history(ref)
    items, nxt = params.slice(entries)
    body = page([entry_out(e) for e in items], params, nxt)
    return {"subject": ref, "case": ref, "total": len(entries)} | body


@router.post(
    "/evidence/{evidence_id}/custody/transfers",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryOut,
    summary="Record a custody transfer (examiner): a new ledger entry",
)
def transfer(
    evidence_id: str,
    body: TransferIn,
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
