"""Small shared helpers: calendar days from the clock, and custody-ledger records.

A lifecycle step of an order or a transfer is one ledger entry **per evidence item
it covers** (so ``ledger.history(evidence_id)`` tells an item's whole story), or one
case-level entry when it covers no item yet (a whole-case order on an empty case).
Ledger entries are *staged* in the step's own database transaction (the ledger's
outbox, :meth:`Ledger.stage`) and appended once it committed (``ctx.ledger.flush_pending()``):
the change and its ledger entries land together or not at all, even across a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, TypeVar

from sqlmodel import Session

from custodyd.daemon.clock import Clock
from custodyd.daemon.context import AppContext

SYSTEM_ACTOR = "system:custodyd"


def today(clock: Clock) -> date:
    return clock.now().astimezone(UTC).date()


def start_of(day: date) -> datetime:
    """00:00 UTC of ``day``."""
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def end_of(day: date) -> datetime:
    """The instant ``day`` is over (00:00 UTC of the next day): deadlines run to here."""
    return start_of(day + timedelta(days=1))


def record(
    ctx: AppContext,
    session: Session,
    action: str,
    *,
    actor: str,
    case_ref: str | None,
    evidence_ids: Iterable[str],
    payload: Mapping[str, Any],
) -> int:
    """Stage ``action`` once per evidence item (or once for the case) in ``session``.

    The caller flushes (``ctx.ledger.flush_pending()``) after the session committed.
    """
    from custodyd.daemon.ledger.service import Event

    ids: list[str | None] = [*sorted(set(evidence_ids))] or [None]
    events = [Event(action, actor, case_ref, evidence_id, dict(payload)) for evidence_id in ids]
    ctx.ledger.stage(session, events)  # one batch: all entries of a step, or none
    return len(events)


class Subject(Protocol):
    """The answer about an order or a transfer: which case and items it concerns."""

    @property
    def case(self) -> str: ...

    @property
    def evidence(self) -> list[str]: ...


Row = TypeVar("Row")
View = TypeVar("View", bound=Subject)


def recorded_step(
    ctx: AppContext,
    action: str,
    *,
    actor: str,
    load: Callable[[Session], Row],
    change: Callable[[Session, Row], Mapping[str, Any]],
    view: Callable[[Session, Row], View],
    payload: Callable[[Row, Mapping[str, Any]], Mapping[str, Any]],
    after: Callable[[Session, Row, View], None] | None = None,
) -> View:
    """One lifecycle step of an order or a transfer, in one transaction: ``load`` the row,
    ``change`` it (validating first; returns what the ledger entry adds), record ``action``
    for each item it covers with ``payload(row, added)``, run ``after`` (an alert into the
    outbox) in the same transaction; the entries are appended once it committed."""
    with ctx.session() as session:
        row = load(session)
        added = change(session, row)
        session.add(row)
        session.flush()
        result = view(session, row)
        record(
            ctx,
            session,
            action,
            actor=actor,
            case_ref=result.case,
            evidence_ids=result.evidence,
            payload=payload(row, added),
        )
        if after is not None:
            after(session, row, result)
    ctx.ledger.flush_pending()
    return result


def record_access(
    ctx: AppContext, action: str, *, actor: str, what: str, subject: Subject, detail: dict[str, Any]
) -> None:
    """Record that ``actor`` read ``subject`` (``order.accessed``, ``transfer.accessed``)."""
    from custodyd.daemon.auth.audit import record_read

    record_read(
        ctx,
        action,
        actor=actor,
        what=what,
        case=subject.case,
        evidence=subject.evidence,
        detail=detail,
    )


class Listed(Protocol):
    @property
    def id(self) -> int: ...


Item = TypeVar("Item", bound=Listed)


def audited_page(
    ctx: AppContext,
    fetch: Callable[[Session, int], list[Item]],
    *,
    offset: int,
    limit: int,
    action: str,
    actor: str,
    what: str,
    case_ref: str | None,
    evidence_id: str | None = None,
) -> tuple[list[Item], int | None]:
    """One page of a list (``fetch(session, limit)`` from ``offset``) and the next offset
    (None on the last page); the read of a non-empty page is recorded as ``action``
    with the ids it showed (``<what minus s>_ids``: ``order_ids``, ``transfer_ids``)."""
    from custodyd.daemon.auth.audit import record_read

    with ctx.session() as session:
        rows = fetch(session, limit + 1)  # one more: is there a next page?
    items = rows[:limit]
    if items:
        record_read(
            ctx,
            action,
            actor=actor,
            what=what,
            case=case_ref,
            evidence=evidence_id,
            detail={f"{what.removesuffix('s')}_ids": [i.id for i in items]},
        )
    return items, (offset + limit if len(rows) > limit else None)
