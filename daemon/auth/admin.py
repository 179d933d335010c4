"""Access-control changes, each recorded in the ledger (who granted what to whom, when).

Users added or disabled, tokens issued or revoked, case members added or removed
are not custody events of one item, but they decide who could read and move
evidence; a court may ask. The CLI and the API both call these functions, so a
change is recorded identically whichever way it was made (tested by
``tests/api/test_parity.py``). Each change and its ledger entry commit together
(the ledger outbox, :func:`custodyd.daemon.ledger.staged.staged`). The secret of a
token never enters the ledger (only its name, role and cases).

Entries:

- ``user.added`` ``{user, role}``; ``user.disabled`` ``{user}`` (first time only)
- ``token.created`` ``{token, role, cases, user}``; ``token.revoked`` ``{token}``
  (first time only)
- ``case.member_set`` (case = the case) ``{kind, name, role}``;
  ``case.member_removed`` (case = the case) ``{kind, name}``
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlmodel import Session

from custodyd.daemon.auth.members import remove_member_unrecorded, set_member_unrecorded
from custodyd.daemon.auth.tokens import (
    NewToken,
    create_token_unrecorded,
    find_token,
    revoke_token_unrecorded,
)
from custodyd.daemon.auth.users import add_user_unrecorded, disable_user_unrecorded, get_user
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import NotFound
from custodyd.daemon.ledger.service import Event
from custodyd.daemon.ledger.staged import staged
from custodyd.daemon.models import ApiToken, User
from custodyd.daemon.names import clip, echo

MemberKind = Literal["user", "token"]


def add_user(ctx: AppContext, actor: str, name: str, role: str) -> User:
    with staged(ctx) as (session, events):
        user = add_user_unrecorded(session, ctx.clock, name, role)
        events.append(Event("user.added", actor, payload={"user": user.name, "role": user.role}))
    return user


def disable_user(ctx: AppContext, actor: str, name: str) -> User:
    """Disable user ``name`` (idempotent; the ledger records the first time only)."""
    with staged(ctx) as (session, events):
        was_active = not get_user(session, name).disabled
        user = disable_user_unrecorded(session, name)
        if was_active:
            events.append(Event("user.disabled", actor, payload={"user": user.name}))
    return user


def create_token(
    ctx: AppContext,
    actor: str,
    *,
    role: str,
    cases: Sequence[str] = (),
    name: str | None = None,
    user: str | None = None,
) -> NewToken:
    with staged(ctx) as (session, events):
        new = create_token_unrecorded(
            session, ctx.clock, role=role, cases=cases, name=name, user=user
        )
        events.append(
            Event(
                "token.created",
                actor,
                payload={
                    "token": new.token.name,
                    "role": new.token.role,
                    "cases": list(dict.fromkeys(cases)),
                    "user": user,
                },
            )
        )
    return new


def revoke_token(ctx: AppContext, actor: str, name: str) -> ApiToken:
    """Revoke token ``name`` (idempotent; the ledger records the first revocation only)."""
    with staged(ctx) as (session, events):
        existing = find_token(session, name)
        was_active = existing is not None and existing.revoked_at is None
        token = revoke_token_unrecorded(session, ctx.clock, name)
        if was_active:
            events.append(Event("token.revoked", actor, payload={"token": token.name}))
    return token


def _member_ids(session: Session, kind: str, name: str) -> dict[str, Any]:
    if kind == "user":
        return {"user_id": get_user(session, name).id}
    if kind == "token":
        token = find_token(session, name)
        if token is None:
            raise NotFound(f"no token {echo(name)}", token=clip(name))
        return {"token_id": token.id}
    raise NotFound(f"no member kind {echo(kind)} (user or token)")


def set_member(
    ctx: AppContext, actor: str, case_ref: str, kind: MemberKind, name: str, role: str
) -> dict[str, str]:
    """Make user/token ``name`` a member of ``case_ref`` with ``role`` (or change its role)."""
    with staged(ctx) as (session, events):
        member = set_member_unrecorded(
            session, ctx.clock, case_ref, role=role, **_member_ids(session, kind, name)
        )
        events.append(
            Event(
                "case.member_set",
                actor,
                case=case_ref,
                payload={"kind": kind, "name": name, "role": member.role},
            )
        )
    return {"case": case_ref, "kind": kind, "name": name, "role": member.role}


def remove_member(ctx: AppContext, actor: str, case_ref: str, kind: MemberKind, name: str) -> None:
    """Remove user/token ``name`` from ``case_ref`` (404 when it is not a member)."""
    with staged(ctx) as (session, events):
        remove_member_unrecorded(session, case_ref, **_member_ids(session, kind, name))
        events.append(
            Event("case.member_removed", actor, case=case_ref, payload={"kind": kind, "name": name})
        )
