"""Partial disclosure: ``POST /v1/evidence/{id}/extract`` derives a sealed item holding
one file of a sealed image (examiners of the case; admins)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, Field

from custodyd.api.auth import require_role
from custodyd.api.deps import get_ctx
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.visibility import visible_evidence_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.extract import DerivedItem, ExtractRequest, extract

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])


class ExtractIn(BaseModel):
    path: str | None = Field(None, min_length=1, max_length=4096)
    inode: int | None = Field(None, ge=0, le=2**63 - 1)
    partition: int | None = Field(None, ge=1, le=4096)


@router.post(
    "/{evidence_id}/extract",
    status_code=status.HTTP_201_CREATED,
    response_model=DerivedItem,
    summary="Extract one file into a new sealed, derived evidence item",
)
def extract_file(
    evidence_id: str,
    body: ExtractIn,
    response: Response,
    principal: Principal = Depends(require_role("examiner")),
    ctx: AppContext = Depends(get_ctx),
) -> DerivedItem:
    with ctx.session() as session:
        visible_evidence_case(session, principal, evidence_id)
    request = ExtractRequest(
        evidence_id, path=body.path, inode=body.inode, partition=body.partition
    )
    manifest = extract(ctx, request, actor=principal.actor)
    response.headers["Location"] = f"/v1/evidence/{manifest.evidence_id}"
    return manifest
