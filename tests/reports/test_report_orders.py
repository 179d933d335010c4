"""The report's orders section: every date of an order and the rule (with its article)
that gave its expiry; a confidential order only for those entitled to know it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.orders.lifecycle import OrderRequest, create_order
from custodyd.daemon.reports.gather import evidence_report
from custodyd.daemon.reports.issue import issue_evidence_report
from tests.orders.conftest import REQUEST
from tests.reports import pdf
from tests.reports.conftest import ADMIN


def test_report_shows_the_dates_and_the_rule_and_hides_confidential_orders(
    rctx: AppContext, mbr_item: dict[str, Any], clock: ManualClock, tmp_path: Path
) -> None:
    eid = mbr_item["evidence_id"]
    today = clock.now().date()
    issued, effected = today - timedelta(days=70), today - timedelta(days=55)
    for ref, confidential in (("MLA-OPEN", False), ("MLA-SECRET", True)):
        create_order(
            rctx,
            OrderRequest(
                regime="intl-expedited-60",
                ref=ref,
                issued_on=issued,
                effected_on=effected,
                evidence_ids=[eid],
                confidential=confidential,
                need_to_know=["ivy"] if confidential else [],
                **REQUEST,
            ),
            actor="user:olga",
        )
    path = tmp_path / "item.pdf"
    path.write_bytes(issue_evidence_report(rctx, ADMIN, eid).pdf)
    txt = pdf.text(path)
    for day in (issued, effected, today + timedelta(days=5)):
        assert day.isoformat() in txt
    assert "68(7)" in txt and "effected" in txt
    member = Principal(actor="user:eric", role="examiner", case_refs=frozenset({"CASE-R"}))
    named = Principal(actor="user:ivy", role="investigator", case_refs=frozenset({"CASE-R"}))
    assert [o.ref for o in evidence_report(rctx, member, eid).items[0].orders] == ["MLA-OPEN"]
    assert [o.ref for o in evidence_report(rctx, named, eid).items[0].orders] == [
        "MLA-OPEN",
        "MLA-SECRET",
    ]
