"""Audited reads: every read of custody history or evidence metadata is a ledger entry.

The access log *is* the ledger: ``history.read`` (custody timelines) and
``evidence.accessed`` (manifests, inventories, logs) entries name who read what
and when, so the signed checkpoints and inclusion proofs cover the access log
exactly as they cover custody events, and nobody can remove a read afterwards.
The entry is appended (durably) before the data is returned: a read that could
not be recorded is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from custodyd.daemon.context import AppContext

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
) -> None:
    """Append one access entry (``what`` names the resource read, e.g. ``manifest``)."""
    payload: dict[str, Any] = {"what": what}
    if detail:
        payload.update(detail)
    ctx.ledger.append(action, actor=actor, case=case, evidence=evidence, payload=payload)
