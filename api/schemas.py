"""Response models shared by several routers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from custodyd.daemon.ledger import LedgerEntry


class EntryOut(BaseModel):
    """One ledger entry as recorded (``time`` is RFC 3339 UTC)."""

    index: int
    time: str
    actor: str
    action: str
    case: str | None
    evidence: str | None
    payload: dict[str, Any]


def entry_out(entry: LedgerEntry) -> dict[str, Any]:
    return entry.to_dict()
