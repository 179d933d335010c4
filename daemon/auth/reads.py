"""Audited reads of evidence metadata, the same from the CLI and the API.

Each function checks that the caller may see the item (the same 404 as a missing
one otherwise), records the read (``evidence.accessed``, see
:mod:`custodyd.daemon.auth.audit`) durably, and only then returns the data. The
CLI's ``evidence show``/``evidence list`` and the API's ``GET /v1/evidence/...``
call these, so a read is recorded identically whichever way it was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from custodyd.daemon.auth.audit import EVIDENCE_ACCESSED, record_read
from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.visibility import visible_evidence_case
from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import Case, Evidence


def audit_evidence_read(
    ctx: AppContext, principal: Principal, what: str, case: str | None, evidence: Any
) -> None:
    """Record that ``principal`` read ``what`` of ``evidence`` (an id or a list of ids)."""
    record_read(
        ctx, EVIDENCE_ACCESSED, actor=principal.actor, what=what, case=case, evidence=evidence
    )


def read_manifest(ctx: AppContext, principal: Principal, evidence_id: str) -> dict[str, Any]:
    """The manifest of ``evidence_id``, the read recorded as ``what: manifest``."""
    from custodyd.daemon.acquisition import get_manifest  # imaging is heavy: load on use

    with ctx.session() as session:
        ref = visible_evidence_case(session, principal, evidence_id)
    audit_evidence_read(ctx, principal, "manifest", ref, evidence_id)
    return get_manifest(ctx, evidence_id)


def list_manifests(
    ctx: AppContext,
    principal: Principal,
    case: str | None,
    status: str | None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    digest: str | None = None,
) -> list[dict[str, Any]]:
    """Manifests of ``case`` (every visible case when None) with ``status`` (None: all),
    acquired from ``since`` (inclusive) until ``until`` (exclusive), holding ``digest``
    (lower-case hex) among their recorded digests. The caller records the read of what
    it returns (``audit_evidence_read``), page by page."""
    from custodyd.daemon.acquisition import list_evidence

    if case is not None:
        refs: list[str | None] = [case] if principal.can_read_case(case) else []
    elif principal.is_admin:
        refs = [None]
    else:
        refs = sorted(principal.case_refs)
    found: list[dict[str, Any]] = []
    for ref in refs:
        found.extend(list_evidence(ctx, case_ref=ref, status=status))
    if len(refs) > 1:
        found.sort(key=lambda m: (m.get("started_at") or "", m["evidence_id"]))
    return [m for m in found if _matches(m, since, until, digest)]


def _started(manifest: dict[str, Any]) -> datetime | None:
    value = manifest.get("started_at")
    if not isinstance(value, str):
        return None
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _matches(
    manifest: dict[str, Any], since: datetime | None, until: datetime | None, digest: str | None
) -> bool:
    if since is not None or until is not None:
        started = _started(manifest)
        if started is None:
            return False
        if since is not None and started < utc(since):
            return False
        if until is not None and started >= utc(until):
            return False
    if digest is not None:
        hashes = manifest.get("hashes") or {}
        if digest not in (str(v).lower() for v in hashes.values()):
            return False
    return True


@dataclass(frozen=True)
class EvidenceFilter:
    """What ``GET /v1/evidence`` selects: case, status, acquisition start range, digest."""

    case: str | None = None
    status: str | None = None
    since: datetime | None = None  # acquisition started at or after
    until: datetime | None = None  # acquisition started before
    digest: str | None = None  # any recorded digest, lower-case hex


def evidence_page(
    ctx: AppContext, principal: Principal, flt: EvidenceFilter, *, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the manifests the caller may see, oldest first, selected in SQL.

    Returns the page and the next offset (None on the last page). Only the page's
    rows (plus one, to know whether another page follows) are read.
    """
    from custodyd.daemon.acquisition import manifest_of

    if flt.case is not None:
        if not principal.can_read_case(flt.case):
            return [], None
        refs: list[str] | None = [flt.case]
    elif principal.is_admin:
        refs = None
    else:
        refs = sorted(principal.case_refs)
        if not refs:
            return [], None
    query = select(Evidence, Case).where(Evidence.case_id == Case.id)
    if refs is not None:
        query = query.where(col(Case.ref).in_(refs))
    if flt.status is not None:
        query = query.where(Evidence.status == flt.status)
    if flt.since is not None:
        query = query.where(col(Evidence.created_at) >= utc(flt.since))
    if flt.until is not None:
        query = query.where(col(Evidence.created_at) < utc(flt.until))
    if flt.digest is not None:  # hex only (checked by the caller): safe inside LIKE
        query = query.where(
            sa.or_(
                col(Evidence.blake3) == flt.digest,
                sa.cast(col(Evidence.manifest), sa.String).like(f'%"{flt.digest}"%'),
            )
        )
    query = query.order_by(col(Evidence.created_at), col(Evidence.id))
    with ctx.session() as session:
        rows = session.exec(query.offset(offset).limit(limit + 1)).all()
        found = [(ev.blake3, manifest_of(ev, case)) for ev, case in rows]
    more = len(found) > limit
    page = [m for blake3, m in found[:limit] if _digest_matches(blake3, m, flt.digest)]
    return page, (offset + limit if more else None)


def _digest_matches(blake3: str | None, manifest: dict[str, Any], digest: str | None) -> bool:
    """The digest is one of the item's whole-image digests (not, say, a window's)."""
    if digest is None or (blake3 or "").lower() == digest:
        return True
    hashes = manifest.get("hashes") or {}
    return digest in (str(v).lower() for v in hashes.values())
