"""Admin: users (add, disable), tokens (a new token's secret is shown once, on the answer
to the post), and revocation (which ends that token's console sessions at once)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from custodyd.api.console.pages.common import ALL, case_refs
from custodyd.api.console.permissions import ensure_allowed
from custodyd.api.console.web import ConsoleRoute, check_form, console_principal, render
from custodyd.api.deps import get_ctx
from custodyd.api.routers import admin as admin_api
from custodyd.daemon.auth import ROLES, Principal
from custodyd.daemon.errors import InvalidInput

router = APIRouter(route_class=ConsoleRoute)


def _page(
    request: Request, principal: Principal, new_token: admin_api.NewTokenOut | None
) -> Response:
    ensure_allowed(request.app, principal, "GET", "/v1/users")
    ctx = get_ctx(request)
    users = admin_api.users(params=ALL, _principal=principal, ctx=ctx).items
    tokens = admin_api.tokens(params=ALL, _principal=principal, ctx=ctx).items
    return render(
        request,
        "admin.html",
        title="Admin",
        users=users,
        tokens=tokens,
        roles=ROLES,
        cases=case_refs(request, principal),
        new_token=new_token,
    )


@router.get("/admin")
def admin_page(request: Request, principal: Principal = Depends(console_principal)) -> Response:
    return _page(request, principal, None)


@router.post("/admin/users")
async def add_user(request: Request, principal: Principal = Depends(console_principal)) -> Response:
    form = await request.form()
    check_form(request, form)
    ensure_allowed(request.app, principal, "POST", "/v1/users")
    try:
        body = admin_api.UserIn(name=str(form.get("name") or ""), role=str(form.get("role") or ""))  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInput(f"the user form is not valid: {exc}") from exc
    admin_api.add_user(body=body, principal=principal, ctx=get_ctx(request))
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{name}/disable")
async def disable_user(
    name: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    check_form(request, await request.form())
    ensure_allowed(request.app, principal, "POST", "/v1/users/{name}/disable")
    admin_api.disable_user(name=name, principal=principal, ctx=get_ctx(request))
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/tokens")
async def create_token(
    request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    form = await request.form()
    check_form(request, form)
    ensure_allowed(request.app, principal, "POST", "/v1/tokens")
    try:
        body = admin_api.TokenIn(
            role=str(form.get("role") or ""),  # type: ignore[arg-type]
            cases=[str(c) for c in form.getlist("cases") if c],
            name=str(form.get("name") or "") or None,
            user=str(form.get("user") or "") or None,
        )
    except ValueError as exc:
        raise InvalidInput(f"the token form is not valid: {exc}") from exc
    new = admin_api.create_token(body=body, principal=principal, ctx=get_ctx(request))
    return _page(request, principal, new)  # the one and only time the secret is shown


@router.post("/admin/tokens/{name}/revoke")
async def revoke(
    name: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    check_form(request, await request.form())
    ensure_allowed(request.app, principal, "DELETE", "/v1/tokens/{name}")
    admin_api.revoke(name=name, principal=principal, ctx=get_ctx(request))
    return RedirectResponse("/admin", status_code=303)
