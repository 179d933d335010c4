"""Custody timelines (an item's, a case's), each entry with its leaf index and a proof check.

The timeline comes from the API's own operations (the read is recorded as
``history.read``). The page shows the checkpoint signer's public key; the
script fetches the latest signed checkpoint and the entry's inclusion proof
and checks both in the browser (WebCrypto SHA-256 and Ed25519), so the reader
need not trust this server's word that the entry is in the signed log.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from custodyd.api.console.pages.common import ALL
from custodyd.api.console.web import ConsoleRoute, console_principal, render
from custodyd.api.deps import get_ctx
from custodyd.api.routers import custody as custody_api
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.timeline import PageRequest

router = APIRouter(route_class=ConsoleRoute)
ALL_ENTRIES = PageRequest(limit=ALL.limit, offset=ALL.offset)


def _page(request: Request, timeline: dict[str, Any], kind: str) -> Response:
    ctx = get_ctx(request)
    return render(
        request,
        "custody.html",
        title=f"Custody of {timeline['subject']}",
        timeline=timeline,
        kind=kind,
        public_key=ctx.ledger.public_key(),
        origin=ctx.settings.ledger_origin,
    )


@router.get("/evidence/{evidence_id}/custody")
async def evidence_timeline(
    evidence_id: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    body = await custody_api.read_evidence_timeline(
        get_ctx(request), principal, evidence_id, ALL_ENTRIES
    )
    timeline = json.loads(body)
    return _page(request, timeline, "evidence")


@router.get("/cases/{ref}/custody")
async def case_timeline(
    ref: str, request: Request, principal: Principal = Depends(console_principal)
) -> Response:
    body = await custody_api.read_case_timeline(get_ctx(request), principal, ref, ALL_ENTRIES)
    timeline = json.loads(body)
    return _page(request, timeline, "case")
