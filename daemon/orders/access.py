"""Who may see preservation orders, transfers and retention (the domain's rule; the API
and the console only ask it).

Compliance officers and admins see every order, transfer and item's retention; anyone
else sees those of the cases they are members of (investigators read the orders of
their cases). Confidential orders follow the same rule — never wider — plus
need-to-know (:func:`~custodyd.daemon.orders.confidentiality.may_know`). Whatever a
caller may not see is reported exactly like something that does not exist (404).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.roles import ADMIN, COMPLIANCE
from custodyd.daemon.auth.visibility import evidence_case
from custodyd.daemon.errors import NotFound
from custodyd.daemon.models import Case


def sees_all(principal: Principal) -> bool:
    return principal.role in (COMPLIANCE, ADMIN)


def can_see(principal: Principal, case_ref: str | None) -> bool:
    return sees_all(principal) or principal.can_read_case(case_ref)


def only_visible(query: Any, principal: Principal | None) -> Any:
    """``query`` (joined with :class:`Case`) narrowed in SQL to the cases ``principal`` sees
    (unchanged for None: the CLI's operator sees everything)."""
    if principal is None or sees_all(principal):
        return query
    return query.where(col(Case.ref).in_(sorted(principal.case_refs)))


def retention_case(session: Session, principal: Principal, evidence_id: str) -> str:
    """The case of an item whose retention ``principal`` may see; the same 404 as a
    missing item otherwise (compliance sees every item's retention)."""
    ref = evidence_case(session, evidence_id)
    if ref is None or not can_see(principal, ref):
        raise NotFound(f"no evidence item {evidence_id!r}")
    return ref
