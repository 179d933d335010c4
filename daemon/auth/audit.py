"""Audited reads: every read of custody history or evidence metadata is a ledger entry.

The access log *is* the ledger: ``history.read`` (custody timelines) and
``evidence.accessed`` (manifests, inventories, logs, lists) entries name who
read what and when, so the signed checkpoints and inclusion proofs cover the
access log exactly as they cover custody events, and nobody can remove a read
afterwards. The entry is appended (durably) before the data is returned: a read
that could not be recorded is refused.

The item and case read are named in the payload (``case``, ``evidence``), not in
the entry's own ``case``/``evidence`` fields: a custody timeline lists custody
events, and must not grow with every look at it (ledger entries are visible by
the payload's case too; see :mod:`custodyd.daemon.auth.visibility`).

Group commit: concurrent reads are queued to one writer thread per context,
which appends whatever has gathered as one batch (one transaction, one fsync,
one signed checkpoint; :meth:`Ledger.append_many`). Each caller still waits
until its own entry is durable, so nothing is answered unrecorded; under load
the cost of durability is shared instead of serialized.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, Final

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import ServiceUnavailable
from custodyd.daemon.ledger import Event, LedgerEntry

HISTORY_READ: Final = "history.read"
EVIDENCE_ACCESSED: Final = "evidence.accessed"

MAX_BATCH = 500
IDLE_SECONDS = 10.0
WAIT_SECONDS = 60.0


class _AuditWriter:
    """One thread appending queued access entries in batches for one context."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.pending: queue.SimpleQueue[tuple[Event, Future[LedgerEntry]]] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)

    def _run(self) -> None:
        while True:
            try:
                first = self.pending.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with _lock:  # nothing arrives while we decide to stop
                    if self.pending.empty():
                        _writers.pop(id(self.ctx), None)
                        return
                continue
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.pending.get_nowait())
                except queue.Empty:
                    break
            try:
                entries = self.ctx.ledger.append_many([event for event, _ in batch])
            except BaseException as exc:  # every waiter learns its read was not recorded
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), entry in zip(batch, entries, strict=True):
                future.set_result(entry)


_writers: dict[int, _AuditWriter] = {}
_lock = threading.Lock()


def _submit(ctx: AppContext, event: Event) -> Future[LedgerEntry]:
    future: Future[LedgerEntry] = Future()
    with _lock:
        writer = _writers.get(id(ctx))
        if writer is None or writer.ctx is not ctx:
            writer = _writers[id(ctx)] = _AuditWriter(ctx)
            writer.thread.start()
        writer.pending.put((event, future))
    return future


def access_event(
    action: str,
    *,
    actor: str,
    what: str,
    case: str | None = None,
    evidence: str | list[str] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Event:
    payload: dict[str, Any] = {"what": what, "case": case, "evidence": evidence}
    if detail:
        payload.update(detail)
    return Event(action, actor, None, None, payload)


def submit_read(ctx: AppContext, event: Event) -> Future[LedgerEntry]:
    """Queue an access entry; the future resolves once it is durable (async callers)."""
    return _submit(ctx, event)


def custody_read(actor: str, *, case: str, evidence: str | None = None) -> Event:
    """The ``history.read`` entry for reading the custody timeline of an item (or a case).

    The one definition the CLI (``custodyd history``) and the API
    (``GET /v1/evidence/{id}/custody``, ``GET /v1/cases/{ref}/custody``) both record.
    """
    what = "custody" if evidence is not None else "case custody"
    return access_event(HISTORY_READ, actor=actor, what=what, case=case, evidence=evidence)


def record_event(ctx: AppContext, event: Event) -> LedgerEntry:
    """Append access entry ``event``; return once it is durable.

    Raises :class:`ServiceUnavailable` when it could not be recorded in time (the
    read must then be refused).
    """
    future = _submit(ctx, event)
    try:
        return future.result(timeout=WAIT_SECONDS)
    except TimeoutError as exc:
        raise ServiceUnavailable("the access could not be recorded in the ledger in time") from exc


def record_read(
    ctx: AppContext,
    action: str,
    *,
    actor: str,
    what: str,
    case: str | None = None,
    evidence: str | list[str] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """Append one access entry (``what`` names the resource read, e.g. ``manifest``)."""
    event = access_event(
        action, actor=actor, what=what, case=case, evidence=evidence, detail=detail
    )
    return record_event(ctx, event)
