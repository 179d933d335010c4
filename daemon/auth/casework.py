"""Cases as a caller sees them: created with a ledger entry, listed per membership."""

from __future__ import annotations

from sqlmodel import Session, col, select

from custodyd.daemon.auth.members import set_member_unrecorded
from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.cases import close_case_unrecorded, create_case_unrecorded, find_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import NotFound
from custodyd.daemon.ledger.service import Event
from custodyd.daemon.ledger.staged import staged
from custodyd.daemon.models import Case
from custodyd.daemon.names import clip, echo


def create_case(ctx: AppContext, principal: Principal, ref: str, title: str = "") -> Case:
    """Create case ``ref``; a non-admin creator becomes a member; ledger ``case.created``.

    A case that exists but that the caller may not see answers exactly as a read of
    it would (404 "no case"), never "already exists": the answer must not confirm
    that someone else's case is there (refs are unique, so it cannot be created
    either). Callers who can see it get the 409.

    The case row and its ledger entry commit together (the ledger outbox).
    """
    with staged(ctx) as (session, events):
        if not principal.can_read_case(ref) and find_case(session, ref) is not None:
            visible_case(session, principal, ref)  # the very 404 a GET of it answers
        case = create_case_unrecorded(session, ctx.clock, ref, title)
        if not principal.is_admin:
            if principal.user_id is not None:
                set_member_unrecorded(
                    session, ctx.clock, case.ref, role=principal.role, user_id=principal.user_id
                )
            elif principal.token_id is not None:
                set_member_unrecorded(
                    session, ctx.clock, case.ref, role=principal.role, token_id=principal.token_id
                )
        events.append(
            Event("case.created", principal.actor, case=case.ref, payload={"title": case.title})
        )
    return case


def close_case(ctx: AppContext, principal: Principal, ref: str) -> Case:
    """Close ``ref`` (idempotent); ledger ``case.closed`` the first time."""
    with staged(ctx) as (session, events):
        case = visible_case(session, principal, ref)
        was_open = case.status != "closed"
        case = close_case_unrecorded(session, ctx.clock, ref)
        if was_open:
            events.append(Event("case.closed", principal.actor, case=case.ref))
    return case


def visible_case(session: Session, principal: Principal, ref: str) -> Case:
    """Case ``ref`` if ``principal`` may see it; the same 404 whether missing or hidden."""
    case = find_case(session, ref) if principal.can_read_case(ref) else None
    if case is None:
        raise NotFound(f"no case {echo(ref)}", case=clip(ref))
    return case


def visible_cases(
    session: Session, principal: Principal, *, offset: int = 0, limit: int = 100
) -> list[Case]:
    query = select(Case).order_by(col(Case.id))
    if not principal.is_admin:
        query = query.where(col(Case.ref).in_(sorted(principal.case_refs)))
    return list(session.exec(query.offset(offset).limit(limit)))
