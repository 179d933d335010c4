"""Custody transfers: a physical hand-over recorded as a new ledger entry, never an edit.

``custody.transferred`` names who handed the item over (``from``), who took it
(``to``), why, where, and when it happened: earlier than the entry or up to
:data:`CLOCK_SKEW` later, never before the item was acquired
(:func:`check_plausible`). The entry's own ``actor`` and ``time`` say who recorded
it and when.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, InvalidInput, NotFound
from custodyd.daemon.ledger import LedgerEntry
from custodyd.daemon.ledger.entry import format_time
from custodyd.daemon.models import Case, Evidence

TRANSFERRED = "custody.transferred"
CLOCK_SKEW = timedelta(minutes=5)
CLOCK_SKEW_TEXT = "5 minutes"


def _text(value: str, what: str, limit: int = 500) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise InvalidInput(f"{what} must be 1-{limit} characters")
    return value


def check_plausible(happened: datetime, *, acquired: datetime, now: datetime) -> None:
    """A hand-over happens after the item came to be (its acquisition began) and not
    after now, give or take :data:`CLOCK_SKEW` between the recording clocks; anything
    else (``0001-01-01``, next year) is back- or forward-dating: :class:`InvalidInput`."""
    if happened > now + CLOCK_SKEW:
        raise InvalidInput(
            f"transfer time {format_time(happened)} is in the future "
            f"(now is {format_time(now)} UTC, {CLOCK_SKEW_TEXT} of clock skew allowed)"
        )
    if happened < acquired:
        raise InvalidInput(
            f"transfer time {format_time(happened)} is before the item was acquired "
            f"({format_time(acquired)} UTC); custody of it cannot have changed hands then"
        )


def record_transfer(
    ctx: AppContext,
    evidence_id: str,
    *,
    actor: str,
    from_party: str,
    to_party: str,
    reason: str,
    location: str,
    when: datetime | None = None,
) -> LedgerEntry:
    """Append ``custody.transferred`` for ``evidence_id`` (which must exist, not disposed)."""
    with ctx.session() as session:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None:
            raise NotFound(f"no evidence {evidence_id!r}", evidence=evidence_id)
        if evidence.status == "disposed":
            raise Conflict(f"evidence {evidence_id!r} was disposed; it cannot change hands")
        from custodyd.daemon.orders.transfers import assert_may_hand_over

        assert_may_hand_over(session, evidence_id, to_party)  # art. 57: received data
        case = session.get(Case, evidence.case_id)
        case_ref = case.ref if case else None
        acquired = utc(evidence.created_at)
    now = ctx.clock.now()
    happened = utc(when) if when is not None else now
    check_plausible(happened, acquired=acquired, now=now)
    payload = {
        "from": _text(from_party, "from"),
        "to": _text(to_party, "to"),
        "reason": _text(reason, "reason", 2000),
        "location": _text(location, "location"),
        "transferred_at": happened,
    }
    if payload["from"] == payload["to"]:
        raise InvalidInput("'from' and 'to' name the same party; that is not a transfer")
    return ctx.ledger.append(
        TRANSFERRED, actor=actor, case=case_ref, evidence=evidence_id, payload=payload
    )
