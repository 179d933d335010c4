"""Preservation orders: enter, list, read, renew, follow-up (hold), decide, execute,
refuse, notify, release.

Writes need the ``compliance`` role (or admin); reads follow
:mod:`custodyd.api.orders_access` (members read the orders of their cases; a
confidential order only those named on it, compliance and admins) and are
recorded in the ledger (``order.accessed``).
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from custodyd.api.auth import current_principal, require_role
from custodyd.api.deps import get_ctx
from custodyd.api.orders_access import WRITERS, IdPath
from custodyd.api.pagination import Page, PageParams, page, page_params
from custodyd.daemon.auth import Principal
from custodyd.daemon.context import AppContext
from custodyd.daemon.orders import lifecycle
from custodyd.daemon.orders.answers import notify_requester, refuse_order
from custodyd.daemon.orders.states import NoticeKind, Outcome
from custodyd.daemon.orders.views import OrderView

router = APIRouter(prefix="/v1/orders", tags=["orders"])

Text = Field(None, max_length=10_000)


class OrderIn(BaseModel):
    regime: str = Field(min_length=1, max_length=64)
    ref: str = Field(min_length=1, max_length=200)
    issued_on: date
    received_on: date | None = Field(None, description="Default: the day of entry")
    effected_on: date | None = Field(None, description="Default: the day of entry")
    evidence: list[str] = Field(default_factory=list, max_length=1000)
    case: str | None = Field(None, max_length=200, description="Alone: a whole-case order")
    authority: str | None = Text
    offence: str | None = Text
    summary: str | None = Text
    data_concerned: str | None = Text
    relation: str | None = Text
    custodian: str | None = Text
    necessity: str | None = Text
    followup_announced: bool = False
    confidential: bool = False
    need_to_know: list[str] = Field(default_factory=list, max_length=100)
    days: int | None = Field(None, ge=1, le=36500)
    lead_days: list[int] | None = Field(None, max_length=20)
    alert_to: list[str] = Field(default_factory=list, max_length=50)


class RenewIn(BaseModel):
    days: int | None = Field(None, ge=1, le=36500)
    ref: str | None = Field(None, max_length=200)


class FollowupIn(BaseModel):
    ref: str | None = Field(None, max_length=200)


class DecisionIn(BaseModel):
    outcome: Outcome
    ref: str | None = Field(None, max_length=200)


class ExecutedIn(BaseModel):
    basis: str = Field(min_length=1, max_length=10_000)
    transfer: int | None = Field(None, ge=1, le=2**63 - 1)


class RefuseIn(BaseModel):
    grounds: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=10_000)


class NoticeIn(BaseModel):
    kind: NoticeKind
    text: str = Field(min_length=1, max_length=10_000)


class ReleaseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=10_000)


def _visible_order(ctx: AppContext, principal: Principal, order_id: int) -> OrderView:
    return lifecycle.read_order(ctx, order_id, actor=principal.actor, principal=principal)


@router.get("", response_model=Page[OrderView], summary="Orders the caller may see")
def list_(
    case: str | None = Query(None, max_length=200),
    evidence: str | None = Query(None, max_length=64),
    status_: str | None = Query(None, alias="status", max_length=20),
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Page[OrderView]:
    items, nxt = lifecycle.read_orders(
        ctx,
        principal,
        case_ref=case,
        evidence_id=evidence,
        status=status_,
        offset=params.offset,
        limit=params.limit,
    )
    return page(items, params, nxt)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=OrderView, summary="Enter an order"
)
def create(
    body: OrderIn,
    response: Response,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> OrderView:
    request = lifecycle.OrderRequest(
        regime=body.regime,
        ref=body.ref,
        issued_on=body.issued_on,
        evidence_ids=body.evidence,
        case_ref=body.case,
        authority=body.authority,
        offence=body.offence,
        summary=body.summary,
        data_concerned=body.data_concerned,
        relation=body.relation,
        custodian=body.custodian,
        necessity=body.necessity,
        followup_announced=body.followup_announced,
        confidential=body.confidential,
        need_to_know=body.need_to_know,
        received_on=body.received_on,
        effected_on=body.effected_on,
        days=body.days,
        lead_days=body.lead_days,
        alert_to=body.alert_to,
    )
    data = lifecycle.create_order(ctx, request, actor=principal.actor)
    response.headers["Location"] = f"/v1/orders/{data.id}"
    return data


@router.get("/{order_id}", response_model=OrderView, summary="One order")
def get(
    order_id: IdPath,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> OrderView:
    return _visible_order(ctx, principal, order_id)


@router.post("/{order_id}/renew", response_model=OrderView, summary="Renew (new expiry)")
def renew(
    order_id: IdPath,
    body: RenewIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> OrderView:
    return lifecycle.renew_order(ctx, order_id, actor=principal.actor, days=body.days, ref=body.ref)


@router.post("/{order_id}/followup", response_model=OrderView, summary="Follow-up request: hold")
def followup(
    order_id: IdPath,
    body: FollowupIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> OrderView:
    return lifecycle.followup_order(ctx, order_id, actor=principal.actor, ref=body.ref)


@router.post("/{order_id}/decision", response_model=OrderView, summary="Record the decision")
def decide(
    order_id: IdPath,
    body: DecisionIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> OrderView:
    return lifecycle.decide_order(ctx, order_id, body.outcome, actor=principal.actor, ref=body.ref)


@router.post("/{order_id}/release", response_model=OrderView, summary="End the order early")
def release(
    order_id: IdPath,
    body: ReleaseIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> OrderView:
    return lifecycle.release_order(ctx, order_id, actor=principal.actor, reason=body.reason)


@router.post("/{order_id}/executed", response_model=OrderView, summary="Granted request executed")
def executed(
    order_id: IdPath,
    body: ExecutedIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> OrderView:
    return lifecycle.executed_order(
        ctx, order_id, actor=principal.actor, basis=body.basis, transfer_id=body.transfer
    )


@router.post("/{order_id}/refusal", response_model=OrderView, summary="Refuse the request")
def refuse(
    order_id: IdPath,
    body: RefuseIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> OrderView:
    return refuse_order(
        ctx, order_id, grounds=body.grounds, reason=body.reason, actor=principal.actor
    )


@router.post("/{order_id}/notices", response_model=OrderView, summary="Notice to the requester")
def notify(
    order_id: IdPath,
    body: NoticeIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> OrderView:
    return notify_requester(ctx, order_id, kind=body.kind, text=body.text, actor=principal.actor)
