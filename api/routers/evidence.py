"""Evidence items: list (by case, status, date, hash), manifest, inventory, fixity check,
and downloads of the manifest and acquisition log — never of the image.

Each read of evidence metadata is recorded in the ledger (``evidence.accessed``)
before it is answered; a fixity check writes ``evidence.verified`` itself.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from custodyd.api.auth import current_principal, require_role
from custodyd.api.deps import get_ctx
from custodyd.api.pagination import Page, PageParams, page, page_params
from custodyd.daemon.acquisition import get_manifest, verify_evidence
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.reads import (
    EvidenceFilter,
    audit_evidence_read,
    evidence_page,
    read_manifest,
)
from custodyd.daemon.auth.visibility import evidence_directory, visible_evidence_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import InvalidInput, NotFound
from custodyd.daemon.names import echo
from custodyd.daemon.store.layout import LOG_NAME, MANIFEST_NAME

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])

Status = Literal["acquiring", "incomplete", "sealed", "mismatch", "disposed"]
HEX = re.compile(r"^[0-9a-fA-F]{32,128}$")


class Manifest(BaseModel):
    """The evidence manifest as sealed (more fields than listed here)."""

    model_config = {"extra": "allow"}

    evidence_id: str
    case: str
    status: str


class EvidencePage(BaseModel):
    items: list[Manifest]
    limit: int
    offset: int
    next_offset: int | None


class Inventory(BaseModel):
    evidence_id: str
    inventory: dict[str, Any] | None


class FixityReport(BaseModel):
    model_config = {"extra": "allow"}

    evidence_id: str
    match: bool
    blake3: str | None
    expected: str | None
    mismatched_windows: list[Any]
    seconds: float


def _audit(
    ctx: AppContext, principal: Principal, what: str, case: str | None, evidence: Any
) -> None:
    audit_evidence_read(ctx, principal, what, case, evidence)


@router.get("", response_model=EvidencePage, summary="Evidence of the caller's cases, filtered")
def list_(
    case: str | None = Query(None, max_length=200, description="Case ref"),
    status: Status | None = Query(None, description="Default: every status"),
    since: datetime | None = Query(None, description="Acquisition started at or after"),
    until: datetime | None = Query(None, description="Acquisition started before"),
    hash: str | None = Query(None, max_length=128, description="Any recorded digest (hex)"),
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Page[dict[str, Any]]:
    if hash is not None and not HEX.match(hash):
        raise InvalidInput("hash must be 32-128 hexadecimal characters", field="query.hash")
    digest = hash.lower() if hash is not None else None
    flt = EvidenceFilter(case=case, status=status, since=since, until=until, digest=digest)
    items, nxt = evidence_page(ctx, principal, flt, offset=params.offset, limit=params.limit)
    if items:
        _audit(ctx, principal, "evidence list", case, [m["evidence_id"] for m in items])
    return page(items, params, nxt)


@router.get("/{evidence_id}", response_model=Manifest, summary="The manifest of an item")
def read(
    evidence_id: str,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return read_manifest(ctx, principal, evidence_id)


@router.get("/{evidence_id}/inventory", response_model=Inventory, summary="Partitions, filesystems")
def inventory(
    evidence_id: str,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    with ctx.session() as session:
        ref = visible_evidence_case(session, principal, evidence_id)
    _audit(ctx, principal, "inventory", ref, evidence_id)
    manifest = get_manifest(ctx, evidence_id)
    return {"evidence_id": evidence_id, "inventory": manifest.get("inventory")}


def _file(ctx: AppContext, principal: Principal, evidence_id: str, name: str) -> FileResponse:
    with ctx.session() as session:
        ref = visible_evidence_case(session, principal, evidence_id)
        path = evidence_directory(session, evidence_id) / name
    if not path.is_file():
        raise NotFound(f"evidence {echo(evidence_id)} has no {name} (yet)", evidence=evidence_id)
    _audit(ctx, principal, name, ref, evidence_id)
    media = "application/json" if name.endswith(".json") else "text/plain; charset=utf-8"
    return FileResponse(path, media_type=media, filename=f"{evidence_id}-{name}")


@router.get(
    "/{evidence_id}/manifest.json",
    response_class=FileResponse,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
    summary="Download the sealed manifest file",
)
def manifest_file(
    evidence_id: str,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> FileResponse:
    return _file(ctx, principal, evidence_id, MANIFEST_NAME)


@router.get(
    "/{evidence_id}/acquisition.log",
    response_class=FileResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    summary="Download the acquisition log",
)
def acquisition_log(
    evidence_id: str,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> FileResponse:
    return _file(ctx, principal, evidence_id, LOG_NAME)


@router.post(
    "/{evidence_id}/verify",
    response_model=FixityReport,
    summary="Re-hash the image now and compare (examiner, compliance); recorded in the ledger",
)
def verify(
    evidence_id: str,
    principal: Principal = Depends(require_role("examiner", "compliance")),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    with ctx.session() as session:
        visible_evidence_case(session, principal, evidence_id)
    return verify_evidence(ctx, evidence_id, actor=principal.actor)
