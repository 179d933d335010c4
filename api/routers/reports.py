"""PDF reports of an evidence item or a whole case (audited: ``report.issued``).

Translation only: :mod:`custodyd.daemon.reports` checks the caller may see the
item or case (404 exactly like a missing one otherwise), gathers, renders and
records the issue with the PDF's SHA-256 before the bytes are sent.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Response

from custodyd.api.auth import current_principal
from custodyd.api.deps import get_ctx
from custodyd.daemon.auth import Principal
from custodyd.daemon.context import AppContext
from custodyd.daemon.reports import IssuedReport, issue_case_report, issue_evidence_report

router = APIRouter(prefix="/v1", tags=["reports"])

PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
}
UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _pdf(issued: IssuedReport) -> Response:
    name = issued.filename
    disposition = (
        f"attachment; filename=\"{UNSAFE.sub('_', name)}\"; filename*=UTF-8''{quote(name)}"
    )
    return Response(
        content=issued.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": disposition,
            "X-Custodyd-Report-SHA256": issued.sha256,
            "X-Custodyd-Ledger-Entry": str(issued.ledger_index),
            "X-Custodyd-Tree-Size": str(issued.report.checkpoint.size),
        },
    )


@router.get(
    "/evidence/{evidence_id}/report.pdf",
    response_class=Response,
    responses=PDF,
    summary="Acquisition and custody report of an item (PDF/A-2b; recorded as report.issued)",
)
def evidence_report_pdf(
    evidence_id: str,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    return _pdf(issue_evidence_report(ctx, principal, evidence_id))


@router.get(
    "/cases/{ref}/report.pdf",
    response_class=Response,
    responses=PDF,
    summary="Custody report of a whole case (PDF/A-2b; recorded as report.issued)",
)
def case_report_pdf(
    ref: str,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    return _pdf(issue_case_report(ctx, principal, ref))
