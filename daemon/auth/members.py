"""Per-case membership: which users and tokens may see which cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, or_, select

from custodyd.daemon.auth.roles import check_role
from custodyd.daemon.cases import get_case
from custodyd.daemon.clock import Clock
from custodyd.daemon.errors import InvalidInput, NotFound
from custodyd.daemon.models import ApiToken, Case, CaseMember, User
from custodyd.daemon.names import clip, echo


@dataclass(frozen=True)
class Member:
    case: str
    kind: str  # user | token
    name: str
    role: str


def _member_filter(user_id: int | None, token_id: int | None) -> Any:
    if (user_id is None) == (token_id is None):
        raise InvalidInput("a case member is exactly one user or one token")
    if user_id is not None:
        return CaseMember.user_id == user_id
    return CaseMember.token_id == token_id


def set_member_unrecorded(
    session: Session,
    clock: Clock,
    case_ref: str,
    *,
    role: str,
    user_id: int | None = None,
    token_id: int | None = None,
) -> CaseMember:
    """Make a user or a token a member of ``case_ref`` (idempotent; the role is updated)."""
    role = check_role(role)
    case = get_case(session, case_ref)
    existing = session.exec(
        select(CaseMember)
        .where(CaseMember.case_id == case.id)
        .where(_member_filter(user_id, token_id))
    ).first()
    if existing is not None:
        existing.role = role
        session.add(existing)
        session.flush()
        return existing
    member = CaseMember(
        case_id=case.id or 0, user_id=user_id, token_id=token_id, role=role, added_at=clock.now()
    )
    session.add(member)
    session.flush()
    return member


def remove_member_unrecorded(
    session: Session, case_ref: str, *, user_id: int | None = None, token_id: int | None = None
) -> None:
    case = get_case(session, case_ref)
    member = session.exec(
        select(CaseMember)
        .where(CaseMember.case_id == case.id)
        .where(_member_filter(user_id, token_id))
    ).first()
    if member is None:
        raise NotFound(f"not a member of case {echo(case_ref)}", case=clip(case_ref))
    session.delete(member)
    session.flush()


def case_refs_for(session: Session, *, user_id: int | None, token_id: int | None) -> frozenset[str]:
    """Cases a token (and the user owning it) is a member of."""
    conditions = []
    if user_id is not None:
        conditions.append(CaseMember.user_id == user_id)
    if token_id is not None:
        conditions.append(CaseMember.token_id == token_id)
    if not conditions:
        return frozenset()
    rows = session.exec(
        select(Case.ref)
        .join(CaseMember, col(CaseMember.case_id) == col(Case.id))
        .where(or_(*conditions))
    )
    return frozenset(rows)


def list_members(session: Session, case_ref: str) -> list[Member]:
    case = get_case(session, case_ref)
    members: list[Member] = []
    rows = session.exec(
        select(CaseMember).where(CaseMember.case_id == case.id).order_by(col(CaseMember.id))
    )
    for row in rows:
        if row.user_id is not None:
            user = session.get(User, row.user_id)
            members.append(Member(case_ref, "user", user.name if user else "?", row.role))
        elif row.token_id is not None:
            token = session.get(ApiToken, row.token_id)
            members.append(Member(case_ref, "token", token.name if token else "?", row.role))
    return members
