"""Cases: create, list, read, close; members and their roles."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, Field

from custodyd.api.auth import current_principal, require_role
from custodyd.api.deps import get_ctx
from custodyd.api.pagination import Page, PageParams, page, page_params
from custodyd.daemon import auth
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.admin import remove_member, set_member
from custodyd.daemon.auth.casework import close_case, create_case, visible_case, visible_cases
from custodyd.daemon.auth.roles import Role
from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import Case

router = APIRouter(prefix="/v1/cases", tags=["cases"])


class CaseIn(BaseModel):
    ref: str = Field(min_length=1, max_length=200, description="Case reference (the CLI's --case)")
    title: str = Field("", max_length=1000)


class CaseOut(BaseModel):
    ref: str
    title: str
    status: str
    created_at: datetime
    closed_at: datetime | None


class MemberIn(BaseModel):
    kind: Literal["user", "token"]
    name: str = Field(min_length=1, max_length=100)
    role: Role


class MemberOut(BaseModel):
    case: str
    kind: str
    name: str
    role: str


def case_out(case: Case) -> CaseOut:
    return CaseOut(
        ref=case.ref,
        title=case.title,
        status=case.status,
        created_at=utc(case.created_at),
        closed_at=utc(case.closed_at) if case.closed_at else None,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseOut,
    summary="Create a case (admin, examiner); the creator becomes a member",
)
def create(
    body: CaseIn,
    response: Response,
    principal: Principal = Depends(require_role("examiner")),
    ctx: AppContext = Depends(get_ctx),
) -> CaseOut:
    case = create_case(ctx, principal, body.ref, body.title)
    response.headers["Location"] = f"/v1/cases/{quote(case.ref, safe='')}"
    return case_out(case)


@router.get("", response_model=Page[CaseOut], summary="Cases the caller is a member of")
def list_(
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Page[CaseOut]:
    offset, limit = params.window()
    with ctx.session() as session:
        rows = visible_cases(session, principal, offset=offset, limit=limit)
        items, nxt = params.trim(rows)
        return page([case_out(c) for c in items], params, nxt)


@router.get("/{ref}", response_model=CaseOut, summary="One case (404 unless a member)")
def read(
    ref: str,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> CaseOut:
    with ctx.session() as session:
        return case_out(visible_case(session, principal, ref))


@router.post("/{ref}/close", response_model=CaseOut, summary="Close a case (admin, examiner)")
def close(
    ref: str,
    principal: Principal = Depends(require_role("examiner")),
    ctx: AppContext = Depends(get_ctx),
) -> CaseOut:
    return case_out(close_case(ctx, principal, ref))


@router.get("/{ref}/members", response_model=list[MemberOut], summary="Members of a case")
def members(
    ref: str,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> list[dict[str, Any]]:
    with ctx.session() as session:
        visible_case(session, principal, ref)
        return [m.__dict__ for m in auth.list_members(session, ref)]


@router.put("/{ref}/members", response_model=MemberOut, summary="Add or change a member (admin)")
def put_member(
    ref: str,
    body: MemberIn,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return set_member(ctx, principal.actor, ref, body.kind, body.name, body.role)


@router.delete(
    "/{ref}/members/{kind}/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member (admin)",
)
def delete_member(
    ref: str,
    kind: Literal["user", "token"],
    name: str,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    remove_member(ctx, principal.actor, ref, kind, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
