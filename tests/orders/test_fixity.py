"""Scheduled fixity over real acquisitions (the acquisition service's acquire/verify_evidence)."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from custodyd.daemon.acquisition import acquire
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.errors import DispositionRefused
from custodyd.daemon.models import Acquisition, Evidence
from custodyd.daemon.orders.disposition import dispose
from custodyd.daemon.orders.fixity import run_fixity
from custodyd.daemon.orders.lifecycle import OrderRequest, create_order, release_order
from tests.orders.conftest import Mailbox, preserved_on

MiB = 1024 * 1024


def source_file(tmp_path: Path, size: int = 3 * MiB + 512) -> Path:
    path = tmp_path / "source.bin"
    path.write_bytes(os.urandom(size))
    return path


def tree_digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture
def fctx(settings: Settings, clock: ManualClock, smtp_server: tuple[str, Mailbox]) -> AppContext:
    smtp_url, _ = smtp_server
    cfg = settings.model_copy(
        update={
            "smtp_url": smtp_url,
            "alert_to": ["lab@example.org"],
            "piecewise_window": MiB,
            "block_size": MiB,
            "fixity_interval_days": 7.0,
        }
    )
    ctx = open_context(cfg, clock=clock)
    yield ctx  # type: ignore[misc]
    ctx.close()


def test_fixity_schedule_mismatch_marks_and_alerts(
    fctx: AppContext, clock: ManualClock, tmp_path: Path, smtp_server: tuple[str, Mailbox]
) -> None:
    _, mailbox = smtp_server
    ctx = fctx
    first = acquire(ctx, source_file(tmp_path), "CASE-F", actor="user:examiner")["evidence_id"]
    report = run_fixity(ctx)
    assert report.checked == [{"evidence_id": first, "match": True}]
    assert run_fixity(ctx).checked == []  # not due again before the interval
    clock.advance(timedelta(days=7, seconds=1))

    # an acquisition is running: fixity waits
    with ctx.session() as s:
        s.add(Acquisition(evidence_id=first, state="running", started_at=clock.now()))
    deferred = run_fixity(ctx)
    assert deferred.deferred and deferred.checked == [] and deferred.remaining == 1
    with ctx.session() as s:
        for row in s.exec(select(Acquisition)):
            if row.state == "running":
                row.state = "done"
                s.add(row)

    with ctx.session() as s:
        image = Path(s.get(Evidence, first).image_path)  # type: ignore[union-attr]
    image.chmod(0o644)
    with open(image, "r+b") as f:
        f.seek(2 * MiB + 17)
        byte = f.read(1)
        f.seek(2 * MiB + 17)
        f.write(bytes([byte[0] ^ 0xFF]))
    report = run_fixity(ctx)
    assert report.mismatches == [first]
    with ctx.session() as s:
        assert s.get(Evidence, first).status == "mismatch"  # type: ignore[union-attr]
    assert len(mailbox.messages) == 1 and "FIXITY MISMATCH" in mailbox.messages[0]["Subject"]
    assert first in mailbox.messages[0].get_payload(decode=True).decode()
    actions = [e.action for e in ctx.ledger.history(first)]
    assert actions[-3:] == ["evidence.verified", "evidence.fixity_mismatch", "alert.sent"]
    verified = [e for e in ctx.ledger.history(first) if e.action == "evidence.verified"]
    assert [e.payload["match"] for e in verified] == [True, True, False]  # acquire, 2 runs


def test_real_acquisition_survives_refused_destroy_then_is_disposed(
    fctx: AppContext, clock: ManualClock, tmp_path: Path
) -> None:
    ctx = fctx
    manifest = acquire(ctx, source_file(tmp_path), "CASE-D", actor="user:examiner")
    evidence_id = manifest["evidence_id"]
    with ctx.session() as s:
        directory = Path(s.get(Evidence, evidence_id).directory)  # type: ignore[union-attr]
    before = tree_digests(directory)
    order = create_order(
        ctx,
        OrderRequest(
            regime="domestic-180",
            ref="D-1",
            **preserved_on(clock.now().date()),
            evidence_ids=[evidence_id],
        ),
        actor="user:compliance",
    )
    with pytest.raises(DispositionRefused):
        dispose(ctx, evidence_id, method="destroy", reason="x", actor="user:compliance")
    assert tree_digests(directory) == before
    assert directory.stat().st_mode & 0o777 == 0o555
    release_order(ctx, order.id, actor="user:compliance", reason="court lifted it")
    done = dispose(ctx, evidence_id, method="destroy", reason="lifted", actor="user:compliance")
    assert "image.raw" in {Path(f["path"]).name for f in done.files}
    left = set(os.listdir(directory))
    assert "image.raw" not in left and "manifest.json" in left
    # fixity leaves disposed items alone
    clock.advance(timedelta(days=30))
    assert run_fixity(ctx).checked == []
