"""First start: an admin token written to ``$CUSTODYD_HOME/admin.token`` (mode 0600)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from custodyd.daemon.auth.roles import ADMIN
from custodyd.daemon.auth.tokens import create_token_unrecorded, find_token
from custodyd.daemon.context import AppContext
from custodyd.daemon.durable import write_atomic
from custodyd.daemon.ledger.service import Event
from custodyd.daemon.ledger.staged import staged
from custodyd.daemon.models import ApiToken

ADMIN_TOKEN_FILE = "admin.token"


def ensure_admin_token(ctx: AppContext) -> Path | None:
    """Create an admin token when no active one exists; return the file it was written to.

    Returns ``None`` when an active admin token already exists (its secret is not
    known any more; ``custodyd tokens create --role admin`` makes another). The
    file is created 0600 before the secret is written, so it is never readable by
    others, and the database row is committed only after the file is on disk, together
    with its ledger entry ``token.created`` (never the secret; the ledger outbox).
    """
    path = ctx.settings.home / ADMIN_TOKEN_FILE
    with staged(ctx) as (session, events):
        active = session.exec(
            select(ApiToken)
            .where(ApiToken.role == ADMIN)
            .where(col(ApiToken.revoked_at).is_(None))
            .limit(1)
        ).first()
        if active is not None:
            return None
        name = "admin"
        suffix = 1
        while find_token(session, name) is not None:  # an earlier admin token was revoked
            suffix += 1
            name = f"admin-{suffix}"
        new = create_token_unrecorded(session, ctx.clock, role=ADMIN, name=name)
        ctx.settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, (new.secret + "\n").encode("ascii"), mode=0o600)
        events.append(
            Event(
                "token.created",
                "system:custodyd",
                payload={"token": new.token.name, "role": ADMIN, "cases": [], "file": str(path)},
            )
        )
    return path
