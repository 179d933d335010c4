"""Sign-in with a pasted API token, sign-out, and the start page.

The token is posted once in a form body (never in a URL) and never rendered
back; the browser gets a session cookie: ``HttpOnly``, ``SameSite=Strict``,
``Secure`` when the console is reached over TLS, ``Path=/``. Before a session
exists the sign-in form is protected by a double-submitted value bound to a
short-lived cookie of its own.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from custodyd.api.auth import SESSION_COOKIE
from custodyd.api.console import permissions
from custodyd.api.console.web import (
    SIGNIN,
    ConsoleRoute,
    check_form,
    check_signin_form,
    console_principal,
    render,
    session_secret,
    to_signin,
)
from custodyd.api.deps import get_ctx
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.sessions import end_session, session_principal, start_session
from custodyd.daemon.errors import Unauthenticated

router = APIRouter(route_class=ConsoleRoute)

SIGNIN_COOKIE = "custodyd_signin"
SIGNIN_FORM_SECONDS = 1800


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _signin_page(request: Request, status_code: int = 200, error: str = "") -> Response:
    value = secrets.token_urlsafe(32)
    response = render(
        request, "signin.html", status_code, title="Sign in", signin_csrf=value, error=error
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        value,
        max_age=SIGNIN_FORM_SECONDS,
        path=SIGNIN,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


@router.get("/", summary="Start page: the first page the role may use, or sign-in")
def start(request: Request) -> Response:
    principal = console_principal(request)
    home = "/media" if permissions.may(request.app, principal, "GET", "/v1/media") else "/evidence"
    return RedirectResponse(home, status_code=303)


@router.get(SIGNIN)
def signin_form(request: Request) -> Response:
    secret = session_secret(request)
    if secret is not None:
        try:
            session_principal(get_ctx(request), secret)
            return RedirectResponse("/", status_code=303)
        except Unauthenticated:
            pass
    return _signin_page(request)


@router.post(SIGNIN)
async def signin(request: Request) -> Response:
    form = await request.form()
    check_signin_form(request, form, request.cookies.get(SIGNIN_COOKIE))
    token = form.get("token")
    ctx = get_ctx(request)
    if not isinstance(token, str) or not token.strip():
        return _signin_page(request, 401, "Paste an API token.")
    try:
        new = start_session(ctx, token, minutes=ctx.settings.console_session_minutes)
    except Unauthenticated:
        return _signin_page(request, 401, "That token is not valid (unknown, revoked or disabled).")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.secret,
        max_age=ctx.settings.console_session_minutes * 60,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(SIGNIN_COOKIE, path=SIGNIN)
    return response


@router.post("/signout")
async def signout(request: Request, _principal: Principal = Depends(console_principal)) -> Response:
    check_form(request, await request.form())
    secret = session_secret(request)
    if secret is not None:
        end_session(get_ctx(request), secret)
    return to_signin()
