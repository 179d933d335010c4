"""The audited custody reads, answered without the framework's routing and dependencies.

``GET /v1/evidence/{evidence_id}/custody`` and ``GET /v1/cases/{ref}/custody`` are
the endpoints read hundreds of times a second. Through FastAPI each costs ~0.35 ms
of CPU before and after the work itself (matching the path against every route,
solving five dependencies, validating three query parameters, wrapping the answer),
a quarter of an audited read. This ASGI layer recognises the plain form of those
two requests and runs the very same coroutines as the endpoints
(:func:`custodyd.api.routers.custody.read_evidence_timeline`, ``read_case_timeline``:
visibility, the ``history.read`` entry queued for the group commit, the page, the
wait until the entry is durable), with the same authentication
(:func:`~custodyd.daemon.auth.tokens.authenticate_fast`) and the same problem
documents for every refusal (:func:`custodyd.api.problems.error_response`: the
handlers the framework maps an endpoint's errors with).

"Plain" is narrow on purpose: ``GET``, no ``root_path``, one path segment as the
id, one ``Authorization: Bearer`` header, and a query string of at most
``limit``/``offset``/``after`` once each as decimal digits within their bounds.
Anything else (a console cookie, an unknown or repeated parameter, a value out of
range, a malformed header) goes to the framework, which answers it (or refuses it
with its 401/422) exactly as before; so the endpoints stay the one definition of the
API and its OpenAPI document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from custodyd.api import problems
from custodyd.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from custodyd.api.routers.custody import JSON, read_case_timeline, read_evidence_timeline
from custodyd.daemon.auth.timeline import PageRequest
from custodyd.daemon.auth.tokens import authenticate_fast
from custodyd.daemon.context import AppContext

# The routes' own path templates (metrics label requests by them) and their matchers
# (Starlette's default ``str`` convertor: one segment, ``[^/]+``).
EVIDENCE_ROUTE = "/v1/evidence/{evidence_id}/custody"
CASE_ROUTE = "/v1/cases/{ref}/custody"
_EVIDENCE = re.compile(r"/v1/evidence/([^/]+)/custody")
_CASE = re.compile(r"/v1/cases/([^/]+)/custody")
_DIGITS = re.compile(rb"[0-9]{1,13}")
_BOUNDS = {b"limit": (1, MAX_LIMIT), b"offset": (0, MAX_OFFSET), b"after": (0, MAX_OFFSET)}
_CONTENT_TYPE = JSON.encode()


@dataclass(frozen=True)
class HotRoute:
    """What the metrics middleware reads of ``scope["route"]`` (its ``path``)."""

    path: str


_ROUTES = {EVIDENCE_ROUTE: HotRoute(EVIDENCE_ROUTE), CASE_ROUTE: HotRoute(CASE_ROUTE)}


def parse_page(query: bytes) -> PageRequest | None:
    """The page a plain query string asks for; None for anything the framework must judge."""
    values: dict[bytes, int] = {}
    if query:
        for pair in query.split(b"&"):
            name, eq, value = pair.partition(b"=")
            bounds = _BOUNDS.get(name)
            if bounds is None or not eq or name in values or not _DIGITS.fullmatch(value):
                return None
            number = int(value)
            if not bounds[0] <= number <= bounds[1]:
                return None
            values[name] = number
    return PageRequest(
        limit=values.get(b"limit", DEFAULT_LIMIT),
        offset=values.get(b"offset", 0),
        after=values.get(b"after"),
    )


def bearer_secret(scope: Scope) -> str | None:
    """The token of the request's single ``Authorization: Bearer`` header, else None."""
    found: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if found is not None:
                return None
            found = value
    if found is None:
        return None
    scheme, _, secret = found.partition(b" ")
    secret = secret.strip()
    if scheme.lower() != b"bearer" or not secret:
        return None
    try:
        return secret.decode("ascii")
    except UnicodeDecodeError:
        return None


class HotReads:
    """ASGI layer in front of the router for the two audited timeline reads."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        matched = _EVIDENCE.fullmatch(path) if path.startswith("/v1/e") else _CASE.fullmatch(path)
        page = parse_page(scope["query_string"]) if matched else None
        secret = bearer_secret(scope) if page else None
        if matched is None or page is None or secret is None:
            await self.app(scope, receive, send)
            return
        evidence = path.startswith("/v1/e")
        scope["route"] = _ROUTES[EVIDENCE_ROUTE if evidence else CASE_ROUTE]
        try:
            principal = authenticate_fast(self.ctx.engine, secret)
            subject = matched.group(1)
            if evidence:
                body = await read_evidence_timeline(self.ctx, principal, subject, page)
            else:
                body = await read_case_timeline(self.ctx, principal, subject, page)
        except Exception as exc:
            response = await problems.error_response(Request(scope), exc)
            if response is None:
                raise
            await response(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", _CONTENT_TYPE),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
