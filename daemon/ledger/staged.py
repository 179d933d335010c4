"""``staged(ctx)``: a domain change and its ledger entries in one transaction.

The pattern of the ledger outbox (README "Ledger outbox") in one place: the
caller changes rows through the session and lists the ledger events the change
means; the events are staged (:meth:`Ledger.stage`) in the same transaction, so
both commit or neither does, and they are appended (:meth:`Ledger.flush_pending`)
right after the commit. A crash in between is repaired by the next process that
opens the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlmodel import Session

if TYPE_CHECKING:
    from custodyd.daemon.ledger.host import StagingHost
    from custodyd.daemon.ledger.service import Event


@contextmanager
def staged(ctx: StagingHost) -> Iterator[tuple[Session, list[Event]]]:
    """Yield ``(session, events)``; append to ``events`` what the change records.

    On a clean exit the events are staged and the session committed, then the
    ledger is flushed; on an exception nothing is committed and nothing recorded.
    """
    events: list[Event] = []
    with ctx.session() as session:
        yield session, events
        if events:
            ctx.ledger.stage(session, events)
    if events:
        ctx.ledger.flush_pending()
