"""The console's plumbing: templates, the signed-in principal, CSRF, errors as pages.

Pages are rendered on the server with jinja2 (autoescaped). Every console route
uses :class:`ConsoleRoute`, which turns the domain's errors into HTML pages with
the same status the API would give (a hidden case is a 404 page, a role that may
not act is a 403 page), sends an unauthenticated browser to the sign-in page,
and adds the security headers: a strict Content-Security-Policy (our own script
and style only, nothing from elsewhere), no framing, no referrer to other sites, no caching.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from custodyd.api.auth import SESSION_COOKIE
from custodyd.api.console import permissions
from custodyd.api.deps import get_ctx
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.sessions import csrf_for, csrf_matches, session_principal
from custodyd.daemon.errors import CustodydError, Forbidden, Unauthenticated

HERE = Path(__file__).parent
SIGNIN = "/signin"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make Chromium send Origin: null
    "X-Frame-Options": "DENY",
}

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class CrossSiteRefused(Forbidden):
    """A form post that did not come from our own page (no or wrong anti-forgery value)."""


def human_bytes(value: Any) -> str:
    try:
        size = float(value)
    except (TypeError, ValueError):
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


templates.filters["bytes"] = human_bytes


# -- who is signed in --------------------------------------------------------


def session_secret(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def console_principal(request: Request) -> Principal:
    """The principal of the browser's session (a dependency); unauthenticated -> sign-in."""
    secret = session_secret(request)
    if secret is None:
        raise Unauthenticated("sign in first")
    principal = session_principal(get_ctx(request), secret)
    request.state.principal = principal
    return principal


# -- anti-forgery ---------------------------------------------------------------


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site or origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        return origin == f"{request.url.scheme}://{request.url.netloc}"
    return origin != "null"


def _from_a_browser(request: Request) -> bool:
    return "origin" in request.headers or "sec-fetch-site" in request.headers


def check_form(request: Request, form: Mapping[str, Any]) -> None:
    """Refuse a form post that is cross-origin or lacks this session's anti-forgery value."""
    secret = session_secret(request)
    presented = form.get("csrf")
    if not same_origin(request):
        raise CrossSiteRefused("this form was not sent from the console's own page")
    if secret is None or not csrf_matches(
        secret, presented if isinstance(presented, str) else None
    ):
        raise CrossSiteRefused("this form was not sent from the console's own page (no valid CSRF)")


def check_signin_form(request: Request, form: Mapping[str, Any], cookie: str | None) -> None:
    """Sign-in happens before a session exists: double-submit of a cookie-bound value.

    A post without the ``csrf`` field and without any browser provenance header
    (``Origin``, ``Sec-Fetch-Site``) is not a browser's: a script posting a token it
    holds (``curl -d token=...``), which no other site can drive, so it is let through
    (the rule of Go's ``CrossOriginProtection``). Browsers send those headers on every
    form post, so a browser's sign-in always needs the page's value.
    """
    presented = form.get("csrf")
    if not same_origin(request):
        raise CrossSiteRefused("this sign-in was not sent from the console's own page")
    if presented is None and not _from_a_browser(request):
        return
    if not cookie or not isinstance(presented, str) or not hmac.compare_digest(cookie, presented):
        raise CrossSiteRefused("this sign-in form has expired; load the sign-in page again")


# -- rendering ------------------------------------------------------------------

NAV = (
    ("media", "/media", "Media", ("GET", "/v1/media")),
    ("acquisitions", "/acquisitions", "Acquisitions", ("GET", "/v1/acquisitions")),
    ("evidence", "/evidence", "Evidence", ("GET", "/v1/evidence")),
    ("cases", "/cases", "Cases", ("GET", "/v1/cases")),
    ("retention", "/retention", "Retention", ("GET", "/v1/retention/due")),
    ("admin", "/admin", "Admin", ("GET", "/v1/users")),
)


def nav_for(request: Request, principal: Principal | None) -> list[dict[str, str]]:
    if principal is None:
        return []
    return [
        {"id": key, "href": href, "label": label}
        for key, href, label, (method, path) in NAV
        if permissions.may(request.app, principal, method, path)
    ]


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """Render ``template`` with the layout's values (principal, nav, CSRF value)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    secret = session_secret(request)

    def may(method: str, path: str) -> bool:
        return principal is not None and permissions.may(request.app, principal, method, path)

    html = templates.get_template(template).render(
        principal=principal,
        nav=nav_for(request, principal),
        csrf=csrf_for(secret) if secret and principal is not None else "",
        may=may,
        path=request.url.path,
        **values,
    )
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status_code: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "error.html", status_code, title=title, detail=detail)


def to_signin() -> RedirectResponse:
    response = RedirectResponse(SIGNIN, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class ConsoleRoute(APIRoute):
    """Domain errors become pages; sign-in redirects; security headers on everything."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response: Response
            try:
                response = await original(request)
            except Unauthenticated:
                response = to_signin()
            except CrossSiteRefused as exc:
                response = error_page(request, 403, "Refused: not sent from this console", str(exc))
            except CustodydError as exc:
                response = error_page(request, exc.http_status, exc.title, str(exc))
            except RequestValidationError as exc:
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                    for e in exc.errors()
                )
                response = error_page(request, 422, "Invalid input", detail)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return handler
