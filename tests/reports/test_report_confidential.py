"""Confidential orders in a report follow the orders service's need-to-know: the named
investigator and compliance read the order; another member of the case learns only that
the item is held, its timeline shows the notice instead of the order's entries, and those
entries' proofs still verify (leaf bytes withheld)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.orders.lifecycle import OrderRequest, create_order
from custodyd.daemon.reports import render_evidence_report
from tests.api import rfc9162
from tests.reports import pdf
from tests.reports.conftest import ADMIN

SECRET = ("CONF-9", "Investigating judge, Court B", "fraud of the century")


def _text(ctx: AppContext, who: Principal, eid: str, path: Path) -> tuple[str, bytes]:
    data = render_evidence_report(ctx, who, eid).pdf
    path.write_bytes(data)
    return pdf.text(path), data


def test_need_to_know_in_reports(
    rctx: AppContext, mbr_item: dict[str, Any], clock: ManualClock, tmp_path: Path
) -> None:
    eid = mbr_item["evidence_id"]
    create_order(
        rctx,
        OrderRequest(
            regime="domestic-180",
            ref=SECRET[0],
            issued_on=clock.now().date(),
            evidence_ids=[eid],
            authority=SECRET[1],
            offence=SECRET[2],
            confidential=True,
            need_to_know=["ivy"],
        ),
        actor="user:olga",
    )
    named = Principal(actor="user:ivy", role="investigator", case_refs=frozenset({"CASE-R"}))
    other = Principal(actor="user:eric", role="investigator", case_refs=frozenset({"CASE-R"}))
    compliance = Principal(actor="user:olga", role="compliance", case_refs=frozenset({"CASE-R"}))

    for who in (ADMIN, named, compliance):
        txt, _ = _text(rctx, who, eid, tmp_path / f"{who.actor}.pdf")
        assert SECRET[0] in txt and SECRET[1] in txt, who.actor
        assert "order.created" in txt

    txt, data = _text(rctx, other, eid, tmp_path / "other.pdf")
    for word in SECRET:
        assert word not in txt
    assert "The item is held under a confidential order." in txt
    assert "order.created" not in txt and "retention.held" in txt
    assert "leaf bytes withheld" in txt
    assert render_evidence_report(rctx, other, eid).pdf == data  # reproducible per reader
    # the withheld entry is still proven: its real leaf is under the printed hash and path
    note = pdf.checkpoint_note(txt, rctx.settings.ledger_origin)
    checkpoint = rfc9162.open_checkpoint(note, pdf.public_key(txt, rctx.settings.ledger_key_name))
    held = [p for p in pdf.proofs(txt) if p.action == "retention.held"]
    assert len(held) == 1
    leaf = rctx.ledger.leaf(held[0].index)
    assert b"order.created" in leaf and rfc9162.leaf_hash(leaf).hex() == held[0].leaf_hash
    path = [bytes.fromhex(h) for h in held[0].path]
    assert (
        rfc9162.root_from_inclusion(held[0].index, checkpoint.size, leaf, path) == checkpoint.root
    )
