"""Bearer-token (or console session) authentication and role checks for the API.

``Authorization: Bearer <token>``, or the console's session cookie (the
browser's script reads ``/v1`` with ``fetch``, which sends the cookie; a session
acts exactly as its token). With the cookie, a request that changes anything
must also carry the session's anti-forgery value in ``X-CSRF-Token`` (a
cross-site page cannot set that header). Missing or invalid -> 401 with
``WWW-Authenticate: Bearer``; a role that may not use the endpoint -> 403; an
item of a case the caller is not a member of -> 404 (its existence is not
revealed), in lists (filtered out) and direct reads alike — see
:func:`ensure_case_visible`. Admins pass every role check and see every case.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from custodyd.api.deps import app_ctx
from custodyd.daemon.auth import ADMIN, Principal, check_role
from custodyd.daemon.auth.sessions import csrf_matches, session_principal
from custodyd.daemon.auth.tokens import authenticate_fast
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Forbidden, NotFound, Unauthenticated

__all__ = [
    "Principal",
    "current_principal",
    "ensure_case_visible",
    "require_role",
]

_bearer = HTTPBearer(auto_error=False, description="API token from `custodyd tokens create`")

SESSION_COOKIE = "custodyd_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ctx: AppContext = Depends(app_ctx),
) -> Principal:
    """The caller, authenticated on every request (nothing cached: a revoked token fails
    at once). Two indexed driver-level queries, run on the event loop: cheaper than a
    hop to the thread pool."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            return _session_principal(request, ctx, cookie)
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    principal = authenticate_fast(ctx.engine, credentials.credentials.strip())
    request.state.principal = principal
    return principal


def _session_principal(request: Request, ctx: AppContext, cookie: str) -> Principal:
    principal = session_principal(ctx, cookie)
    if request.method not in SAFE_METHODS and not csrf_matches(
        cookie, request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(
            f"a change made with the console session needs its {CSRF_HEADER} header",
            role=principal.role,
        )
    request.state.principal = principal
    return principal


def require_role(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting callers whose role is one of ``roles`` (admin always passes)."""
    allowed = frozenset(check_role(role) for role in roles) | {ADMIN}

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(
                f"role {principal.role!r} may not do this; allowed: {', '.join(sorted(allowed))}",
                role=principal.role,
            )
        return principal

    dependency.__name__ = f"require_role_{'_'.join(sorted(allowed))}"
    dependency.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the console
    return dependency


def ensure_case_visible(principal: Principal, case_ref: str | None, what: str) -> None:
    """404 (never 403) when ``principal`` is not a member of ``case_ref``."""
    if not principal.can_read_case(case_ref):
        raise NotFound(f"no {what}")
