"""Audited reads: every read of custody history or evidence metadata is a ledger entry.

The access log *is* the ledger: ``history.read`` (custody timelines) and
``evidence.accessed`` (manifests, inventories, logs, fixity results) entries name
who read what and when, so the signed checkpoints and inclusion proofs cover the
access log exactly as they cover custody events, and nobody can remove a read
afterwards. The entry is appended (durably) before the data is returned: a read
that could not be recorded is refused.

The item and case read are named in the payload (``case``, ``evidence``), not in
the entry's own ``case``/``evidence`` fields: a custody timeline lists custody
events, and must not grow with every look at it (ledger entries are visible by
the payload's case too; see :mod:`custodyd.daemon.auth.visibility`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from custodyd.daemon.context import AppContext
from custodyd.daemon.ledger import LedgerEntry

HISTORY_READ: Final = "history.read"
EVIDENCE_ACCESSED: Final = "evidence.accessed"


def record_read(
    ctx: AppContext,
    action: str,
    *,
    actor: str,
    what: str,
    case: str | None = None,
    evidence: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """Append one access entry (``what`` names the resource read, e.g. ``manifest``)."""
    payload: dict[str, Any] = {"what": what, "case": case, "evidence": evidence}
    if detail:
        payload.update(detail)
    return ctx.ledger.append(action, actor=actor, payload=payload)
