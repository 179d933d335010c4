"""What a caller may see: evidence through its case, ledger entries through theirs.

Anything the caller may not see is reported exactly like something that does not
exist (same :class:`NotFound` text), so membership cannot be probed.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.roles import COMPLIANCE
from custodyd.daemon.errors import NotFound
from custodyd.daemon.ledger import LedgerEntry
from custodyd.daemon.models import Case, Evidence
from custodyd.daemon.names import clip, echo


def evidence_case(session: Session, evidence_id: str) -> str | None:
    """The case ref of evidence ``evidence_id`` (None when there is no such item)."""
    row = session.exec(
        select(Case.ref)
        .join(Evidence, col(Evidence.case_id) == col(Case.id))
        .where(Evidence.id == evidence_id)
    ).first()
    return row


def visible_evidence_case(session: Session, principal: Principal, evidence_id: str) -> str:
    """The case ref of an evidence item the caller may see; 404 otherwise."""
    ref = evidence_case(session, evidence_id)
    if ref is None or not principal.can_read_case(ref):
        raise NotFound(f"no evidence {echo(evidence_id)}", evidence=clip(evidence_id))
    return ref


def entry_visible(session: Session, principal: Principal, entry: LedgerEntry) -> bool:
    """Whether ``principal`` may read ledger entry ``entry`` (and its leaf bytes).

    An entry belongs to its ``case``, else to the case of its ``evidence``, else
    to the case named in its payload (audit entries; one naming no single case
    is for admins only). Entries about no case at all
    (access-control changes such as ``token.created`` naming other cases, media
    attached before any acquisition, system events) are for admins and compliance
    only: they would tell anyone else about cases and people outside their cases.
    """
    if principal.is_admin:
        return True
    ref = entry.case
    if ref is None and entry.evidence is not None:
        ref = evidence_case(session, entry.evidence)
        if ref is None:
            return False
    if ref is None and "case" in entry.payload:
        named = entry.payload["case"]
        if not isinstance(named, str):  # an audit entry spanning cases: admins only
            return False
        ref = named
    if ref is None:
        return principal.role == COMPLIANCE
    return principal.can_read_case(ref)


def evidence_directory(session: Session, evidence_id: str) -> Path:
    """The evidence item's directory in the store (manifest, log, inventory, image)."""
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(f"no evidence {echo(evidence_id)}", evidence=clip(evidence_id))
    return Path(evidence.directory)
