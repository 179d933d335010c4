"""Resuming an interrupted acquisition where it stopped, in the same evidence item.

A failing disk that dropped off the bus, a Ctrl-C, a full destination, a power cut:
the item is ``incomplete`` with its partial image (``image.raw.incomplete``) and the
rescue map (``ddrescue.map``) that vouches only for bytes that were synced. Resuming
reads what the map does not mark finished — the rest of pass 1, then trimming,
scraping and retries — into that same file, re-hashes the finished image (its
digests equal a fresh acquisition's), verifies and seals it like any acquisition.

The source must be the same medium: the same size as the map, and, where the first
acquisition recorded them, the same serial and model. Only raw images can be
resumed (an E01's compressed chunks cannot be patched; an interrupted E01 is
acquired again). The resume is ledgered as ``acquisition.resumed`` with what was
already copied, before anything is read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from custodyd.daemon.acquisition import (
    AcquisitionRecord,
    _evidence,
    _stage,
    seal_or_record_incomplete,
    tool_version,
)
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import AcquisitionInProgress, Conflict, SourceError
from custodyd.daemon.imaging import mapfile
from custodyd.daemon.imaging.engine import failed_result, resume_image
from custodyd.daemon.imaging.progress import Progress
from custodyd.daemon.imaging.reader import open_source
from custodyd.daemon.imaging.safety import check_source
from custodyd.daemon.item_files import MAP_NAME
from custodyd.daemon.models import Acquisition, Case, Evidence
from custodyd.daemon.store.layout import LOG_NAME, AcquisitionLog
from custodyd.daemon.store.lock import EvidenceLock, LockBusy

RAW_PARTIAL = "image.raw.incomplete"


def resume(
    ctx: AppContext,
    evidence_id: str,
    *,
    actor: str,
    source: Path | None = None,
    verify: bool = True,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Continue ``evidence_id`` from its map; returns the sealed manifest.

    ``source`` defaults to the path the item was acquired from (a re-attached medium
    may come back under another device node: the appliance passes the new one).
    """
    item = _load(ctx, evidence_id, source)
    lock = _lock(item.directory, evidence_id)
    try:
        acquisition_id = _record_resume(ctx, item, actor)
        log = AcquisitionLog(item.directory / LOG_NAME, ctx.clock)
        try:
            return _run(ctx, item, acquisition_id, log, actor, verify, progress, cancel)
        finally:
            log.close()
    finally:
        lock.release()


def resumable_item(ctx: AppContext, medium_key: str, size: int) -> str | None:
    """The newest ``incomplete`` raw item of this medium that a resume can continue
    (partial image and rescue map present, map of this size), or None."""
    from sqlmodel import col, select

    from custodyd.daemon.models import Medium

    with ctx.session() as session:
        rows = session.exec(
            select(Evidence)
            .join(Medium, col(Evidence.medium_id) == col(Medium.id))
            .where(Medium.key == medium_key, Evidence.status == "incomplete")
            .order_by(col(Evidence.created_at).desc())
        ).all()
        candidates = [(e.id, Path(e.directory)) for e in rows]
    for evidence_id, directory in candidates:
        try:
            rmap = mapfile.load(directory / MAP_NAME, size)
        except mapfile.MapfileError:
            continue
        if (directory / RAW_PARTIAL).exists() and rmap.size == size:
            return evidence_id
    return None


class _Item:
    """What a resume needs to know of the interrupted item."""

    def __init__(
        self,
        evidence: Evidence,
        case_ref: str,
        source: Path,
        rmap: mapfile.RescueMap,
    ) -> None:
        manifest: dict[str, Any] = dict(evidence.manifest or {})
        self.evidence_id = evidence.id
        self.case_ref = case_ref
        self.source = source
        self.directory = Path(evidence.directory)
        self.partial = self.directory / RAW_PARTIAL
        self.image_path = self.directory / "image.raw"
        self.manifest = manifest
        self.map = rmap
        self.medium_id = evidence.medium_id
        self.examiner = evidence.examiner
        self.notes = manifest.get("notes")
        self.started_at = manifest.get("started_at") or (
            evidence.created_at.isoformat() if evidence.created_at else None
        )
        requested = manifest.get("requested_hashes") or ["blake3"]
        self.requested = [h for h in requested if h != "blake3"]
        self.remote: str | None = None  # the s3:// image of an item resumed into its upload
        self.upload: tuple[str, dict[int, str]] | None = None  # (upload id, trusted parts)

    @property
    def stored_bytes(self) -> int:
        """What the interrupted acquisition left: the partial file, or the trusted parts."""
        if self.upload is not None:
            from custodyd.daemon.store.s3 import PART_SIZE

            return len(self.upload[1]) * PART_SIZE
        return self.partial.stat().st_size


