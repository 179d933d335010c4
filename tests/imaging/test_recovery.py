"""Crash recovery in process: live acquisitions are locked, a crash between any two
sealing steps ends sealed or incomplete (never in between), and an incomplete item
records only what its partial file holds.

A "crash" here is a ``BaseException`` raised at a chosen step: it passes every
``except Exception``, rolls back the open transaction and runs no recording code, as
``kill -9`` would not; the whole-process version is ``test_crash.py``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

import custodyd.daemon.acquisition as acquisition_module
import custodyd.daemon.imaging.engine as engine_module
import custodyd.daemon.store.layout as layout_module
from custodyd.daemon.acquisition import acquire, list_evidence, recover_incomplete
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.errors import Cancelled, DestinationFull
from custodyd.daemon.imaging.progress import Progress
from custodyd.daemon.models import Acquisition
from tests.conftest import needs_root
from tests.imaging.conftest import MiB, random_file
from tests.imaging.invariants import check_store

ACTOR = "user:alice"


class Crash(BaseException):
    """Stands for the process dying at this instant."""


def reopen(settings: Settings, clock: ManualClock) -> AppContext:
    """A new process: ``open_context`` runs recovery."""
    return open_context(settings, clock=clock)


def states(ctx: AppContext) -> list[str]:
    with ctx.session() as session:
        return [a.state for a in session.exec(select(Acquisition)).all()]


def test_recovery_leaves_a_live_acquisition_alone(
    ictx: AppContext, small_settings: Settings, clock: ManualClock, source_file: Path
) -> None:
    """Another process opening the database mid-acquisition (``serve`` starting, any
    command) must not take the live acquisition for a crashed one."""
    halfway = threading.Event()
    resume = threading.Event()

    def pause(progress: Progress) -> None:
        if 0 < progress.bytes_done < progress.bytes_total and not halfway.is_set():
            halfway.set()
            resume.wait(30)

    result: dict[str, Any] = {}

    def run() -> None:
        result["manifest"] = acquire(ictx, source_file, "LIVE", actor=ACTOR, progress=pause)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert halfway.wait(30)
        other = reopen(small_settings, clock)  # recovery runs here
        try:
            assert recover_incomplete(other) == []
            [item] = list_evidence(other, "LIVE", status=None)
            assert item["status"] == "acquiring"
            directory = small_settings.evidence_dir / "LIVE" / item["evidence_id"]
            assert (directory / "image.raw.part").exists()
        finally:
            other.close()
    finally:
        resume.set()
        worker.join(60)
    assert result["manifest"]["status"] == "sealed"
    check_store(list_evidence(ictx, status=None), small_settings.evidence_dir)


# (module, name, when): the process dies just before or just after that call.
STEPS_BEFORE_COMMIT = [
    (engine_module, "image_source", "after"),  # acquisition imports it when it images
    (acquisition_module, "verify_image", "before"),
    (acquisition_module, "verify_image", "after"),
    (acquisition_module, "_safe_inventory", "after"),
    (acquisition_module, "json_bytes", "after"),
]
STEPS_AFTER_COMMIT = [
    (acquisition_module, "seal_on_disk", "before"),
    (layout_module, "rename_durably", "after"),
    (layout_module, "write_atomic", "after"),  # of manifest.json (inventory.json is earlier)
    (layout_module, "seal", "after"),
    (acquisition_module, "seal_on_disk", "after"),
]


def crash_at(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, when: str) -> None:
    original: Callable[..., Any] = getattr(module, name)

    def dying(*args: Any, **kwargs: Any) -> Any:
        if name == "write_atomic" and Path(args[0]).name != "manifest.json":
            return original(*args, **kwargs)
        if when == "before":
            raise Crash(name)
        original(*args, **kwargs)
        raise Crash(name)

    monkeypatch.setattr(module, name, dying)


@pytest.mark.parametrize(
    ("module", "name", "when", "expected"),
    [(*step, "incomplete") for step in STEPS_BEFORE_COMMIT]
    + [(*step, "sealed") for step in STEPS_AFTER_COMMIT],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_crash_between_sealing_steps(
    ictx: AppContext,
    small_settings: Settings,
    clock: ManualClock,
    source_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    name: str,
    when: str,
    expected: str,
) -> None:
    with monkeypatch.context() as patch:
        crash_at(patch, module, name, when)
        with pytest.raises(Crash):
            acquire(ictx, source_file, "CRASH", actor=ACTOR)
    after = reopen(small_settings, clock)
    try:
        [item] = list_evidence(after, "CRASH", status=None)
        assert item["status"] == expected
        check_store([item], small_settings.evidence_dir)
        assert states(after) == ["done" if expected == "sealed" else "incomplete"]
        entries = after.ledger.history(item["evidence_id"])
        if expected == "sealed":
            # manifest.json written by recovery is the one the ledger vouches for
            [sealed] = [e for e in entries if e.action == "evidence.sealed"]
            on_disk = Path(item["image_path"]).parent / "manifest.json"
            assert (
                hashlib.sha256(on_disk.read_bytes()).hexdigest()
                == (sealed.payload["manifest_sha256"])
            )
            assert "acquisition.incomplete" not in [e.action for e in entries]
        else:
            assert entries[-1].action == "acquisition.incomplete"
            assert entries[-1].payload["reason"] == "interrupted"
            assert entries[-1].payload["bytes"] == item["bytes"]
        assert recover_incomplete(after) == []  # settled once
    finally:
        after.close()


def test_cancel_records_only_what_the_partial_file_holds(
    ictx: AppContext, small_settings: Settings, tmp_path: Path
) -> None:
    source = random_file(tmp_path / "src.bin", 12 * MiB)
    cancel = threading.Event()

    def stop(progress: Progress) -> None:
        if progress.bytes_done >= 5 * MiB:
            cancel.set()

    with pytest.raises(Cancelled):
        acquire(ictx, source, "CANCEL", actor=ACTOR, progress=stop, cancel=cancel)
    [item] = list_evidence(ictx, "CANCEL", status="incomplete")
    check_store([item], small_settings.evidence_dir)
    [entry] = [
        e for e in ictx.ledger.history(item["evidence_id"]) if e.action == "acquisition.incomplete"
    ]
    assert entry.payload["bytes"] == item["bytes"]


@needs_root
def test_full_disk_records_bytes_in_the_partial_file(
    ictx: AppContext, small_settings: Settings, tmp_path: Path
) -> None:
    """Read 6 MiB, room for ~2: ``bytes`` and the windows are those of the file."""
    import subprocess

    source = random_file(tmp_path / "big.bin", 6 * MiB)
    store = tmp_path / "small"
    store.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2300k", "tmpfs", str(store)], check=True)
    try:
        with pytest.raises(DestinationFull):
            acquire(ictx, source, "FULL", actor=ACTOR, store=store)
        [item] = list_evidence(ictx, "FULL", status="incomplete")
        check_store([item], store)
        partial = Path(item["image_path"])
        assert 0 < item["bytes"] == partial.stat().st_size < 6 * MiB
        assert item["bytes_read"] >= item["bytes"]
        assert item["piecewise"]["count"] == len(item["piecewise"]["digests"]) >= 1
        manifest = partial.parent / "manifest.json"
        if manifest.exists():  # only if there was room for it
            assert json.loads(manifest.read_text())["bytes"] == item["bytes"]
        else:
            assert item["manifest_write_error"]
        assert not (partial.parent / "manifest.json.tmp").exists()
    finally:
        subprocess.run(["umount", "-l", str(store)], check=False)


@pytest.mark.parametrize(
    ("module", "name", "when", "expected"),
    [
        (acquisition_module, "verify_image", "after", "incomplete"),
        (acquisition_module, "json_bytes", "after", "incomplete"),
        (layout_module, "rename_durably", "after", "sealed"),  # one segment renamed
        (layout_module, "seal", "after", "sealed"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_crash_between_sealing_steps_of_a_segmented_e01(
    ictx: AppContext,
    small_settings: Settings,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    name: str,
    when: str,
    expected: str,
) -> None:
    """An E01 in 1 MiB segments: every segment is published together, or none is."""
    from custodyd.daemon.acquisition import verify_evidence
    from custodyd.daemon.imaging.output import ImageFormat

    source = random_file(tmp_path / "e01-source.bin", 4 * MiB)  # incompressible: >= 4 segments
    with monkeypatch.context() as patch:
        crash_at(patch, module, name, when)
        with pytest.raises(Crash):
            acquire(ictx, source, "CRASH-E01", actor=ACTOR, output=ImageFormat("e01", "fast", MiB))
    after = reopen(small_settings, clock)
    try:
        [item] = list_evidence(after, "CRASH-E01", status=None)
        assert item["status"] == expected
        directory = small_settings.evidence_dir / "CRASH-E01" / item["evidence_id"]
        names = sorted(p.name for p in directory.iterdir())
        assert not [n for n in names if n.endswith(".part")], names
        on_disk = json.loads((directory / "manifest.json").read_text())
        assert on_disk["status"] == expected
        if expected == "sealed":
            segments = [n for n in names if n.startswith("image.E")]
            assert len(segments) >= 4 and not [n for n in names if n.endswith(".incomplete")]
            assert verify_evidence(after, item["evidence_id"], actor=ACTOR)["match"] is True
        else:
            assert not [n for n in names if n.startswith("image.E") and "incomplete" not in n]
            assert "image.E01.incomplete" in names and item["bytes"] == 0
            assert item["image_path"] == str(directory / "image.E01.incomplete")
    finally:
        after.close()


def test_a_live_item_being_sealed_is_not_verified(
    ictx: AppContext,
    small_settings: Settings,
    clock: ManualClock,
    source_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between the sealing commit and the disk side, a reader must not take the missing
    final name for a changed image (a fixity run would record a false mismatch)."""
    from custodyd.daemon.acquisition import verify_evidence
    from custodyd.daemon.errors import Conflict
    from custodyd.daemon.orders.fixity import acquisition_running
    from custodyd.daemon.store.lock import EvidenceLock

    with monkeypatch.context() as patch:
        crash_at(patch, acquisition_module, "seal_on_disk", "before")
        with pytest.raises(Crash):
            acquire(ictx, source_file, "SEALING", actor=ACTOR)
    [item] = list_evidence(ictx, "SEALING", status=None)
    directory = small_settings.evidence_dir / "SEALING" / item["evidence_id"]
    with EvidenceLock.take(directory):  # as if the acquiring process were still alive
        other = reopen(small_settings, clock)
        try:
            assert list_evidence(other, "SEALING")[0]["status"] == "sealed"
            with pytest.raises(Conflict, match="being sealed"):
                verify_evidence(other, item["evidence_id"], actor=ACTOR)
            with other.session() as session:
                assert acquisition_running(session)
        finally:
            other.close()
    after = reopen(small_settings, clock)  # the lock is free: recovery finishes sealing
    try:
        assert verify_evidence(after, item["evidence_id"], actor=ACTOR)["match"] is True
        check_store(list_evidence(after, "SEALING", status=None), small_settings.evidence_dir)
    finally:
        after.close()


def test_a_command_still_runs_where_recovery_cannot(
    ictx: AppContext,
    small_settings: Settings,
    clock: ManualClock,
    source_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A user who may read the data directory but not write it still runs commands:
    recovery says it cannot settle the unfinished items and leaves them."""
    with monkeypatch.context() as patch:
        crash_at(patch, acquisition_module, "verify_image", "before")
        with pytest.raises(Crash):
            acquire(ictx, source_file, "NOWRITE", actor=ACTOR)
    (small_settings.home / "recovery.lock").mkdir()  # cannot be opened as the lock file
    other = reopen(small_settings, clock)
    try:
        [item] = list_evidence(other, "NOWRITE", status=None)
        assert item["status"] == "acquiring"
        assert "cannot recover them here" in caplog.text
    finally:
        other.close()
    (small_settings.home / "recovery.lock").rmdir()
    after = reopen(small_settings, clock)
    try:
        [item] = list_evidence(after, "NOWRITE", status=None)
        assert item["status"] == "incomplete"
        check_store([item], small_settings.evidence_dir)
    finally:
        after.close()
