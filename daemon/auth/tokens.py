"""API tokens: created (secret returned once), authenticated by digest, revoked.

The secret leaves this module exactly once, in the return value of
:func:`create_token_unrecorded`; the database holds its SHA-256 digest only.
"""

from __future__ import annotations

import secrets as _random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from custodyd.daemon.auth import secret as token_secret
from custodyd.daemon.auth.members import case_refs_for, set_member_unrecorded
from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.roles import check_role
from custodyd.daemon.auth.users import check_name, get_user
from custodyd.daemon.clock import Clock
from custodyd.daemon.db.raw import raw_cursor
from custodyd.daemon.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from custodyd.daemon.models import ApiToken, User
from custodyd.daemon.names import clip, echo


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once; never stored


def find_token(session: Session, name: str) -> ApiToken | None:
    return session.exec(select(ApiToken).where(ApiToken.name == name)).first()


def create_token_unrecorded(
    session: Session,
    clock: Clock,
    *,
    role: str,
    cases: Sequence[str] = (),
    name: str | None = None,
    user: str | None = None,
) -> NewToken:
    """A new token with ``role``, member of ``cases`` (which must exist)."""
    role = check_role(role)
    owner: User | None = None
    if user is not None:
        owner = get_user(session, user)
        if owner.disabled:
            raise InvalidInput(f"user {user!r} is disabled")
        if owner.role != role:
            raise InvalidInput(
                f"user {user!r} has role {owner.role!r}; a token of theirs cannot be {role!r}"
            )
    name = check_name(name, "token name") if name is not None else f"{role}-{_random.token_hex(4)}"
    if find_token(session, name) is not None:
        raise AlreadyExists(f"token {echo(name)} already exists", token=name)
    secret = token_secret.new_secret()
    token = ApiToken(
        name=name,
        token_hash=token_secret.hash_secret(secret),
        prefix=secret[:10],
        role=role,
        user_id=owner.id if owner else None,
        created_at=clock.now(),
    )
    session.add(token)
    session.flush()
    for case_ref in dict.fromkeys(cases):
        set_member_unrecorded(session, clock, case_ref, role=role, token_id=token.id)
    return NewToken(token=token, secret=secret)


def revoke_token_unrecorded(session: Session, clock: Clock, name: str) -> ApiToken:
    token = find_token(session, name)
    if token is None:
        raise NotFound(f"no token {echo(name)}", token=clip(name))
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        session.add(token)
        session.flush()
    return token


def list_tokens(
    session: Session, *, include_revoked: bool = False, offset: int = 0, limit: int | None = None
) -> list[ApiToken]:
    query = select(ApiToken).order_by(col(ApiToken.id))
    if not include_revoked:
        query = query.where(col(ApiToken.revoked_at).is_(None))
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def principal_for(session: Session, token: ApiToken) -> Principal:
    owner = session.get(User, token.user_id) if token.user_id is not None else None
    actor = f"user:{owner.name}" if owner else f"token:{token.name}"
    refs = case_refs_for(session, user_id=token.user_id, token_id=token.id)
    return Principal(
        actor=actor,
        role=token.role,
        case_refs=refs,
        token_id=token.id,
        user_id=token.user_id,
        token_name=token.name,
    )


def authenticate(session: Session, secret: str) -> Principal:
    """The principal for a presented secret, or :class:`Unauthenticated` (never says why)."""
    invalid = Unauthenticated("the bearer token is not valid")
    if not secret.startswith(token_secret.TOKEN_PREFIX) or len(secret) > 200:
        raise invalid
    digest = token_secret.hash_secret(secret)
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if token is None or token.revoked_at is not None:
        raise invalid
    if not token_secret.matches(secret, token.token_hash):  # belt and braces, constant time
        raise invalid
    if token.user_id is not None:
        owner = session.get(User, token.user_id)
        if owner is None or owner.disabled:
            raise invalid
    return principal_for(session, token)


def authenticate_fast(engine: Engine, secret: str) -> Principal:
    """:func:`authenticate` in two driver-level queries (the API's per-request path).

    Same answer, same refusals (revoked token, disabled or missing owner), nothing
    cached: a revocation or membership change takes effect on the next request.
    """
    invalid = Unauthenticated("the bearer token is not valid")
    if not secret.startswith(token_secret.TOKEN_PREFIX) or len(secret) > 200:
        raise invalid
    digest = token_secret.hash_secret(secret)
    with raw_cursor(engine) as (cursor, p):
        cursor.execute(
            "SELECT t.id, t.name, t.role, t.token_hash, t.revoked_at, t.user_id, u.name,"
            " u.disabled FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id"
            f" WHERE t.token_hash = {p}",
            (digest,),
        )
        row = cursor.fetchone()
        if row is None:
            raise invalid
        token_id, name, role, stored, revoked_at, user_id, owner, disabled = row
        if revoked_at is not None or not token_secret.matches(secret, stored):
            raise invalid
        if user_id is not None and (owner is None or disabled):
            raise invalid
        cursor.execute(
            "SELECT c.ref FROM cases c JOIN case_members m ON m.case_id = c.id"
            f" WHERE m.token_id = {p} OR (m.user_id IS NOT NULL AND m.user_id = {p})",
            (token_id, user_id),
        )
        refs = frozenset(r[0] for r in cursor.fetchall())
    return Principal(
        actor=f"user:{owner}" if user_id is not None else f"token:{name}",
        role=role,
        case_refs=refs,
        token_id=token_id,
        user_id=user_id,
        token_name=name,
    )
