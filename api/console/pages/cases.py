"""Cases: the ones the caller may see, creating one, and a case's members (admin edits)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from custodyd.api.console.pages.common import ALL
from custodyd.api.console.permissions import ensure_allowed, has_operation
from custodyd.api.console.web import ConsoleRoute, check_form, console_principal, render
from custodyd.api.deps import get_ctx
from custodyd.api.routers import cases as cases_api
from custodyd.daemon.auth import ROLES, Principal
from custodyd.daemon.errors import InvalidInput

CASE_REPORT = "/v1/cases/{ref}/report.pdf"
router = APIRouter(route_class=ConsoleRoute)


def _model(model: Any, **fields: Any) -> Any:
    try:
        return model(**fields)
    except ValueError as exc:
        raise InvalidInput(f"the form is not valid: {exc}") from exc


@router.get("/cases")
def list_page(request: Request, principal: Principal = Depends(console_principal)) -> Response:
    found = cases_api.list_(params=ALL, principal=principal, ctx=get_ctx(request))
    return render(request, "cases.html", title="Cases", cases=found.items)


@router.post("/cases")
async def create(request: Request, principal: Principal = Depends(console_principal)) -> Response:
    form = await request.form()
    check_form(request, form)
    ensure_allowed(request.app, principal, "POST", "/v1/cases")
    body = _model(
        cases_api.CaseIn, ref=str(form.get("ref") or ""), title=str(form.get("title") or "")
    )
    case = cases_api.create(
        body=body, response=Response(), principal=principal, ctx=get_ctx(request)
    )
    return RedirectResponse(f"/cases/{quote(case.ref, safe='')}", status_code=303)


@router.get("/cases/{ref}")
def case_page(
    ref: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    ctx = get_ctx(request)
    case = cases_api.read(ref=ref, principal=principal, ctx=ctx)
    members = cases_api.members(ref=ref, principal=principal, ctx=ctx)
    return render(
        request,
        "case.html",
        title=f"Case {ref}",
        case=case,
        members=members,
        roles=ROLES,
        report=has_operation(request.app, "GET", CASE_REPORT),
    )


@router.post("/cases/{ref}/members")
async def put_member(
    ref: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    form = await request.form()
    check_form(request, form)
    ensure_allowed(request.app, principal, "PUT", "/v1/cases/{ref}/members")
    body = _model(
        cases_api.MemberIn,
        kind=str(form.get("kind") or ""),
        name=str(form.get("name") or ""),
        role=str(form.get("role") or ""),
    )
    cases_api.put_member(ref=ref, body=body, principal=principal, ctx=get_ctx(request))
    return RedirectResponse(f"/cases/{quote(ref, safe='')}", status_code=303)


@router.post("/cases/{ref}/members/{kind}/{name}/remove")
async def remove_member(
    ref: str,
    kind: str,
    name: str,
    request: Request,
    principal: Principal = Depends(console_principal),
) -> Response:
    check_form(request, await request.form())
    ensure_allowed(request.app, principal, "DELETE", "/v1/cases/{ref}/members/{kind}/{name}")
    if kind not in ("user", "token"):
        raise InvalidInput("a member is a user or a token")
    cases_api.delete_member(
        ref=ref,
        kind=kind,  # type: ignore[arg-type]
        name=name,
        principal=principal,
        ctx=get_ctx(request),
    )
    return RedirectResponse(f"/cases/{quote(ref, safe='')}", status_code=303)
