"""Media attached now, live; the Acquire form for a held medium.

Without JavaScript the page is complete and a "Refresh" link reloads it; with
it, the script follows ``/v1/media/events`` and swaps in each medium's card
from a fresh copy of this page within a second of a plug or unplug.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, get_args, get_origin

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from custodyd.api.console.pages.common import ALL, open_case_refs, runtime_of
from custodyd.api.console.permissions import ensure_allowed
from custodyd.api.console.web import ConsoleRoute, check_form, console_principal, render
from custodyd.api.deps import get_ctx
from custodyd.api.routers import media as media_api
from custodyd.daemon.auth import Principal
from custodyd.daemon.errors import InvalidInput

router = APIRouter(route_class=ConsoleRoute)


def _version(medium: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(medium, sort_keys=True).encode()).hexdigest()[:16]


@router.get("/media")
def media_page(request: Request, principal: Principal = Depends(console_principal)) -> Response:
    ensure_allowed(request.app, principal, "GET", "/v1/media")
    runtime = runtime_of(request)
    listed = media_api.list_(params=ALL, _principal=principal, runtime=runtime)
    media = [m | {"version": _version(m)} for m in listed.items]
    return render(
        request,
        "media.html",
        title="Media",
        media=media,
        cases=open_case_refs(request, principal),
        hashes=media_api.HASHES,
        formats=_formats(),
        monitor=runtime.monitor.to_dict(),
    )


def _formats() -> list[str]:
    """Image formats the API's acquire body accepts (``format``), none when it has no such field."""
    field = media_api.AcquireIn.model_fields.get("format")
    return _literal_values(field.annotation) if field is not None else []


def _literal_values(annotation: Any) -> list[str]:
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)]
    return [v for arg in get_args(annotation) for v in _literal_values(arg)]


@router.post("/media/{medium_id}/acquire")
async def acquire(
    medium_id: int, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    form = await request.form()
    check_form(request, form)
    ensure_allowed(request.app, principal, "POST", "/v1/media/{medium}/acquire")
    fields: dict[str, Any] = {
        "case": str(form.get("case") or ""),
        "hashes": [str(h) for h in form.getlist("hashes")],
        "notes": str(form.get("notes") or "") or None,
    }
    if form.get("format") and _formats():
        fields["format"] = str(form.get("format"))
    try:
        body = media_api.AcquireIn(**fields)
    except ValueError as exc:
        raise InvalidInput(f"the acquisition form is not valid: {exc}") from exc
    job = media_api.acquire(
        medium=str(medium_id),
        body=body,
        response=Response(),
        principal=principal,
        runtime=runtime_of(request),
        ctx=get_ctx(request),
    )
    return RedirectResponse(f"/acquisitions/{job['id']}", status_code=303)
