"""What a role may do, read from the API's own routes (the console has no rules of its own).

Every API operation that needs a role declares it with
:func:`custodyd.api.auth.require_role`, whose dependency carries
``allowed_roles``. The console asks "may this principal call ``POST
/v1/evidence/{evidence_id}/verify``?" and gets the API's answer: a button is
shown only then, and the console handler refuses exactly as the API would
(:func:`ensure_allowed` raises the API's :class:`Forbidden`). Which *cases* a
caller sees is decided inside the API functions the console calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from custodyd.daemon.auth import Principal
from custodyd.daemon.errors import Forbidden


def _roles_in(dependant: Dependant) -> frozenset[str] | None:
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "allowed_roles", None)
        if roles is not None:
            return frozenset(roles)
        found = _roles_in(dep)
        if found is not None:
            return found
    return None


def _walk(routes: Iterable[BaseRoute]) -> Iterable[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI >= 0.16x keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from _walk(nested.routes)


def _api_routes(app: FastAPI) -> Iterable[APIRoute]:
    return (r for r in _walk(app.routes) if r.path.startswith("/v1"))


@cache
def _rule(app: FastAPI, method: str, path: str) -> frozenset[str] | None:
    """The roles the API admits for ``method path`` (None: any authenticated caller)."""
    for route in _api_routes(app):
        if route.path_format == path and method in (route.methods or ()):
            return _roles_in(route.dependant)
    raise LookupError(f"the API has no operation {method} {path}")


def may(app: FastAPI, principal: Principal, method: str, path: str) -> bool:
    """Whether the API would let ``principal``'s role call ``method path`` at all."""
    roles = _rule(app, method, path)
    return roles is None or principal.role in roles


def ensure_allowed(app: FastAPI, principal: Principal, method: str, path: str) -> None:
    """Refuse (403) as the API does when the role may not call ``method path``."""
    roles = _rule(app, method, path)
    if roles is not None and principal.role not in roles:
        raise Forbidden(
            f"role {principal.role!r} may not do this; allowed: {', '.join(sorted(roles))}",
            role=principal.role,
        )


def has_operation(app: FastAPI, method: str, path: str) -> bool:
    """Whether this build of the API offers ``method path`` (e.g. a PDF report)."""
    return any(r.path_format == path and method in (r.methods or ()) for r in _api_routes(app))
