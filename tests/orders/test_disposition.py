"""Disposition: refused while an order or hold stands (every byte stays), then secure deletion."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, DispositionRefused
from custodyd.daemon.models import Evidence
from custodyd.daemon.orders.disposition import dispose, get_disposition
from custodyd.daemon.orders.lifecycle import OrderRequest, create_order, followup_order
from tests.orders.conftest import evidence_bytes, make_evidence, preserved_on


def digests(ctx: AppContext, evidence_id: str) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in evidence_bytes(ctx, evidence_id).items()}


def test_destroy_refused_during_active_order_and_hold_leaves_every_byte(
    ctx: AppContext, clock: ManualClock
) -> None:
    item = make_evidence(ctx, "EV1")
    before = digests(ctx, "EV1")
    mode = Path(item.directory).stat().st_mode
    made = create_order(
        ctx,
        OrderRequest(
            regime="intl-expedited-60",
            ref="R1",
            **preserved_on(clock.now().date()),
            evidence_ids=["EV1"],
        ),
        actor="user:o",
    )
    with pytest.raises(DispositionRefused, match=r"order \d+ \(R1, intl-expedited-60\)") as err:
        dispose(ctx, "EV1", method="destroy", reason="end", actor="user:c")
    assert err.value.http_status == 409 and err.value.exit_code == 4
    followup_order(ctx, made.id, actor="user:o")
    clock.advance(timedelta(days=400))
    with pytest.raises(DispositionRefused, match="hold"):
        dispose(ctx, "EV1", method="destroy", reason="end", actor="user:c")
    assert digests(ctx, "EV1") == before
    assert Path(item.directory).stat().st_mode == mode
    with ctx.session() as s:
        assert s.get(Evidence, "EV1").status == "sealed"  # type: ignore[union-attr]
    assert not [e for e in ctx.ledger.history("EV1") if e.action == "evidence.disposed"]


def test_destroy_overwrites_and_deletes_image_and_copies_keeps_records(
    ctx: AppContext, clock: ManualClock
) -> None:
    item = make_evidence(ctx, "EV1", size=5 * 1024 * 1024 + 3)
    directory = Path(item.directory)
    result = dispose(ctx, "EV1", method="destroy", reason="retention over", actor="user:c")
    assert sorted(Path(f["path"]).name for f in result.files) == ["image.copy.raw", "image.raw"]
    assert all(f["bytes"] == 5 * 1024 * 1024 + 3 for f in result.files)
    assert sorted(p.name for p in directory.iterdir()) == ["manifest.json"]
    assert directory.stat().st_mode & 0o777 == 0o555  # sealed again
    with ctx.session() as s:
        assert s.get(Evidence, "EV1").status == "disposed"  # type: ignore[union-attr]
    record = get_disposition(ctx, "EV1")
    assert record is not None and record.actor == "user:c" and record.method == "destroy"
    last = ctx.ledger.history("EV1")[-1]
    assert last.action == "evidence.disposed" and last.payload["reason"] == "retention over"
    with pytest.raises(Conflict, match="already disposed"):
        dispose(ctx, "EV1", method="return", reason="again", actor="user:c")


def test_secure_delete_overwrites_before_unlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodyd.daemon.orders import disposition

    target = tmp_path / "img"
    target.write_bytes(b"\xff" * 10_000)
    target.chmod(0o444)
    seen: list[bytes] = []
    real_unlink = Path.unlink

    def spy(self: Path, missing_ok: bool = False) -> None:
        seen.append(self.read_bytes())
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", spy)
    done = disposition.secure_delete(target)
    assert seen == [bytes(10_000)] and not target.exists() and done["bytes"] == 10_000
