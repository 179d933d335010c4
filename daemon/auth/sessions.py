"""Console sessions: a browser signs in once with an API token and then holds a session.

Why a server-side session rather than the token in a cookie: the token is a
long-lived secret that must never sit in a browser's cookie jar or a page; the
session secret is short-lived, stored here only as a SHA-256 digest, and ends at
sign-out, at expiry, or as soon as its token is revoked or its user disabled
(checked on every use, so there is no window). A session acts exactly as its
token: the same :class:`Principal`, the same roles and cases, the same audited
reads. Opening and ending a session are ledger entries (``session.started``,
``session.ended``) naming the token, never a secret.

CSRF: each session has one anti-forgery value derived from its secret
(:func:`csrf_for`). Only a page served to the session's holder can know it, so
a form or a request carrying it was made by our own page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlmodel import Session, select

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.tokens import authenticate, principal_for
from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import InvalidInput, Unauthenticated
from custodyd.daemon.ledger import Event
from custodyd.daemon.models import ApiToken, ConsoleSession, User

SESSION_PREFIX: Final = "cds_"
SESSION_STARTED: Final = "session.started"
SESSION_ENDED: Final = "session.ended"
MAX_SECRET = 200


@dataclass(frozen=True)
class NewSession:
    secret: str  # goes into the cookie only
    principal: Principal
    expires_at: datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_for(secret: str) -> str:
    """The session's anti-forgery value (derived, so nothing more is stored)."""
    return hmac.new(secret.encode("utf-8"), b"custodyd console csrf", hashlib.sha256).hexdigest()


def csrf_matches(secret: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_for(secret), presented)


def _session_ref(row: ConsoleSession) -> str:
    """How the ledger names a session: its id and the first characters of its digest."""
    return f"{row.id}:{row.session_hash[:12]}"


def start_session(ctx: AppContext, token_secret: str, *, minutes: int) -> NewSession:
    """Open a session for the holder of ``token_secret``; ledger ``session.started``."""
    if minutes < 1:
        raise InvalidInput("a console session must last at least one minute")
    now = ctx.clock.now()
    secret = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = now + timedelta(minutes=minutes)
    with ctx.session() as session:
        principal = authenticate(session, token_secret.strip())
        assert principal.token_id is not None
        row = ConsoleSession(
            session_hash=_digest(secret),
            token_id=principal.token_id,
            created_at=now,
            expires_at=expires,
        )
        session.add(row)
        session.flush()
        event = Event(
            SESSION_STARTED,
            principal.actor,
            payload={
                "session": _session_ref(row),
                "token": principal.token_name,
                "expires_at": utc(expires).isoformat(),
            },
        )
        ctx.ledger.stage(session, [event])
    ctx.ledger.flush_pending()
    return NewSession(secret=secret, principal=principal, expires_at=expires)


def _live_row(session: Session, secret: str, now: datetime) -> ConsoleSession:
    invalid = Unauthenticated("the console session has ended; sign in again")
    if not secret.startswith(SESSION_PREFIX) or len(secret) > MAX_SECRET:
        raise invalid
    row = session.exec(
        select(ConsoleSession).where(ConsoleSession.session_hash == _digest(secret))
    ).first()
    if row is None or row.ended_at is not None or utc(row.expires_at) <= utc(now):
        raise invalid
    return row


def session_principal(ctx: AppContext, secret: str) -> Principal:
    """Who holds session ``secret``; :class:`Unauthenticated` when it is not live.

    A session is live while not ended, not expired, its token not revoked and the
    token's user (if any) not disabled.
    """
    with ctx.session() as session:
        row = _live_row(session, secret, ctx.clock.now())
        token = session.get(ApiToken, row.token_id)
        if token is None or token.revoked_at is not None:
            raise Unauthenticated("the token of this console session was revoked; sign in again")
        if token.user_id is not None:
            owner = session.get(User, token.user_id)
            if owner is None or owner.disabled:
                raise Unauthenticated("the user of this console session is disabled")
        return principal_for(session, token)


def end_session(ctx: AppContext, secret: str, *, reason: str = "signed out") -> bool:
    """End session ``secret`` (sign-out); ledger ``session.ended``. False if not live."""
    with ctx.session() as session:
        try:
            row = _live_row(session, secret, ctx.clock.now())
        except Unauthenticated:
            return False
        token = session.get(ApiToken, row.token_id)
        principal = principal_for(session, token) if token is not None else None
        row.ended_at = ctx.clock.now()
        session.add(row)
        actor = principal.actor if principal else "system:custodyd"
        payload = {"session": _session_ref(row), "reason": reason}
        ctx.ledger.stage(session, [Event(SESSION_ENDED, actor, payload=payload)])
    ctx.ledger.flush_pending()
    return True
