"""RFC 9457 problem details: the one place errors become HTTP responses.

Every :class:`~custodyd.daemon.errors.CustodydError` keeps its stable ``type``
(``urn:custodyd:problem:<slug>``) and status. Request validation errors become a
422 ``invalid-input`` problem listing each field and what is wrong with it.
HTTP errors raised by the framework (unknown route, wrong method) keep their
status with a ``http-<status>`` type. Anything unexpected is logged here with its
traceback and answered with a bare 500 problem: no stack trace, no exception text
ever reaches a client.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from custodyd.daemon.errors import CustodydError, Unauthenticated

log = logging.getLogger("custodyd.api")

PROBLEM_JSON = "application/problem+json"
PROBLEM_PREFIX = "urn:custodyd:problem:"


class Problem(BaseModel):
    """RFC 9457 problem object; extension members may follow."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class ProblemResponse(JSONResponse):
    """ASCII-escaped JSON: a problem echoing odd client text can always be encoded."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return ProblemResponse(body, status_code=status, headers=headers)


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": PROBLEM_PREFIX + slug, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return body


MAX_INSTANCE = 200


def _instance(request: Request) -> str:
    """The request path as the problem's ``instance``: percent-encoded (no raw control or
    bidi characters reach a client's terminal) and cut, so a hostile path is not echoed whole."""
    return quote(request.url.path, safe="/:@-._~")[:MAX_INSTANCE]


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _custodyd_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CustodydError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    body = exc.to_problem(instance=_instance(request))
    return problem_response(exc.http_status, _jsonable(body), headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(err.get("loc", ())), "message": str(err.get("msg", "invalid"))}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    body = problem(
        422, "invalid-input", "Invalid input", detail, instance=_instance(request), errors=errors
    )
    return problem_response(422, body)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
        exc.status_code, f"http-{exc.status_code}"
    )
    title = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}.get(
        exc.status_code, "HTTP error"
    )
    detail = exc.detail if isinstance(exc.detail, str) else None
    body = problem(exc.status_code, slug, title, detail, instance=_instance(request))
    return problem_response(exc.status_code, body, dict(exc.headers or {}))


async def _unencodable(request: Request, exc: Exception) -> JSONResponse:
    """Text with lone surrogates parses as JSON but cannot be stored or echoed."""
    body = problem(
        422,
        "invalid-input",
        "Invalid input",
        "text must be valid Unicode (no unpaired surrogates)",
        instance=_instance(request),
    )
    return problem_response(422, body)


async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    """An integer from the request too large for the database (e.g. an id beyond int64)."""
    body = problem(
        422,
        "invalid-input",
        "Invalid input",
        "a number in the request is outside the supported range",
        instance=_instance(request),
    )
    return problem_response(422, body)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = problem(
        500,
        "internal",
        "Internal error",
        "the server failed to handle this request; the error is logged",
        instance=_instance(request),
    )
    return problem_response(500, body)


def _jsonable(body: dict[str, Any]) -> dict[str, Any]:
    from fastapi.encoders import jsonable_encoder

    encoded: dict[str, Any] = jsonable_encoder(body)
    return encoded


# What an endpoint may raise and its problem document (the framework's own errors and
# anything unexpected are handled by install() below).
ENDPOINT_ERRORS: dict[type[Exception], Any] = {
    CustodydError: _custodyd_error,
    UnicodeEncodeError: _unencodable,
    OverflowError: _out_of_range,
}


def install(app: FastAPI) -> None:
    """Register the handlers on ``app`` (called once by ``create_app``)."""
    for kind, handler in ENDPOINT_ERRORS.items():
        app.add_exception_handler(kind, handler)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


async def error_response(request: Request, exc: Exception) -> JSONResponse | None:
    """The problem document of an error an endpoint raised, by the handler the framework
    would use (for an ASGI layer answering a request itself, :mod:`custodyd.api.hot_reads`);
    None for anything else (left to the server-error layer, as from an endpoint)."""
    for kind in type(exc).__mro__:
        handler = ENDPOINT_ERRORS.get(kind)
        if handler is not None:
            response: JSONResponse = await handler(request, exc)
            return response
    return None


# Documented on every operation so clients (and schemathesis) know error bodies.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {
        "model": Problem,
        "description": "An RFC 9457 problem (application/problem+json)",
        "content": {PROBLEM_JSON: {}},
    }
}