def _load(ctx: AppContext, evidence_id: str, source: Path | None) -> _Item:
    """Check the item can be resumed from ``source``; nothing is written yet."""
    with ctx.session() as session:
        evidence = _evidence(session, evidence_id)
        case = session.get(Case, evidence.case_id)
        assert case is not None
        if evidence.status != "incomplete":
            raise Conflict(
                f"evidence {evidence_id} is {evidence.status}; only an incomplete "
                "acquisition can be resumed",
                evidence_id=evidence_id,
                status=evidence.status,
            )
        directory = Path(evidence.directory)
        remote = evidence.image_path if evidence.image_path.startswith("s3://") else None
        if remote is not None:
            upload = _kept_upload(evidence_id, remote, directory)
        elif not (directory / RAW_PARTIAL).exists():
            raise Conflict(
                f"evidence {evidence_id} has no partial raw image to resume "
                f"({directory / RAW_PARTIAL}); an interrupted E01 is acquired again",
                evidence_id=evidence_id,
            )
        if not (directory / MAP_NAME).exists():
            raise Conflict(
                f"evidence {evidence_id} has no rescue map ({MAP_NAME}): acquired by a "
                "version without resume; acquire it again",
                evidence_id=evidence_id,
            )
        source = Path(source or evidence.source_path)
        check_source(source)
        _check_same_medium(evidence_id, source, dict(evidence.manifest or {}))
        rmap = mapfile.load(directory / MAP_NAME)
        item = _Item(evidence, case.ref, source, rmap)
        if remote is not None:
            item.remote, item.upload = remote, upload
            item.image_path = directory / "image.raw"
    if "requested_hashes" not in item.manifest:  # recovered after a crash: ask the ledger
        started = [e for e in ctx.ledger.history(evidence_id) if e.action == "acquisition.started"]
        if started:
            hashes = started[-1].payload.get("hashes") or []
            item.requested = [h for h in hashes if h != "blake3"]
    return item


def _kept_upload(evidence_id: str, image_url: str, directory: Path) -> tuple[str, dict[int, str]]:
    """The upload an S3 acquisition kept open when its source failed, and the parts of it
    a resume trusts (see ``acquisition.trusted_parts``); Conflict when there is none."""
    from custodyd.daemon.acquisition import trusted_parts
    from custodyd.daemon.store.s3 import PART_SIZE, S3Store, S3Url

    url = S3Url.parse(image_url)
    kept = S3Store(image_url).kept_upload(url)
    whole = 0
    if kept is not None and (directory / MAP_NAME).exists():
        whole = trusted_parts(kept[1], PART_SIZE, directory / MAP_NAME)
    if kept is None or not whole:
        raise Conflict(
            f"evidence {evidence_id} has no upload kept for a resume under {image_url} "
            "(only an acquisition whose source failed keeps one); acquire it again",
            evidence_id=evidence_id,
        )
    upload_id, parts = kept
    return upload_id, {n: parts[n][0] for n in range(1, whole + 1)}


def _check_same_medium(evidence_id: str, source: Path, manifest: dict[str, Any]) -> None:
    """The resumed source must be the medium the first pass read, not just any disk."""
    import os

    fd, info = open_source(source)
    os.close(fd)
    first = manifest.get("source") or {}
    expected_size = first.get("size")
    if expected_size is not None and info.size != expected_size:
        raise SourceError(
            f"{source} has {info.size} bytes; evidence {evidence_id} was read from a "
            f"source of {expected_size} bytes: not the same medium",
            evidence_id=evidence_id,
        )
    for field in ("serial", "model"):
        before, now = first.get(field), getattr(info, field)
        if before and now and before != now:
            raise SourceError(
                f"{source} has {field} {now!r}; evidence {evidence_id} was read from "
                f"{before!r}: not the same medium",
                evidence_id=evidence_id,
            )


