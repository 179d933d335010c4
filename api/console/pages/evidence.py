"""Evidence: the list (by case, status, date) and one item with everything known about it.

Both go through the API's own operations, so the same items are visible and
each read is recorded in the ledger (``evidence.accessed``) exactly as for an
API client. "Verify now" re-hashes the image through the API's verify operation.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, get_args

from fastapi import APIRouter, Depends, Request, Response

from custodyd.api.console.pages.common import ALL, case_refs
from custodyd.api.console.permissions import ensure_allowed, has_operation
from custodyd.api.console.web import ConsoleRoute, check_form, console_principal, render
from custodyd.api.deps import get_ctx
from custodyd.api.routers import evidence as evidence_api
from custodyd.daemon.auth import Principal
from custodyd.daemon.errors import InvalidInput

router = APIRouter(route_class=ConsoleRoute)

STATUSES = get_args(evidence_api.Status)
REPORT = "/v1/evidence/{evidence_id}/report.pdf"


def _day(value: str, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD), not {value!r}") from exc


@router.get("/evidence")
def list_page(
    request: Request,
    case: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
    principal: Principal = Depends(console_principal),
) -> Response:
    if status and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    until_day = _day(until, "until")
    found = evidence_api.list_(
        case=case or None,
        status=status or None,  # type: ignore[arg-type]
        since=_day(since, "since"),
        until=until_day.replace(hour=23, minute=59, second=59) if until_day else None,
        hash=None,
        params=ALL,
        principal=principal,
        ctx=get_ctx(request),
    )
    return render(
        request,
        "evidence_list.html",
        title="Evidence",
        items=found.items,
        cases=case_refs(request, principal),
        statuses=STATUSES,
        filters={"case": case, "status": status, "since": since, "until": until},
    )


def _item(request: Request, principal: Principal, evidence_id: str, **extra: Any) -> Response:
    manifest = evidence_api.read(evidence_id=evidence_id, principal=principal, ctx=get_ctx(request))
    return render(
        request,
        "evidence_item.html",
        title=f"Evidence {evidence_id}",
        m=manifest,
        report=has_operation(request.app, "GET", REPORT),
        **extra,
    )


@router.get("/evidence/{evidence_id}")
def item_page(
    evidence_id: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    return _item(request, principal, evidence_id, fixity=None)


@router.post("/evidence/{evidence_id}/verify")
async def verify(
    evidence_id: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    check_form(request, await request.form())
    ensure_allowed(request.app, principal, "POST", "/v1/evidence/{evidence_id}/verify")
    from fastapi.concurrency import run_in_threadpool

    report = await run_in_threadpool(
        evidence_api.verify, evidence_id=evidence_id, principal=principal, ctx=get_ctx(request)
    )
    return _item(request, principal, evidence_id, fixity=report)
