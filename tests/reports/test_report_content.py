"""What a report says, read back with outside tools: pdftotext (ids, every hash, the
piecewise table, proof hex), pdfinfo (pages, the PDF/A-2b claim), pdftoppm (every page
renders). The proofs printed in the PDF are checked with the independent RFC 9162
verifier of tests/api/rfc9162.py."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.custody import record_transfer
from custodyd.daemon.reports import issue_case_report, issue_evidence_report
from tests.api import rfc9162
from tests.conftest import FORENSIC_IMAGES, needs_root
from tests.imaging.conftest import MiB, fuse_mount, random_file
from tests.reports import pdf
from tests.reports.conftest import ADMIN

ORACLE = json.loads((FORENSIC_IMAGES / "oracle.json").read_text())["dfvfs_mbr.raw"]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_evidence_report_carries_ids_hashes_pieces_inventory_and_timeline(
    rctx: AppContext, mbr_item: dict[str, Any], clock: ManualClock, tmp_path: Path
) -> None:
    eid = mbr_item["evidence_id"]
    clock.advance(timedelta(hours=2))
    record_transfer(
        rctx,
        eid,
        actor="user:examiner-e",
        from_party="Erin Examiner",
        to_party="Officer Oscar",
        reason="to the court registry",
        location="Lab 2",
    )
    issued = issue_evidence_report(rctx, ADMIN, eid)
    path = _write(tmp_path, "item.pdf", issued.pdf)
    txt = pdf.text(path)

    assert eid in txt and "CASE-R" in txt and "Erin Examiner" in txt
    # every digest, equal to the outside tools' (oracle: b3sum, sha256sum, md5sum)
    for algorithm in ("blake3", "sha256", "md5"):
        assert mbr_item["hashes"][algorithm] == ORACLE[algorithm]
        assert ORACLE[algorithm] in txt, algorithm
    # the complete piecewise table: 16 windows of 256 KiB
    digests = mbr_item["piecewise"]["digests"]
    assert len(digests) == 16
    assert all(d in txt for d in digests)
    assert "262,144" in txt  # window length, grouped
    # sizes and sector sizes
    assert "4,194,304 bytes" in txt and "logical 512, physical 512" in txt
    # inventory summary agrees with The Sleuth Kit's oracle
    assert "Linux (0x83)" in txt and "Ext2" in txt and "Ext4" in txt
    # verification and read errors
    assert "image re-read: BLAKE3 and every piecewise digest match" in txt
    assert "None: every sector was read." in txt
    # the custody timeline: every entry of the item, with actor and action
    history = rctx.ledger.history(eid)
    actions = [e.action for e in history]
    assert actions == [
        "acquisition.started",
        "evidence.acquired",
        "evidence.verified",
        "evidence.sealed",
        "custody.transferred",
    ]
    for action in actions:
        assert action in txt
    assert "Officer Oscar" in txt and "user:examiner-e" in txt
    # the sealed manifest's digest, as the ledger recorded it
    assert history[3].payload["manifest_sha256"] in txt
    # how to check it offline
    assert "custodyd ledger verify --bundle" in txt and "RFC 9162" in txt

    meta = pdf.info(path)
    assert int(meta["Pages"]) >= 3
    assert meta["Creator"].startswith("Typst")
    assert pdf.pdfa_claim(path) == ("2", "B")
    pages = pdf.pngs(path, tmp_path / "png")
    assert len(pages) == int(meta["Pages"])
    assert all(p.stat().st_size > 2000 for p in pages)  # not blank


def test_printed_proofs_verify_independently(
    rctx: AppContext, mbr_item: dict[str, Any], tmp_path: Path
) -> None:
    eid = mbr_item["evidence_id"]
    # grow the ledger past the item: its proofs stay against the checkpoint of its entries
    for n in range(5):
        rctx.ledger.append("test.noise", actor="test", payload={"n": n})
    issued = issue_evidence_report(rctx, ADMIN, eid)
    txt = pdf.text(_write(tmp_path, "item.pdf", issued.pdf))

    key = pdf.public_key(txt, rctx.settings.ledger_key_name)
    assert key == rctx.ledger.public_key()
    note = pdf.checkpoint_note(txt, rctx.settings.ledger_origin)
    checkpoint = rfc9162.open_checkpoint(note, key)  # Ed25519 over the printed text
    history = rctx.ledger.history(eid)
    assert checkpoint.size == history[-1].index + 1  # the checkpoint of the item's last batch
    assert checkpoint.root.hex() in txt

    printed = pdf.proofs(txt)
    assert [p.index for p in printed] == [e.index for e in history]
    for proof, entry in zip(printed, history, strict=True):
        leaf = rctx.ledger.leaf(entry.index)
        assert proof.action == entry.action
        assert rfc9162.leaf_hash(leaf).hex() == proof.leaf_hash
        path = [bytes.fromhex(h) for h in proof.path]
        root = rfc9162.root_from_inclusion(entry.index, checkpoint.size, leaf, path)
        assert root == checkpoint.root, f"entry {entry.index}"
    # and a tampered leaf does not
    leaf = rctx.ledger.leaf(history[1].index).replace(b"examiner", b"exanimer")
    bad = rfc9162.root_from_inclusion(
        history[1].index, checkpoint.size, leaf, [bytes.fromhex(h) for h in printed[1].path]
    )
    assert bad != checkpoint.root
    assert base64.b64encode(checkpoint.root).decode() in note


def test_case_report_covers_every_item(
    rctx: AppContext, mbr_item: dict[str, Any], tmp_path: Path
) -> None:
    from custodyd.daemon.acquisition import acquire

    source = tmp_path / "second.raw"
    source.write_bytes(bytes(range(256)) * 4096)
    second = acquire(rctx, source, "CASE-R", actor="user:examiner-e")
    issued = issue_case_report(rctx, ADMIN, "CASE-R")
    txt = pdf.text(_write(tmp_path, "case.pdf", issued.pdf))
    assert "Case custody report" in txt
    for item in (mbr_item, second):
        assert item["evidence_id"] in txt
        assert item["hashes"]["blake3"] in txt
        assert all(d in txt for d in item["piecewise"]["digests"])
    # every entry of the case, with its proof
    history = rctx.ledger.case_history("CASE-R")
    assert [p.index for p in pdf.proofs(txt)] == [e.index for e in history]
    assert "case.created" in txt


def test_user_text_is_printed_never_interpreted(rctx: AppContext, tmp_path: Path) -> None:
    from custodyd.daemon.acquisition import acquire

    hostile = '#panic("boom") *bold* $x^2$ <lbl> @ref [a] \\ `raw` = heading // c'
    source = tmp_path / "s.raw"
    source.write_bytes(b"\x01" * 65536)
    item = acquire(
        rctx, source, "CASE-#[x]", actor="user:e", examiner=hostile, notes="line1\nline2 ]]"
    )
    issued = issue_evidence_report(rctx, ADMIN, item["evidence_id"])
    txt = pdf.text(_write(tmp_path, "h.pdf", issued.pdf))
    assert '#panic("boom") *bold* $x^2$ <lbl> @ref [a] \\ `raw` = heading // c' in txt
    assert "CASE-#[x]" in txt


@needs_root
@pytest.mark.root
def test_read_error_map_is_printed(rctx: AppContext, tmp_path: Path) -> None:
    """A medium failing with EIO in two ranges (FUSE): the report lists exactly the map."""
    from custodyd.daemon.acquisition import acquire

    backing = random_file(tmp_path / "backing.img", 2 * MiB, seed=5)
    bad = [(1000 * 512, 2 * 512), (2 * MiB - 512, 512)]
    with fuse_mount(backing, tmp_path / "mnt", bad) as source:
        item = acquire(rctx, source, "CASE-E", actor="user:e")
    assert item["read_error_count"] == 2
    issued = issue_evidence_report(rctx, ADMIN, item["evidence_id"])
    txt = pdf.text(_write(tmp_path, "err.pdf", issued.pdf))
    assert "2 unreadable range(s), 1,536 bytes, zero-filled in the image" in txt
    for offset, length in ((512_000, 1024), (2 * MiB - 512, 512)):
        row = f"{offset:,}\n{length:,}\n{offset // 512}\n{length // 512}\n512\n"
        assert row in txt, row


def test_orders_and_holds_as_of_the_report_state(
    rctx: AppContext, mbr_item: dict[str, Any], clock: ManualClock, tmp_path: Path
) -> None:
    from custodyd.daemon.orders.lifecycle import OrderRequest, create_order, followup_order

    eid = mbr_item["evidence_id"]
    order = create_order(
        rctx,
        OrderRequest(
            regime="domestic-180",
            ref="DOM-2026-5",
            issued_on=clock.now().date(),
            evidence_ids=[eid],
            authority="Investigating judge, Court A",
        ),
        actor="user:officer",
    )
    txt = pdf.text(_write(tmp_path, "o.pdf", issue_evidence_report(rctx, ADMIN, eid).pdf))
    txt = " ".join(txt.split())  # table cells wrap where they like
    assert "DOM-2026-5" in txt and "Investigating judge, Court A" in txt
    assert f"Kept at least until the end of {order.expires_on}" in txt
    assert "order.created" in txt
    clock.advance(timedelta(days=10))
    followup_order(rctx, int(order.id), actor="user:officer", ref="FU-1")
    txt = pdf.text(_write(tmp_path, "h.pdf", issue_evidence_report(rctx, ADMIN, eid).pdf))
    assert "On hold" in txt and "order.followup" in txt


def test_e01_item_names_its_format_segments_and_digests(rctx: AppContext, tmp_path: Path) -> None:
    from custodyd.daemon.acquisition import acquire
    from custodyd.daemon.imaging.output import ImageFormat

    item = acquire(
        rctx,
        FORENSIC_IMAGES / "dfvfs_mbr.raw",
        "CASE-E01",
        actor="user:e",
        output=ImageFormat("e01", "fast", 1024 * 1024),
    )
    txt = pdf.text(
        _write(tmp_path, "e01.pdf", issue_evidence_report(rctx, ADMIN, item["evidence_id"]).pdf)
    )
    flat = " ".join(txt.split())
    assert "E01, compression fast, 1 segment(s) (image.E01)" in flat
    for algorithm in ("blake3", "md5", "sha1", "sha256"):
        assert item["hashes"][algorithm] in txt, algorithm
    assert item["hashes"]["md5"] == ORACLE["md5"]