def _lock(directory: Path, evidence_id: str) -> EvidenceLock:
    try:
        return EvidenceLock.take(directory)
    except LockBusy:
        raise AcquisitionInProgress(
            f"evidence {evidence_id} is being acquired or resumed by another process",
            evidence_id=evidence_id,
        ) from None


def _record_resume(ctx: AppContext, item: _Item, actor: str) -> int | None:
    """The item is ``acquiring`` again, with a new acquisition row and the ledger's
    ``acquisition.resumed`` naming what the map already vouches for."""
    now = ctx.clock.now()
    with ctx.session() as session:
        evidence = _evidence(session, item.evidence_id)
        if evidence.status != "incomplete":  # another process resumed it meanwhile
            raise Conflict(
                f"evidence {item.evidence_id} is {evidence.status}",
                evidence_id=item.evidence_id,
            )
        evidence.status = "acquiring"
        evidence.image_path = item.remote or str(item.image_path)
        session.add(evidence)
        acquisition = Acquisition(evidence_id=item.evidence_id, state="running", started_at=now)
        session.add(acquisition)
        session.flush()
        acquisition_id = acquisition.id
        _stage(
            ctx,
            session,
            "acquisition.resumed",
            actor,
            item.case_ref,
            item.evidence_id,
            {
                "source": str(item.source),
                "already_copied": item.map.rescued,
                "bad_sector_bytes": item.map.bytes_in(mapfile.BAD_SECTOR),
                "to_read": item.map.size - item.map.rescued,
                "partial_bytes": item.stored_bytes,
                **({"upload_id": item.upload[0]} if item.upload is not None else {}),
                "previous_pass": item.map.current_pass,
            },
        )
    ctx.ledger.flush_pending()
    return acquisition_id


def _run(
    ctx: AppContext,
    item: _Item,
    acquisition_id: int | None,
    log: AcquisitionLog,
    actor: str,
    verify: bool,
    progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
) -> dict[str, Any]:
    settings = ctx.settings
    log(
        f"custodyd {tool_version()} resuming {item.evidence_id} case {item.case_ref} by {actor}: "
        f"{item.map.rescued} of {item.map.size} bytes already copied"
    )
    try:
        if item.upload is not None:
            result = _resume_upload(item, settings, progress, cancel, log)
        else:
            result = resume_image(
                item.source,
                item.image_path,
                item.partial,
                hashes=item.requested,
                window=settings.piecewise_window,
                block_size=settings.block_size,
                buffers=settings.buffers,
                retries=settings.rescue_retries,
                progress=progress,
                cancel=cancel,
                log=log,
                publish=False,
            )
    except Exception as exc:  # the source or the partial image could not be opened
        result = failed_result(item.source, exc, settings.piecewise_window)
    record = AcquisitionRecord(
        evidence_id=item.evidence_id,
        case_ref=item.case_ref,
        actor=actor,
        acquisition_id=acquisition_id,
        directory=item.directory,
        image_path=item.image_path,
        log=log,
        started_at=item.started_at,
        examiner=item.examiner,
        notes=item.notes,
        medium_id=item.medium_id,
        medium=item.manifest.get("medium"),
        requested=list(item.requested),
        result=result,
    )
    if item.remote is not None:
        from custodyd.daemon.store.s3 import S3Store

        record.remote, record.image_ref = S3Store(item.remote), item.remote
    return seal_or_record_incomplete(ctx, record, verify, progress, cancel)


def _resume_upload(
    item: _Item,
    settings: Any,
    progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
    log: AcquisitionLog,
) -> Any:
    """The rest of the image into the upload its first acquisition kept open."""
    from custodyd.daemon.acquisition import UPLOAD_BUFFERS
    from custodyd.daemon.imaging.engine import resume_stream
    from custodyd.daemon.store.s3 import PART_SIZE, MultipartSink, S3Store, S3Url

    assert item.remote is not None and item.upload is not None
    upload_id, parts = item.upload
    store, url = S3Store(item.remote), S3Url.parse(item.remote)
    return resume_stream(
        item.source,
        item.image_path,
        len(parts) * PART_SIZE,
        lambda _info, settled: MultipartSink.resumed(
            store, url, item.image_path, upload_id, parts, settled=settled
        ),
        hashes=item.requested,
        window=settings.piecewise_window,
        block_size=settings.block_size,
        buffers=min(settings.buffers, UPLOAD_BUFFERS),
        retries=settings.rescue_retries,
        progress=progress,
        cancel=cancel,
        log=log,
    )
