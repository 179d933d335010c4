"""The acquisition service: records, ledger entries, sealing, verify, cancel, crash recovery."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from sqlmodel import select

from custodyd.daemon.acquisition import (
    acquire,
    get_manifest,
    list_evidence,
    recover_incomplete,
    verify_evidence,
)
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Cancelled, Conflict, DestinationError, NotFound, SourceError
from custodyd.daemon.imaging.progress import Progress
from custodyd.daemon.models import Acquisition, Evidence
from tests.imaging.conftest import MiB, chmod_writable, tool_digest

ACTOR = "user:alice"


def actions(ctx: AppContext, evidence_id: str) -> list[str]:
    return [e.action for e in ctx.ledger.history(evidence_id)]


def test_acquire_records_seals_and_returns_manifest(ictx: AppContext, source_file: Path) -> None:
    manifest = acquire(
        ictx,
        source_file,
        "CASE-1",
        actor=ACTOR,
        hashes=["sha256"],
        examiner="Alice",
        notes="seized laptop",
    )
    eid = manifest["evidence_id"]
    assert manifest["case"] == "CASE-1" and manifest["status"] == "sealed"
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", source_file)
    assert manifest["hashes"]["sha256"] == tool_digest("sha256sum", source_file)
    assert manifest["bytes"] == source_file.stat().st_size
    assert manifest["verified"] is True
    assert manifest["read_errors"] == [] and manifest["read_error_count"] == 0
    assert manifest["piecewise"]["window"] == MiB and manifest["piecewise"]["count"] == 4
    assert manifest["examiner"] == "Alice" and manifest["notes"] == "seized laptop"
    assert manifest["tool"]["name"] == "custodyd"
    assert manifest["source"]["path"] == str(source_file)

    directory = ictx.settings.evidence_dir / "CASE-1" / eid
    image = Path(manifest["image_path"])
    assert image == directory / "image.raw"
    assert image.read_bytes() == source_file.read_bytes()
    assert sorted(p.name for p in directory.iterdir()) == [
        "acquisition.log",
        "ddrescue.map",
        "image.raw",
        "inventory.json",
        "manifest.json",
    ]
    assert json.loads((directory / "manifest.json").read_text()) == json.loads(json.dumps(manifest))
    # Sealed: read-only files and directory.
    assert stat.S_IMODE(directory.stat().st_mode) == 0o555
    for entry in directory.iterdir():
        assert stat.S_IMODE(entry.stat().st_mode) == 0o444, entry
    log = (directory / "acquisition.log").read_text()
    assert manifest["hashes"]["blake3"] in log and "verify pass" in log

    assert actions(ictx, eid) == [
        "acquisition.started",
        "evidence.acquired",
        "evidence.verified",
        "evidence.sealed",
    ]
    acquired = ictx.ledger.history(eid)[1]
    assert acquired.payload["hashes"]["blake3"] == manifest["hashes"]["blake3"]
    assert acquired.payload["read_errors"] == [] and acquired.case == "CASE-1"
    assert ictx.ledger.case_history("CASE-1")[0].action == "case.created"

    with ictx.session() as session:
        evidence = session.get(Evidence, eid)
        assert evidence is not None
        assert evidence.status == "sealed" and evidence.blake3 == manifest["hashes"]["blake3"]
        assert evidence.sealed_at is not None and evidence.bytes == manifest["bytes"]
        acq = session.exec(select(Acquisition).where(Acquisition.evidence_id == eid)).one()
        assert acq.state == "done" and acq.bytes_done == manifest["bytes"]

    assert get_manifest(ictx, eid) == manifest
    assert [m["evidence_id"] for m in list_evidence(ictx)] == [eid]
    assert list_evidence(ictx, "OTHER") == []


def test_second_acquisition_reuses_the_case(ictx: AppContext, source_file: Path) -> None:
    first = acquire(ictx, source_file, "CASE-2", actor=ACTOR, verify=False)
    second = acquire(ictx, source_file, "CASE-2", actor=ACTOR, verify=False)
    assert first["evidence_id"] != second["evidence_id"]
    assert first["verified"] is None
    assert [e.action for e in ictx.ledger.case_history("CASE-2")].count("case.created") == 1
    assert len(list_evidence(ictx, "CASE-2")) == 2


def test_verify_evidence_match_then_flipped_byte(ictx: AppContext, source_file: Path) -> None:
    manifest = acquire(ictx, source_file, "CASE-3", actor=ACTOR)
    eid = manifest["evidence_id"]
    ok = verify_evidence(ictx, eid, actor="user:bob")
    assert ok["match"] is True and ok["mismatched_windows"] == []
    assert ok["blake3"] == ok["expected"] == manifest["hashes"]["blake3"]

    image = Path(manifest["image_path"])
    chmod_writable(image)
    with open(image, "r+b") as fh:
        fh.seek(3 * MiB + 17)
        b = fh.read(1)
        fh.seek(3 * MiB + 17)
        fh.write(bytes([b[0] ^ 0xFF]))
    bad = verify_evidence(ictx, eid, actor="user:bob")
    assert bad["match"] is False
    assert [w["index"] for w in bad["mismatched_windows"]] == [3]
    assert bad["blake3"] != bad["expected"]
    assert get_manifest(ictx, eid)["status"] == "mismatch"
    entries = [e for e in ictx.ledger.history(eid) if e.action == "evidence.verified"]
    assert [e.payload["match"] for e in entries] == [True, True, False]
    assert entries[-1].payload["mismatched_windows"] == [3]
    assert list_evidence(ictx) == []  # no longer sealed
    assert [m["evidence_id"] for m in list_evidence(ictx, status="mismatch")] == [eid]


def test_cancel_marks_incomplete(ictx: AppContext, source_file: Path) -> None:
    cancel = threading.Event()

    def stop(_p: Progress) -> None:
        cancel.set()

    with pytest.raises(Cancelled) as raised:
        acquire(ictx, source_file, "CASE-4", actor=ACTOR, progress=stop, cancel=cancel)
    [item] = list_evidence(ictx, "CASE-4", status="incomplete")
    eid = item["evidence_id"]
    assert raised.value.to_problem()["evidence_id"] == eid  # the error names the item
    assert item["status"] == "incomplete" and item["hashes"] == {}
    assert item["image_path"].endswith("image.raw.incomplete")
    assert Path(item["image_path"]).exists()
    directory = Path(item["image_path"]).parent
    assert not (directory / "image.raw").exists()
    assert json.loads((directory / "manifest.json").read_text())["status"] == "incomplete"
    assert actions(ictx, eid) == ["acquisition.started", "acquisition.incomplete"]
    assert ictx.ledger.history(eid)[-1].payload["reason"] == "cancelled"
    with ictx.session() as session:
        acq = session.exec(select(Acquisition).where(Acquisition.evidence_id == eid)).one()
        assert acq.state == "incomplete" and "cancelled" in (acq.error or "")  # one state word
    assert list_evidence(ictx) == []
    with pytest.raises(Conflict):
        verify_evidence(ictx, eid, actor=ACTOR)


def test_recover_incomplete_after_a_crash(ictx: AppContext, source_file: Path) -> None:
    # Simulate a crash: the rows say running and a .part file is on disk.
    from custodyd.daemon.cases import get_or_create_case

    with ictx.session() as session:
        case, _ = get_or_create_case(session, ictx.clock, "CASE-5")
        directory = ictx.settings.evidence_dir / "CASE-5" / "EVCRASH"
        directory.mkdir(parents=True)
        (directory / "image.raw.part").write_bytes(b"partial")
        assert case.id is not None
        session.add(
            Evidence(
                id="EVCRASH",
                case_id=case.id,
                status="acquiring",
                source_path=str(source_file),
                directory=str(directory),
                image_path=str(directory / "image.raw"),
                created_at=ictx.clock.now(),
            )
        )
        session.flush()
        session.add(
            Acquisition(evidence_id="EVCRASH", state="running", started_at=ictx.clock.now())
        )
    assert recover_incomplete(ictx) == ["EVCRASH"]
    assert recover_incomplete(ictx) == []
    manifest = get_manifest(ictx, "EVCRASH")
    assert manifest["status"] == "incomplete"
    assert manifest["image_path"].endswith(".incomplete")
    assert (directory / "image.raw.incomplete").read_bytes() == b"partial"
    assert actions(ictx, "EVCRASH") == ["acquisition.incomplete"]


def test_missing_source_records_nothing(ictx: AppContext, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        acquire(ictx, tmp_path / "missing.dd", "CASE-6", actor=ACTOR)
    assert list_evidence(ictx, status=None) == []


def test_directory_is_not_a_source(ictx: AppContext, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="neither a block device nor a regular file"):
        acquire(ictx, tmp_path, "CASE-7", actor=ACTOR)


def test_unknown_evidence(ictx: AppContext) -> None:
    with pytest.raises(NotFound):
        get_manifest(ictx, "EVNOPE")
    with pytest.raises(NotFound):
        verify_evidence(ictx, "EVNOPE", actor=ACTOR)


def test_medium_identity_in_manifest(ictx: AppContext, source_file: Path) -> None:
    from custodyd.daemon.models import Medium

    with ictx.session() as session:
        medium = Medium(
            key="serial:S3Z9NB0K123456",
            path=str(source_file),
            serial="S3Z9NB0K123456",
            model="Samsung SSD 860",
            size=source_file.stat().st_size,
            write_block="hardware",
            first_seen=ictx.clock.now(),
            last_seen=ictx.clock.now(),
        )
        session.add(medium)
        session.flush()
        medium_id = medium.id
    manifest = acquire(ictx, source_file, "CASE-M", actor=ACTOR, medium_id=medium_id)
    assert manifest["medium_id"] == medium_id
    assert manifest["medium"]["serial"] == "S3Z9NB0K123456"
    assert manifest["medium"]["write_block"] == "hardware"
    assert manifest["source"]["serial"] == "S3Z9NB0K123456"
    assert manifest["source"]["model"] == "Samsung SSD 860"
    with ictx.session() as session:
        evidence = session.get(Evidence, manifest["evidence_id"])
        assert evidence is not None and evidence.medium_id == medium_id
    with pytest.raises(NotFound):
        acquire(ictx, source_file, "CASE-M", actor=ACTOR, medium_id=99999)


def test_unwritable_evidence_directory_marks_incomplete(
    ictx: AppContext, source_file: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    (store / "CASE-W").mkdir(parents=True)
    (store / "CASE-W").chmod(0o500)
    if os.access(store / "CASE-W", os.W_OK):  # root ignores modes: use a file instead
        (store / "CASE-W").chmod(0o700)
        (store / "CASE-W").rmdir()
        (store / "CASE-W").write_text("not a directory")
    with pytest.raises(DestinationError, match="cannot create"):
        acquire(ictx, source_file, "CASE-W", actor=ACTOR, store=store)
    [item] = list_evidence(ictx, "CASE-W", status="incomplete")
    assert actions(ictx, item["evidence_id"]) == ["acquisition.started", "acquisition.incomplete"]
