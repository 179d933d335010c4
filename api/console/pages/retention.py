"""Retention (compliance): deadlines in the next N days, holds, alerts sent, disposition.

Deadlines, orders and retention status come from the API's operations (same
visibility). The alert outbox has no API list of its own; it is shown to the
roles that see every order (compliance, admin), the API's rule for orders.
Disposition is offered where the role may dispose; the domain refuses it
(409 page) while any order or hold stands.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from custodyd.api.console.pages.common import ALL
from custodyd.api.console.permissions import ensure_allowed
from custodyd.api.console.web import ConsoleRoute, check_form, console_principal, render
from custodyd.api.deps import get_ctx
from custodyd.api.routers import orders as orders_api
from custodyd.api.routers import retention as retention_api
from custodyd.daemon.auth import Principal
from custodyd.daemon.errors import InvalidInput
from custodyd.daemon.orders.access import sees_all
from custodyd.daemon.orders.alerts.outbox import outbox_rows

router = APIRouter(route_class=ConsoleRoute)


@router.get("/retention")
def retention_page(
    request: Request, days: int = 30, principal: Principal = Depends(console_principal)
) -> Response:
    if not 0 <= days <= 36500:
        raise InvalidInput("days must be between 0 and 36500")
    ctx = get_ctx(request)
    due = retention_api.due(days=days, params=ALL, principal=principal, ctx=ctx).items
    orders = orders_api.list_(
        case=None, evidence=None, status_=None, params=ALL, principal=principal, ctx=ctx
    ).items
    alerts: list[dict[str, object]] = []
    if sees_all(principal):
        with ctx.session() as session:
            alerts = [a for a in outbox_rows(session) if a.get("status") == "sent"][-50:]
    return render(
        request,
        "retention.html",
        title="Retention",
        days=days,
        due=due,
        holds=[o for o in orders if o.hold],
        alerts=list(reversed(alerts)),
        show_alerts=sees_all(principal),
    )


@router.get("/retention/{evidence_id}")
def item_page(
    evidence_id: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    ctx = get_ctx(request)
    status = retention_api.show(evidence_id=evidence_id, principal=principal, ctx=ctx)
    return render(
        request, "retention_item.html", title=f"Retention of {evidence_id}", r=status, done=None
    )


@router.post("/retention/{evidence_id}/dispose")
async def dispose(
    evidence_id: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    form = await request.form()
    check_form(request, form)
    ensure_allowed(request.app, principal, "POST", "/v1/retention/{evidence_id}/disposition")
    try:
        body = retention_api.DispositionIn(
            method=str(form.get("method") or ""),  # type: ignore[arg-type]
            reason=str(form.get("reason") or ""),
            returned_to=str(form.get("returned_to") or "") or None,
        )
    except ValueError as exc:
        raise InvalidInput(f"the disposition form is not valid: {exc}") from exc
    ctx = get_ctx(request)
    record = retention_api.create_disposition(
        evidence_id=evidence_id, body=body, principal=principal, ctx=ctx
    )
    status = retention_api.show(evidence_id=evidence_id, principal=principal, ctx=ctx)
    return render(
        request, "retention_item.html", title=f"Retention of {evidence_id}", r=status, done=record
    )
