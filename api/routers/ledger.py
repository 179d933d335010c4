"""The ledger for third parties: checkpoint, public key, entries, proofs, export bundle.

Proof hashes and leaves are standard base64. An inclusion proof carries the leaf
bytes, so it is given only for entries the caller may read; consistency proofs
and checkpoints reveal nothing about entries and are open to every token.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from custodyd.api.auth import current_principal, require_role
from custodyd.api.deps import get_ctx
from custodyd.api.schemas import EntryOut, entry_out
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.visibility import entry_visible
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import NotFound
from custodyd.daemon.ledger import LedgerEntry

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])

MAX_INDEX = 2**62
TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}}
}


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    leaf: str  # base64 of the exact leaf bytes (RFC 8785 JSON)
    hashes: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    hashes: list[str]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _visible_entry(ctx: AppContext, principal: Principal, index: int) -> LedgerEntry:
    try:
        entry = ctx.ledger.entry(index)
    except NotFound:
        entry = None
    if entry is not None:
        with ctx.session() as session:
            if entry_visible(session, principal, entry):
                return entry
    raise NotFound(f"ledger entry {index} does not exist", index=index)


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses=TEXT,
    summary="The latest signed checkpoint (C2SP signed note)",
)
def checkpoint(
    _principal: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx)
) -> PlainTextResponse:
    return PlainTextResponse(ctx.ledger.checkpoint())


@router.get(
    "/public-key",
    response_class=PlainTextResponse,
    responses=TEXT,
    summary="The checkpoint signer's C2SP verifier key",
)
def public_key(
    _principal: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx)
) -> PlainTextResponse:
    return PlainTextResponse(ctx.ledger.public_key() + "\n")


@router.get("/entries/{index}", response_model=EntryOut, summary="One ledger entry")
def entry(
    index: int,
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return entry_out(_visible_entry(ctx, principal, index))


@router.get(
    "/proofs/inclusion",
    response_model=InclusionProof,
    summary="RFC 9162 inclusion proof of entry `index` in the tree of `tree_size` entries",
)
def inclusion(
    index: int = Query(ge=0, le=MAX_INDEX),
    tree_size: int | None = Query(None, ge=1, le=MAX_INDEX, description="Default: current"),
    principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    size = ctx.ledger.size() if tree_size is None else tree_size
    hashes = ctx.ledger.inclusion_proof(index, size)  # validates index < size <= current
    found = _visible_entry(ctx, principal, index)
    return {
        "leaf_index": index,
        "tree_size": size,
        "leaf": _b64(found.leaf),
        "hashes": [_b64(h) for h in hashes],
    }


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyProof,
    summary="RFC 9162 consistency proof between tree sizes `first` and `second`",
)
def consistency(
    first: int = Query(ge=0, le=MAX_INDEX),
    second: int | None = Query(None, ge=0, le=MAX_INDEX, description="Default: current"),
    _principal: Principal = Depends(current_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    size = ctx.ledger.size() if second is None else second
    hashes = ctx.ledger.consistency_proof(first, size)
    return {"first": first, "second": size, "hashes": [_b64(h) for h in hashes]}


@router.get(
    "/export",
    summary="Export bundle: every entry and checkpoint plus the public key (admin, compliance)",
    response_model=dict[str, Any],
)
def export(
    _principal: Principal = Depends(require_role("compliance")),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return ctx.ledger.export_bundle()
