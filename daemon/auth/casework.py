"""Cases as a caller sees them: created with a ledger entry, listed per membership."""

from __future__ import annotations

from sqlmodel import Session, col, select

from custodyd.daemon.auth.members import add_member
from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.cases import close_case, create_case, find_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import NotFound
from custodyd.daemon.models import Case


def open_case(ctx: AppContext, principal: Principal, ref: str, title: str = "") -> Case:
    """Create case ``ref``; a non-admin creator becomes a member; ledger ``case.created``.

    The case row is committed before the ledger append (the ledger takes its own
    write lock and must not wait on our uncommitted transaction).
    """
    with ctx.session() as session:
        case = create_case(session, ctx.clock, ref, title)
        if not principal.is_admin:
            if principal.user_id is not None:
                add_member(
                    session, ctx.clock, case.ref, role=principal.role, user_id=principal.user_id
                )
            elif principal.token_id is not None:
                add_member(
                    session, ctx.clock, case.ref, role=principal.role, token_id=principal.token_id
                )
    ctx.ledger.append(
        "case.created", actor=principal.actor, case=case.ref, payload={"title": case.title}
    )
    return case


def shut_case(ctx: AppContext, principal: Principal, ref: str) -> Case:
    """Close ``ref`` (idempotent); ledger ``case.closed`` the first time."""
    with ctx.session() as session:
        case = visible_case(session, principal, ref)
        was_open = case.status != "closed"
        case = close_case(session, ctx.clock, ref)
    if was_open:
        ctx.ledger.append("case.closed", actor=principal.actor, case=case.ref)
    return case


def visible_case(session: Session, principal: Principal, ref: str) -> Case:
    """Case ``ref`` if ``principal`` may see it; the same 404 whether missing or hidden."""
    case = find_case(session, ref) if principal.can_read_case(ref) else None
    if case is None:
        raise NotFound(f"no case {ref!r}", case=ref)
    return case


def visible_cases(
    session: Session, principal: Principal, *, offset: int = 0, limit: int = 100
) -> list[Case]:
    query = select(Case).order_by(col(Case.id))
    if not principal.is_admin:
        query = query.where(col(Case.ref).in_(sorted(principal.case_refs)))
    return list(session.exec(query.offset(offset).limit(limit)))
