"""Retention: the "due soon" view, an item's retention status, and disposition
(return/destroy; 409 problem while any order or hold stands)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from custodyd.api.auth import current_principal, require_role
from custodyd.api.deps import get_ctx
from custodyd.api.orders_access import WRITERS
from custodyd.api.pagination import Page, PageParams, page, page_params
from custodyd.daemon.auth import Principal
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import NotFound
from custodyd.daemon.orders.access import retention_case
from custodyd.daemon.orders.disposition import dispose, get_disposition
from custodyd.daemon.orders.redaction import due_for, retention_for
from custodyd.daemon.orders.retention import due_within, retention_status
from custodyd.daemon.orders.states import DisposalMethod
from custodyd.daemon.orders.views import DispositionDone, DispositionRecord, Due, RetentionStatus

router = APIRouter(prefix="/v1/retention", tags=["orders"])


class DispositionIn(BaseModel):
    method: DisposalMethod
    reason: str = Field(min_length=1, max_length=10_000)
    returned_to: str | None = Field(None, max_length=500)


def _case_of(ctx: AppContext, principal: Principal, evidence_id: str) -> str:
    with ctx.session() as session:
        return retention_case(session, principal, evidence_id)


@router.get("/due", response_model=Page[Due], summary="Deadlines within N days")
def due(
    days: int = Query(30, ge=0, le=36500),
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Page[Due]:
    with ctx.session() as session:
        rows = due_for(session, principal, due_within(session, ctx.clock, days))
    items, nxt = params.slice(rows)
    return page(items, params, nxt)


@router.get("/{evidence_id}", response_model=RetentionStatus, summary="Retention of one item")
def show(
    evidence_id: str,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> RetentionStatus:
    _case_of(ctx, principal, evidence_id)
    with ctx.session() as session:
        status = retention_status(session, evidence_id, clock=ctx.clock)
        return retention_for(session, principal, status)


@router.post(
    "/{evidence_id}/disposition",
    status_code=status.HTTP_201_CREATED,
    response_model=DispositionDone,
    summary="Return or destroy (409 while an order or hold stands)",
)
def create_disposition(
    evidence_id: str,
    body: DispositionIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> DispositionDone:
    _case_of(ctx, principal, evidence_id)
    return dispose(
        ctx,
        evidence_id,
        method=body.method,
        reason=body.reason,
        actor=principal.actor,
        returned_to=body.returned_to,
    )


@router.get(
    "/{evidence_id}/disposition",
    response_model=DispositionRecord,
    summary="The destruction record",
)
def read_disposition(
    evidence_id: str,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> DispositionRecord:
    _case_of(ctx, principal, evidence_id)
    record = get_disposition(ctx, evidence_id)
    if record is None:
        raise NotFound(f"evidence {evidence_id} has not been disposed of")
    return record
