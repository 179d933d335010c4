"""Access-control changes, each recorded in the ledger (who granted what to whom, when).

Users added, tokens issued or revoked are not custody events of one item, but
they decide who could read and move evidence; a court may ask. The secret of a
token never enters the ledger (only its name, role and cases).
"""

from __future__ import annotations

from collections.abc import Sequence

from custodyd.daemon.auth.tokens import NewToken, create_token, find_token, revoke_token
from custodyd.daemon.auth.users import add_user
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import ApiToken, User


def enrol_user(ctx: AppContext, actor: str, name: str, role: str) -> User:
    with ctx.session() as session:
        user = add_user(session, ctx.clock, name, role)
    ctx.ledger.append("user.added", actor=actor, payload={"user": user.name, "role": user.role})
    return user


def issue_token(
    ctx: AppContext,
    actor: str,
    *,
    role: str,
    cases: Sequence[str] = (),
    name: str | None = None,
    user: str | None = None,
) -> NewToken:
    with ctx.session() as session:
        new = create_token(session, ctx.clock, role=role, cases=cases, name=name, user=user)
    ctx.ledger.append(
        "token.created",
        actor=actor,
        payload={
            "token": new.token.name,
            "role": new.token.role,
            "cases": list(dict.fromkeys(cases)),
            "user": user,
        },
    )
    return new


def withdraw_token(ctx: AppContext, actor: str, name: str) -> ApiToken:
    """Revoke token ``name`` (idempotent; the ledger records the first revocation only)."""
    with ctx.session() as session:
        existing = find_token(session, name)
        was_active = existing is not None and existing.revoked_at is None
        token = revoke_token(session, ctx.clock, name)
    if was_active:
        ctx.ledger.append("token.revoked", actor=actor, payload={"token": token.name})
    return token
