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


@dataclass(frozen=True)
class EvidenceFilter:
    """What an evidence list selects: case, status, acquisition start range, digest."""

    case: str | None = None
    status: str | None = None
    since: datetime | None = None  # acquisition started at or after
    until: datetime | None = None  # acquisition started before
    digest: str | None = None  # any whole-image digest, lower-case hex


def _selected(principal: Principal, flt: EvidenceFilter) -> Any:
    """The query of the items ``principal`` may see that ``flt`` selects, oldest first
    (None when it may see none): every condition is SQL."""
    from custodyd.daemon.imaging.hashers import EXTRA_ALGORITHMS

    if flt.case is not None:
        if not principal.can_read_case(flt.case):
            return None
        refs: list[str] | None = [flt.case]
    elif principal.is_admin:
        refs = None
    else:
        refs = sorted(principal.case_refs)
        if not refs:
            return None
    query = select(Evidence, Case).where(Evidence.case_id == Case.id)
    if refs is not None:
        query = query.where(col(Case.ref).in_(refs))
    if flt.status is not None:
        query = query.where(Evidence.status == flt.status)
    if flt.since is not None:
        query = query.where(col(Evidence.created_at) >= utc(flt.since))
    if flt.until is not None:
        query = query.where(col(Evidence.created_at) < utc(flt.until))
    if flt.digest is not None:  # one of the whole-image digests (not, say, a window's)
        manifest = col(Evidence.manifest)
        query = query.where(
            sa.or_(
                sa.func.lower(col(Evidence.blake3)) == flt.digest,
                *(
                    sa.func.lower(manifest[("hashes", name)].as_string()) == flt.digest
                    for name in ("blake3", *EXTRA_ALGORITHMS)
                ),
            )
        )
    return query.order_by(col(Evidence.created_at), col(Evidence.id))


def list_manifests(
    ctx: AppContext, principal: Principal, flt: EvidenceFilter
) -> list[dict[str, Any]]:
    """Every manifest ``flt`` selects among those ``principal`` may see, oldest first.
    The caller records the read of what it returns (``audit_evidence_read``)."""
    from custodyd.daemon.acquisition import manifest_of

    query = _selected(principal, flt)
    if query is None:
        return []
    with ctx.session() as session:
        return [manifest_of(ev, case) for ev, case in session.exec(query).all()]


def evidence_page(
    ctx: AppContext, principal: Principal, flt: EvidenceFilter, *, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the manifests the caller may see, oldest first, selected in SQL.

    Returns the page and the next offset (None on the last page). Only the page's
    rows (plus one, to know whether another page follows) are read.
    """
    from custodyd.daemon.acquisition import manifest_of

    query = _selected(principal, flt)
    if query is None:
        return [], None
    with ctx.session() as session:
        rows = session.exec(query.offset(offset).limit(limit + 1)).all()
        found = [manifest_of(ev, case) for ev, case in rows]
    return found[:limit], (offset + limit if len(found) > limit else None)
