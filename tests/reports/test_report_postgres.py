"""A report on the scale-out engine: same state, same bytes; proofs check independently."""

from __future__ import annotations

from pathlib import Path

import pytest

from custodyd.daemon.acquisition import acquire
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import open_context
from custodyd.daemon.reports import issue_evidence_report, render_evidence_report
from tests.api import rfc9162
from tests.reports import pdf
from tests.reports.conftest import ADMIN, MBR_IMAGE

pytestmark = pytest.mark.postgres


def test_report_on_postgres(
    settings: Settings, clock: ManualClock, fresh_postgres_url: str, tmp_path: Path
) -> None:
    ctx = open_context(settings.model_copy(update={"database_url": fresh_postgres_url}), clock)
    try:
        item = acquire(ctx, MBR_IMAGE, "CASE-PG", actor="user:e", hashes=["sha256"])
        eid = item["evidence_id"]
        for n in range(3):
            ctx.ledger.append("test.noise", actor="test", payload={"n": n})
        issued = issue_evidence_report(ctx, ADMIN, eid)
        assert render_evidence_report(ctx, ADMIN, eid).pdf == issued.pdf
        path = tmp_path / "pg.pdf"
        path.write_bytes(issued.pdf)
        txt = pdf.text(path)
        assert eid in txt and item["hashes"]["blake3"] in txt
        key = pdf.public_key(txt, ctx.settings.ledger_key_name)
        checkpoint = rfc9162.open_checkpoint(
            pdf.checkpoint_note(txt, ctx.settings.ledger_origin), key
        )
        for proof in pdf.proofs(txt):
            leaf = ctx.ledger.leaf(proof.index)
            hashes = [bytes.fromhex(h) for h in proof.path]
            root = rfc9162.root_from_inclusion(proof.index, checkpoint.size, leaf, hashes)
            assert root == checkpoint.root
    finally:
        ctx.close()
