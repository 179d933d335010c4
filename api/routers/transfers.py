"""Transfers of personal data: record, list, read, report of use, extension, consent,
third-party release (409 without prior written consent) and closing."""

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
from custodyd.daemon.orders import transfers as svc
from custodyd.daemon.orders.states import Closing, Direction
from custodyd.daemon.orders.views import TransferView

router = APIRouter(prefix="/v1/transfers", tags=["transfers"])


class ItemIn(BaseModel):
    evidence_id: str = Field(min_length=1, max_length=64)
    part: str | None = Field(None, max_length=2000, description="Released part; null: whole")


class TransferIn(BaseModel):
    recipient: str = Field(min_length=1, max_length=500)
    purpose: str = Field(min_length=1, max_length=5000)
    consented_days: int = Field(ge=1, le=36500)
    items: list[ItemIn] = Field(min_length=1, max_length=1000)
    transferred_on: date | None = None
    deadline: date | None = None
    case: str | None = Field(None, max_length=200)
    ref: str | None = Field(None, max_length=200)
    direction: Direction = Direction.OUTGOING
    third_party_consent: bool = False
    consent_ref: str | None = Field(None, max_length=500)
    lead_days: list[int] | None = Field(None, max_length=20)
    alert_to: list[str] = Field(default_factory=list, max_length=50)


class ReportIn(BaseModel):
    report: str = Field(min_length=1, max_length=20_000)


class ExtendIn(BaseModel):
    days: int = Field(ge=1, le=36500)
    consent_ref: str = Field(min_length=1, max_length=500)


class ConsentIn(BaseModel):
    third_party: str = Field(min_length=1, max_length=500)
    consent_ref: str = Field(min_length=1, max_length=500)


class ReleaseIn(BaseModel):
    third_party: str = Field(min_length=1, max_length=500)
    part: str | None = Field(None, max_length=2000)


class CloseIn(BaseModel):
    outcome: Closing
    note: str | None = Field(None, max_length=5000)


def _visible(ctx: AppContext, principal: Principal, transfer_id: int) -> TransferView:
    return svc.read_transfer(ctx, transfer_id, actor=principal.actor, principal=principal)


@router.get("", response_model=Page[TransferView], summary="Transfers the caller may see")
def list_(
    case: str | None = Query(None, max_length=200),
    status_: str | None = Query(None, alias="status", max_length=20),
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Page[TransferView]:
    items, nxt = svc.read_transfers(
        ctx, principal, case_ref=case, status=status_, offset=params.offset, limit=params.limit
    )
    return page(items, params, nxt)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TransferView)
def create(
    body: TransferIn,
    response: Response,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> TransferView:
    request = svc.TransferRequest(
        recipient=body.recipient,
        purpose=body.purpose,
        consented_days=body.consented_days,
        items=[(i.evidence_id, i.part) for i in body.items],
        transferred_on=body.transferred_on,
        deadline=body.deadline,
        case_ref=body.case,
        ref=body.ref,
        direction=body.direction,
        third_party_consent=body.third_party_consent,
        consent_ref=body.consent_ref,
        lead_days=body.lead_days,
        alert_to=body.alert_to,
    )
    data = svc.create_transfer(ctx, request, actor=principal.actor)
    response.headers["Location"] = f"/v1/transfers/{data.id}"
    return data


@router.get("/{transfer_id}", response_model=TransferView)
def get(
    transfer_id: IdPath,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> TransferView:
    return _visible(ctx, principal, transfer_id)


@router.post("/{transfer_id}/report", response_model=TransferView, summary="Report of use")
def report(
    transfer_id: IdPath,
    body: ReportIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> TransferView:
    return svc.report_use(ctx, transfer_id, body.report, actor=principal.actor)


@router.post("/{transfer_id}/extend", response_model=TransferView, summary="Consented extension")
def extend(
    transfer_id: IdPath,
    body: ExtendIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> TransferView:
    return svc.extend(
        ctx, transfer_id, body.days, consent_ref=body.consent_ref, actor=principal.actor
    )


@router.post("/{transfer_id}/consent", response_model=TransferView, summary="Written consent")
def consent(
    transfer_id: IdPath,
    body: ConsentIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> TransferView:
    return svc.record_consent(
        ctx, transfer_id, body.third_party, body.consent_ref, actor=principal.actor
    )


@router.post(
    "/{transfer_id}/releases",
    response_model=TransferView,
    summary="Release to a third party (409 without prior written consent)",
)
def release(
    transfer_id: IdPath,
    body: ReleaseIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> TransferView:
    return svc.release_to_third_party(
        ctx, transfer_id, body.third_party, actor=principal.actor, part=body.part
    )


@router.post("/{transfer_id}/close", response_model=TransferView, summary="Returned/destroyed")
def close(
    transfer_id: IdPath,
    body: CloseIn,
    principal: Principal = Depends(require_role(*WRITERS)),
    ctx: AppContext = Depends(get_ctx),
) -> TransferView:
    return svc.close_transfer(ctx, transfer_id, body.outcome, actor=principal.actor, note=body.note)
