"""Same ledger state -> same bytes; issuing a report or reading anything does not change
the state; a new custody event does. Render time is measured and printed."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from custodyd.daemon.auth import EVIDENCE_ACCESSED, record_read
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.custody import record_transfer
from custodyd.daemon.reports import (
    REPORT_ISSUED,
    issue_evidence_report,
    render_case_report,
    render_evidence_report,
)
from custodyd.daemon.reports.render import render_pdf
from tests.reports.conftest import ADMIN


def test_two_renders_same_bytes_and_issuing_does_not_change_them(
    rctx: AppContext, mbr_item: dict[str, Any], clock: ManualClock
) -> None:
    eid = mbr_item["evidence_id"]
    first = render_evidence_report(rctx, ADMIN, eid)
    clock.advance(timedelta(days=3))  # printing later changes nothing
    issued = issue_evidence_report(rctx, ADMIN, eid)
    record_read(
        rctx, EVIDENCE_ACCESSED, actor="user:x", what="manifest", case="CASE-R", evidence=eid
    )
    again = render_evidence_report(rctx, ADMIN, eid)
    assert first.pdf == issued.pdf == again.pdf
    # the issue is in the ledger with the PDF's SHA-256, outside the item's timeline
    entry = rctx.ledger.entry(issued.ledger_index)
    assert entry.action == REPORT_ISSUED and entry.actor == "user:reporter"
    assert entry.evidence is None and entry.case is None
    assert entry.payload["evidence"] == eid and entry.payload["case"] == "CASE-R"
    assert entry.payload["sha256"] == issued.sha256
    assert entry.payload["tree_size"] == issued.report.checkpoint.size
    assert entry.index not in [e.index for e in rctx.ledger.history(eid)]
    # the case report is reproducible too
    assert (
        render_case_report(rctx, ADMIN, "CASE-R").pdf
        == render_case_report(rctx, ADMIN, "CASE-R").pdf
    )


def test_a_new_custody_event_is_a_new_state(
    rctx: AppContext, mbr_item: dict[str, Any], clock: ManualClock
) -> None:
    eid = mbr_item["evidence_id"]
    before = render_evidence_report(rctx, ADMIN, eid)
    clock.advance(timedelta(minutes=5))
    record_transfer(
        rctx, eid, actor="user:e", from_party="A", to_party="B", reason="court", location="L"
    )
    after = render_evidence_report(rctx, ADMIN, eid)
    assert after.pdf != before.pdf
    assert after.report.last_index > before.report.last_index
    assert after.report.as_of > before.report.as_of


def test_render_time(rctx: AppContext, mbr_item: dict[str, Any]) -> None:
    """~0.1 s per report is the target; printed for the README, asserted only loosely."""
    from custodyd.daemon.reports import render

    report = render_evidence_report(rctx, ADMIN, mbr_item["evidence_id"]).report
    render._compiler.cache_clear()  # cold: typst loads its embedded fonts
    started = time.perf_counter()
    cold_pdf = render_pdf(report)
    cold = time.perf_counter() - started
    times = []
    for _ in range(10):
        started = time.perf_counter()
        assert render_pdf(report) == cold_pdf
        times.append(time.perf_counter() - started)
    times.sort()
    print(
        f"report render ({len(cold_pdf)} bytes): cold {cold * 1000:.0f} ms, "
        f"warm median {times[5] * 1000:.1f} ms, best {times[0] * 1000:.1f} ms"
    )
    assert times[0] < 2.0
