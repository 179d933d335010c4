"""Audited custody timelines, cheap enough to serve hundreds a second.

The API's custody endpoints read through here: a driver-level visibility check
(the same 404 as a missing item), the ``history.read`` entry queued for the
group-committed audit writer, the requested page read in SQL by keyset on the
leaf index (:meth:`Ledger.timeline`), and the answer assembled from the stored
leaf bytes — each leaf is already the canonical JSON of its entry, so nothing is
decoded and re-encoded, except the few entries about a preservation order, which
a caller who may not know a confidential order sees replaced by a "held" notice
(the orders service's rule). The caller returns the body only once the audit entry is
durable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.context import AppContext
from custodyd.daemon.db.raw import raw_cursor
from custodyd.daemon.errors import NotFound
from custodyd.daemon.names import clip, echo


def visible_evidence_case_fast(ctx: AppContext, principal: Principal, evidence_id: str) -> str:
    """The case of ``evidence_id`` if the caller may see it; else the 404 of a missing item."""
    with raw_cursor(ctx.engine) as (cursor, p):
        cursor.execute(
            f"SELECT c.ref FROM evidence e JOIN cases c ON c.id = e.case_id WHERE e.id = {p}",
            (evidence_id,),
        )
        row = cursor.fetchone()
    if row is None or not principal.can_read_case(row[0]):
        raise NotFound(f"no evidence {echo(evidence_id)}", evidence=clip(evidence_id))
    return str(row[0])


def visible_case_fast(ctx: AppContext, principal: Principal, ref: str) -> None:
    """Nothing if the caller may see case ``ref``; else the 404 of a missing case."""
    found = False
    if principal.can_read_case(ref):
        with raw_cursor(ctx.engine) as (cursor, p):
            cursor.execute(f"SELECT 1 FROM cases WHERE ref = {p}", (ref,))
            found = cursor.fetchone() is not None
    if not found:
        raise NotFound(f"no case {echo(ref)}", case=clip(ref))


@dataclass(frozen=True)
class PageRequest:
    limit: int = 100
    offset: int = 0
    after: int | None = None  # continue after this leaf index (keyset); None: from the start


def timeline_json(
    ctx: AppContext,
    principal: Principal,
    *,
    subject: str,
    case: str,
    evidence_id: str | None,
    page: PageRequest,
) -> bytes:
    """The JSON body of one timeline page: the item's (or, without ``evidence_id``, the
    case's) entries oldest first, ``total``, ``next_after`` and ``next_offset``."""
    found = ctx.ledger.timeline(
        evidence_id=evidence_id,
        case_ref=None if evidence_id is not None else case,
        after=-1 if page.after is None else page.after,
        offset=page.offset,
        limit=page.limit,
    )
    leaves = _as_seen_by(ctx, principal, found.leaves)
    more = found.next_after is not None
    head = {
        "subject": subject,
        "case": case,
        "total": found.total,
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": page.offset + page.limit if more else None,
        "next_after": found.next_after,
    }
    opening = json.dumps(head, separators=(",", ":")).encode()[:-1]
    return opening + b',"items":[' + b",".join(leaves) + b"]}"


def _as_seen_by(ctx: AppContext, principal: Principal, leaves: list[bytes]) -> list[bytes]:
    """The leaves, with entries about a confidential order the caller may not know
    replaced as :func:`custodyd.daemon.orders.redaction.timeline_for` does.

    Only entries that can name an order (``order_id``/``subject_id`` in their bytes)
    are decoded and looked at; a page without any costs a substring scan.
    """
    joined = b"".join(leaves)  # one scan of the page, not two per leaf
    if ORDER_MARK not in joined and ALERT_MARK not in joined:
        return leaves
    suspects = [i for i, leaf in enumerate(leaves) if ORDER_MARK in leaf or ALERT_MARK in leaf]
    from custodyd.daemon.orders.redaction import timeline_for

    entries = [json.loads(leaves[i]) for i in suspects]
    with ctx.session() as session:
        shown = timeline_for(session, principal, entries)
    out = list(leaves)
    for i, original, entry in zip(suspects, entries, shown, strict=True):
        if entry is not original:
            out[i] = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    return out


ORDER_MARK = b'"order_id"'
ALERT_MARK = b'"subject_id"'
