"""Crash recovery of acquisitions: make the database and the evidence store agree again.

An acquisition whose row still says ``running`` or ``sealing`` while nobody holds
its lock (:class:`~custodyd.daemon.store.lock.EvidenceLock`) was stopped by a crash,
``kill -9`` or power loss. Recovery settles it in the direction its database row
decides (see ``custodyd.daemon.acquisition``, step 5):

- ``sealing``: the database already says ``sealed`` (with its manifest and a staged
  ``evidence.sealed``); the disk is rolled *forward* — image renamed to its final
  name, ``manifest.json`` written from the committed manifest, directory sealed —
  and the acquisition becomes ``done``.
- ``running``: the database never said sealed; the disk is rolled *back* — the image
  (``.part``, or a final name an older version left) becomes ``image.raw.incomplete``,
  a sealed directory is made writable, ``manifest.json`` says ``incomplete`` with
  ``bytes`` = the size of that partial file — and the item is recorded ``incomplete``
  with a ledger entry ``acquisition.incomplete`` (reason ``interrupted``).

Every step is idempotent, so a crash during recovery is settled by the next one.
It runs at the start of every command that opens the database (``open_context``);
the lock makes that safe while other processes acquire. An item whose directory is
not on this machine (a store not mounted; another appliance sharing a PostgreSQL
database) or whose lock cannot be tried is left alone and logged.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from custodyd.daemon.clock import utc
from custodyd.daemon.durable import write_atomic
from custodyd.daemon.errors import LedgerIntegrityError
from custodyd.daemon.ledger.service import Event
from custodyd.daemon.models import Acquisition, Case, Evidence
from custodyd.daemon.store.layout import (
    IMAGE_NAME,
    LOG_NAME,
    MANIFEST_NAME,
    PART_SUFFIX,
    AcquisitionLog,
    is_sealed,
    json_bytes,
    keep_as_incomplete,
    media_bytes_in,
    seal,
    seal_on_disk,
    write_json,
)
from custodyd.daemon.store.lock import EvidenceLock, LockBusy, recovery_turn

if TYPE_CHECKING:
    from custodyd.daemon.context import AppContext

log = logging.getLogger("custodyd.recovery")

SYSTEM_ACTOR = "system:custodyd"
UNFINISHED = ("running", "sealing")
INTERRUPTED = "interrupted: custodyd stopped during the acquisition"
RECOVERY_LOCK = "recovery.lock"  # in $CUSTODYD_HOME: one recovery at a time


def recover_incomplete(ctx: AppContext) -> list[str]:
    """Settle every acquisition a dead process left unfinished; returns the evidence ids
    settled (sealed or incomplete). Live acquisitions (lock held) are not touched."""
    with ctx.session() as session:
        if not _any_unfinished(session):
            return []  # the common case: one small query, no lock
    with ExitStack() as stack:
        try:
            stack.enter_context(recovery_turn(ctx.settings.home / RECOVERY_LOCK))
        except OSError as exc:  # e.g. a user who may read but not write the data directory
            log.warning("acquisitions left unfinished; cannot recover them here: %s", exc)
            return []
        settled = _settle_all(ctx)
    if settled:
        try:
            ctx.ledger.flush_pending()
        except LedgerIntegrityError as exc:
            # The records are committed with their staged entries; the ledger refuses to
            # sign for now (logged loudly by it) and they land with the next flush.
            log.error("recovery's ledger entries not flushed yet: %s", exc.detail)
    return settled


def _settle_all(ctx: AppContext) -> list[str]:
    with ctx.session() as session:
        rows = session.exec(
            select(Acquisition.id, Acquisition.evidence_id).where(
                col(Acquisition.state).in_(UNFINISHED)
            )
        ).all()
    settled: list[str] = []
    for acquisition_id, evidence_id in rows:
        try:
            if _settle(ctx, acquisition_id, evidence_id):
                settled.append(evidence_id)
        except Exception:  # one damaged item must not stop every command
            log.warning("could not recover the acquisition of %s", evidence_id, exc_info=True)
    return settled


def _any_unfinished(session: Session) -> bool:
    query = select(Acquisition.id).where(col(Acquisition.state).in_(UNFINISHED)).limit(1)
    return session.exec(query).first() is not None


def _settle(ctx: AppContext, acquisition_id: int | None, evidence_id: str) -> bool:
    with ctx.session() as session:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None:
            return False
        directory = Path(evidence.directory)
    if not directory.is_dir():
        log.warning(
            "acquisition of %s is unfinished but its directory %s is not here "
            "(store not mounted, or another machine's): left alone",
            evidence_id,
            directory,
        )
        return False
    try:
        lock = EvidenceLock.take(directory)
    except LockBusy:
        return False  # a live acquisition
    except OSError as exc:
        log.warning("cannot try the lock of %s (%s): left alone", directory, exc.strerror)
        return False
    with lock, ctx.session() as session:
        # Re-read under the lock: the acquisition may have finished since the query.
        acq = session.get(Acquisition, acquisition_id)
        evidence = session.get(Evidence, evidence_id)
        if acq is None or evidence is None or acq.state not in UNFINISHED:
            return False
        if acq.state == "sealing":
            _roll_forward(evidence, acq, directory)
        else:
            _roll_back(ctx, session, evidence, acq, directory)
        session.add(acq)
        session.add(evidence)
    return True


def _roll_forward(evidence: Evidence, acq: Acquisition, directory: Path) -> None:
    """The database said sealed before the crash: finish the disk side of sealing."""
    assert evidence.manifest is not None, "a sealing item has its manifest committed"
    if evidence.image_path.startswith("s3://"):
        _roll_forward_s3(evidence, acq, directory)
        return
    final = Path(evidence.image_path)
    part = final.with_name(final.name + PART_SUFFIX)
    if final.name == IMAGE_NAME and part.exists() and part.stat().st_size != evidence.bytes:
        raise RuntimeError(
            f"{part} holds {part.stat().st_size} bytes, the sealed record {evidence.bytes}"
        )
    seal_on_disk(directory, final, json_bytes(evidence.manifest))
    acq.state = "done"
    log.warning(
        "recovered %s: sealing completed after an interruption",
        evidence.id,
        extra={"event": "recover.sealed", "evidence": evidence.id},
    )


def _roll_forward_s3(evidence: Evidence, acq: Acquisition, directory: Path) -> None:
    """An item on S3: the image object is complete; the manifest, log and inventory are
    written and uploaded beside it, the local staging directory sealed."""
    from custodyd.daemon.store.s3 import S3Store

    assert evidence.manifest is not None
    if not is_sealed(directory):
        write_atomic(directory / MANIFEST_NAME, json_bytes(evidence.manifest), mode=0o640)
    S3Store(evidence.image_path).put_item_files(evidence.image_path, directory)
    if not is_sealed(directory):
        seal(directory)
    acq.state = "done"
    log.warning(
        "recovered %s: sealing completed after an interruption (S3)",
        evidence.id,
        extra={"event": "recover.sealed", "evidence": evidence.id},
    )


def _roll_back(
    ctx: AppContext,
    session: Session,
    evidence: Evidence,
    acq: Acquisition,
    directory: Path,
) -> None:
    """The database never said sealed: the item is incomplete, on disk first."""
    if evidence.image_path.startswith("s3://"):  # its upload must not outlive it
        from custodyd.daemon.store.s3 import S3Store

        for step in S3Store(evidence.image_path).discard(evidence.image_path):
            _note_in_log(ctx, directory, f"recovery: {evidence.image_path}: {step}")
        for local in sorted(directory.glob("image.*")):  # a streamed E01's local parts
            local.unlink()
            _note_in_log(ctx, directory, f"recovery: removed the local upload file {local.name}")
    partial = keep_as_incomplete(directory)
    size = media_bytes_in(partial)
    now = ctx.clock.now()
    case = session.get(Case, evidence.case_id)
    case_ref = case.ref if case is not None else None
    manifest = _incomplete_manifest(ctx, evidence, case_ref, partial, size, now.isoformat())
    try:
        write_json(directory / MANIFEST_NAME, manifest)
    except OSError as exc:  # a full disk: the database and the ledger still say it
        manifest["manifest_write_error"] = exc.strerror
    _note_in_log(ctx, directory, f"recovered after an interruption: incomplete, {size} bytes")
    evidence.status = "incomplete"
    evidence.bytes = size
    evidence.manifest = manifest
    if partial is not None:
        evidence.image_path = str(partial)
    acq.state = "incomplete"
    acq.error = INTERRUPTED
    acq.bytes_done = size
    acq.finished_at = now
    ctx.ledger.stage(
        session,
        [
            Event(
                "acquisition.incomplete",
                SYSTEM_ACTOR,
                case_ref,
                evidence.id,
                {
                    "reason": "interrupted",
                    "bytes": size,
                    "partial_output": str(partial) if partial else None,
                },
            )
        ],
    )
    log.warning(
        "recovered %s: interrupted acquisition marked incomplete (%d bytes kept)",
        evidence.id,
        size,
        extra={"event": "recover.incomplete", "evidence": evidence.id, "bytes": size},
    )


def _incomplete_manifest(
    ctx: AppContext,
    evidence: Evidence,
    case_ref: str | None,
    partial: Path | None,
    size: int,
    now: str,
) -> dict[str, Any]:
    """What is known of an interrupted acquisition. The digests of a dead process are
    gone with it: no hashes and no piecewise windows are claimed (a resume re-hashes)."""
    return {
        "evidence_id": evidence.id,
        "case": case_ref,
        "status": "incomplete",
        "source": {"path": evidence.source_path},
        "medium_id": evidence.medium_id,
        "bytes": size,
        "hashes": {},
        "piecewise": {
            "algorithm": "blake3",
            "window": ctx.settings.piecewise_window,
            "count": 0,
            "digests": [],
        },
        "read_errors": [],
        "verified": None,
        "image_path": str(partial) if partial else None,
        "started_at": utc(evidence.created_at).isoformat(),
        "finished_at": now,
        "examiner": evidence.examiner,
        "incomplete_reason": INTERRUPTED,
        "recovered_at": now,
    }


def _note_in_log(ctx: AppContext, directory: Path, message: str) -> None:
    try:
        note = AcquisitionLog(directory / LOG_NAME, ctx.clock)
    except OSError:
        return
    note(message)
    note.close()
