"""Scheduled fixity: re-verify every sealed evidence item every ``fixity_interval_days``.

Throttled so it never starves an acquisition: items are verified one at a time,
never-checked items first, then the longest unchecked; before each item the
database is asked whether an acquisition is running, and if one is the run stops
and the rest waits for the next wake-up. A run also stops after ``budget_seconds``.
Each verification is recorded by imaging's ``verify_evidence`` (``evidence.verified``);
a mismatch additionally marks the item ``mismatch``, appends
``evidence.fixity_mismatch`` and sends an alert at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, CustodydError
from custodyd.daemon.ledger.service import Event
from custodyd.daemon.models import Acquisition, Case, Evidence, FixityState
from custodyd.daemon.orders.alerts.compose import fixity_alert
from custodyd.daemon.orders.alerts.outbox import deliver_pending, enqueue_now
from custodyd.daemon.orders.records import SYSTEM_ACTOR

log = logging.getLogger(__name__)

Verifier = Callable[..., dict[str, Any]]


@dataclass
class FixityReport:
    checked: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    deferred: bool = False
    remaining: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "mismatches": self.mismatches,
            "deferred": self.deferred,
            "remaining": self.remaining,
        }


def acquisition_running(session: Session) -> bool:
    busy = ("running", "sealing", "queued")  # sealing: the image is being renamed into place
    query = select(Acquisition.id).where(col(Acquisition.state).in_(busy))
    return session.exec(query.limit(1)).first() is not None


def due_items(ctx: AppContext) -> list[str]:
    """Sealed items never checked, then those last checked longest ago beyond the interval."""
    cutoff = ctx.clock.now() - timedelta(days=ctx.settings.fixity_interval_days)
    with ctx.session() as session:
        sealed = list(
            session.exec(
                select(Evidence.id, Evidence.sealed_at)
                .where(Evidence.status == "sealed")
                .order_by(col(Evidence.sealed_at), col(Evidence.id))
            )
        )
        states = {s.evidence_id: utc(s.last_checked_at) for s in session.exec(select(FixityState))}
    never = [eid for eid, _ in sealed if eid not in states]
    stale = sorted(
        (states[eid], eid) for eid, _ in sealed if eid in states and states[eid] <= cutoff
    )
    return never + [eid for _, eid in stale]


def _imaging_verify(ctx: AppContext, evidence_id: str, *, actor: str) -> dict[str, Any]:
    from custodyd.daemon.acquisition import verify_evidence

    result: dict[str, Any] = verify_evidence(ctx, evidence_id, actor=actor)
    return result


def run_fixity(
    ctx: AppContext,
    *,
    actor: str = SYSTEM_ACTOR,
    verify: Verifier | None = None,
    budget_seconds: float = 600.0,
    max_items: int | None = None,
) -> FixityReport:
    verify = verify or _imaging_verify
    report = FixityReport()
    due = due_items(ctx)
    started = time.monotonic()
    for position, evidence_id in enumerate(due):
        over_budget = time.monotonic() - started > budget_seconds
        if over_budget or (max_items is not None and position >= max_items):
            report.remaining = len(due) - position
            break
        with ctx.session() as session:
            busy = acquisition_running(session)
        if busy:
            report.deferred = True
            report.remaining = len(due) - position
            log.info("fixity deferred: an acquisition is running")
            break
        try:
            result = dict(verify(ctx, evidence_id, actor=actor))
        except Conflict as exc:  # no longer sealed (disposed meanwhile): not a fixity result
            log.info("fixity skipped %s: %s", evidence_id, exc)
            continue
        except (CustodydError, OSError) as exc:  # image missing or unreadable: a failure
            result = {"evidence_id": evidence_id, "match": False, "error": str(exc)}
        match = bool(result.get("match"))
        _store_state(ctx, evidence_id, match, result)
        report.checked.append({"evidence_id": evidence_id, "match": match})
        if not match:
            report.mismatches.append(evidence_id)
            _mismatch(ctx, evidence_id, result, actor=actor)
    return report


def _store_state(ctx: AppContext, evidence_id: str, match: bool, result: dict[str, Any]) -> None:
    with ctx.session() as session:
        state = session.get(FixityState, evidence_id)
        if state is None:
            state = FixityState(
                evidence_id=evidence_id,
                last_checked_at=ctx.clock.now(),
                last_match=match,
            )
        state.last_checked_at = ctx.clock.now()
        state.last_match = match
        state.last_result = result
        session.add(state)


def _mismatch(ctx: AppContext, evidence_id: str, result: dict[str, Any], *, actor: str) -> None:
    with ctx.session() as session:
        item = session.get(Evidence, evidence_id)
        assert item is not None
        case = session.get(Case, item.case_id)
        case_ref = case.ref if case else None
        if item.status != "mismatch":
            item.status = "mismatch"
            session.add(item)
        payload = {"scheduled": True, **{k: v for k, v in result.items() if k != "evidence_id"}}
        ctx.ledger.stage(
            session, [Event("evidence.fixity_mismatch", actor, case_ref, evidence_id, payload)]
        )
    ctx.ledger.flush_pending()
    enqueue_now(
        ctx,
        kind="fixity",
        subject_id=evidence_id,
        key=f"mismatch/{ctx.clock.now().isoformat()}",
        message=fixity_alert(evidence_id, case_ref, result),
    )
    deliver_pending(ctx)
