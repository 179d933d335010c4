"""Acquisitions: the list, one acquisition with its live progress bar, and cancel.

The progress bar is filled by the script from ``/v1/acquisitions/{id}/events``
read with ``fetch`` (the session cookie authenticates it). Cancelling asks for
confirmation: the script asks in a dialog; without it the first post answers
with a confirmation page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from custodyd.api.console.pages.common import ALL, runtime_of
from custodyd.api.console.permissions import ensure_allowed
from custodyd.api.console.web import ConsoleRoute, check_form, console_principal, render
from custodyd.api.routers import acquisitions as acq_api
from custodyd.daemon.auth import Principal

router = APIRouter(route_class=ConsoleRoute)


@router.get("/acquisitions")
def list_page(request: Request, principal: Principal = Depends(console_principal)) -> Response:
    jobs = acq_api.list_(
        state=None, params=ALL, principal=principal, runtime=runtime_of(request)
    ).items
    return render(request, "acquisitions.html", title="Acquisitions", jobs=list(reversed(jobs)))


@router.get("/acquisitions/{job_id}")
def job_page(
    job_id: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    job = acq_api.read(job_id=job_id, principal=principal, runtime=runtime_of(request))
    return render(
        request, "acquisition.html", title=f"Acquisition {job_id}", job=job | _average(job)
    )


def _average(job: dict[str, Any]) -> dict[str, Any]:
    """For a finished job: the average rate over the whole run (the last progress report
    may come from the verify pass, which reads from the page cache)."""
    if job["state"] in acq_api.ACTIVE or not job.get("started_at") or not job.get("finished_at"):
        return {}
    seconds = (
        datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
    ).total_seconds()
    if seconds <= 0:
        return {}
    return {"average_bps": job["bytes_done"] / seconds, "seconds": seconds}


@router.post("/acquisitions/{job_id}/cancel")
async def cancel(
    job_id: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    form = await request.form()
    check_form(request, form)
    ensure_allowed(request.app, principal, "POST", "/v1/acquisitions/{job_id}/cancel")
    runtime = runtime_of(request)
    if form.get("confirmed") != "yes":
        job = acq_api.read(job_id=job_id, principal=principal, runtime=runtime)
        return render(request, "cancel.html", title="Cancel acquisition?", job=job)
    acq_api.cancel(job_id=job_id, principal=principal, runtime=runtime)
    return RedirectResponse(f"/acquisitions/{job_id}", status_code=303)
