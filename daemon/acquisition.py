"""Acquisition service: image a source into the evidence store, record it, seal it.

``acquire`` is the one way evidence enters custodyd (CLI, API and the appliance's
auto-acquisition all call it). Its order of work is the chain of custody:

1. refuse unsafe sources/destinations before anything is recorded or written;
2. the evidence directory, locked (``flock`` on its ``acquisition.log``), then the
   ``Evidence`` (status ``acquiring``) + ``Acquisition`` (``running``) rows, ledger
   ``acquisition.started``;
3. one pass: read, hash (BLAKE3 + requested), piecewise, write ``image.raw.part``;
   failure/cancel -> ``image.raw.incomplete``, status ``incomplete``, ledger
   ``acquisition.incomplete``, the error re-raised (``Cancelled``, ``DestinationFull``...);
4. ledger ``evidence.acquired`` (digests, bytes, read errors); optional verify pass
   (ledger ``evidence.verified``); inventory;
5. seal: the database first (status ``sealed``, acquisition ``sealing``, ledger
   ``evidence.sealed``), then the disk (``image.raw``, ``manifest.json``, directory
   read-only), then the acquisition ``done``; the lock is released.

After ``kill -9`` at any point, :mod:`custodyd.daemon.recovery` (run by every command
that opens the database) turns the item into a sealed one (crash after the commit of
step 5) or an incomplete one (any earlier crash), never anything in between.

The manifest dict returned is exactly what ``manifest.json`` holds.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from custodyd.daemon.cases import check_ref, get_or_create_case
from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.durable import write_atomic
from custodyd.daemon.errors import (
    Cancelled,
    Conflict,
    CustodydError,
    DestinationError,
    FixityMismatch,
    NotFound,
    SourceError,
)
from custodyd.daemon.imaging.hashers import parse_hashes
from custodyd.daemon.imaging.piecewise import piecewise_manifest
from custodyd.daemon.imaging.progress import Progress
from custodyd.daemon.imaging.safety import check_destination, check_source
from custodyd.daemon.imaging.verify import verify_image
from custodyd.daemon.ledger.service import Event
from custodyd.daemon.models import Acquisition, AcquisitionState, Case, Evidence, Medium
from custodyd.daemon.recovery import recover_incomplete
from custodyd.daemon.store.layout import (
    INVENTORY_NAME,
    LOG_NAME,
    MANIFEST_NAME,
    MAP_NAME,
    AcquisitionLog,
    evidence_directory,
    json_bytes,
    keep_as_incomplete,
    media_bytes_in,
    new_evidence_id,
    seal,
    seal_on_disk,
    write_json,
)
from custodyd.daemon.store.lock import EvidenceLock, LockBusy

if TYPE_CHECKING:
    from custodyd.daemon.imaging.engine import ImagingResult
    from custodyd.daemon.imaging.headstart import HeadStart
    from custodyd.daemon.imaging.output import ImageFormat, ImageMetadata

__all__ = [
    "Progress",
    "acquire",
    "get_manifest",
    "list_evidence",
    "recover_incomplete",
    "verify_evidence",
]


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("custodyd")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _iso(dt: Any) -> str | None:
    return utc(dt).isoformat() if dt is not None else None


def _manifest(
    *,
    evidence_id: str,
    case_ref: str,
    status: str,
    result: ImagingResult,
    image_path: Path | str | None,
    started_at: str,
    finished_at: str,
    verified: bool | None,
    examiner: str | None,
    notes: str | None,
    actor: str,
    medium_id: int | None,
    inventory: dict[str, Any] | None,
    requested: Sequence[str],
    medium: dict[str, Any] | None = None,
    verify_seconds: float | None = None,
) -> dict[str, Any]:
    source = result.source.to_dict()
    if medium:  # what the hardware layer identified fills what sysfs did not say
        source["serial"] = source["serial"] or medium["serial"]
        source["model"] = source["model"] or medium["model"]
    return {
        "evidence_id": evidence_id,
        "case": case_ref,
        "status": status,
        "source": source,
        "medium_id": medium_id,
        "medium": medium,
        "bytes": result.bytes,
        "hashes": dict(result.hashes),
        "requested_hashes": list(requested),
        "format": result.image.get("format", image_format(image_path)),
        "image": result.image or None,
        "piecewise": piecewise_manifest(result.window, result.piecewise),
        "read_errors": result.errors.to_list(),
        "read_error_count": len(result.errors.ranges),
        "read_error_bytes": result.errors.bad_bytes,
        "source_ended_early": result.ended_early,
        "verified": verified,
        "image_path": str(image_path) if image_path else None,
        "started_at": started_at,
        "finished_at": finished_at,
        "seconds": round(result.seconds, 3),
        "rate_bps": round(result.bytes / result.seconds) if result.seconds > 0 else None,
        "verify_seconds": round(verify_seconds, 3) if verify_seconds is not None else None,
        "examiner": examiner,
        "notes": notes,
        "actor": actor,
        "inventory": inventory,
        "tool": {"name": "custodyd", "version": tool_version()},
    }


@dataclass
class AcquisitionRecord:
    """One acquisition in flight: what each step after opening the item reads and adds."""

    evidence_id: str
    case_ref: str
    actor: str
    acquisition_id: int | None
    directory: Path
    image_path: Path
    log: AcquisitionLog
    started_at: str
    examiner: str | None
    notes: str | None
    medium_id: int | None
    medium: dict[str, Any] | None
    requested: list[str]
    result: ImagingResult | None = None  # set by the imaging pass
    remote: Any = None  # the S3 store when the image goes to s3://…
    image_ref: str | None = None  # the image's s3:// URL then
    sealed: bool = False  # the database says sealed: from then on recovery rolls forward

    def imaged(self) -> ImagingResult:
        assert self.result is not None, "the imaging pass has not run"
        return self.result

    def manifest(self, **rest: Any) -> dict[str, Any]:
        """The manifest of this item with ``rest`` (status, paths, times, verdicts)."""
        return _manifest(
            evidence_id=self.evidence_id,
            case_ref=self.case_ref,
            result=self.imaged(),
            started_at=self.started_at,
            examiner=self.examiner,
            notes=self.notes,
            actor=self.actor,
            medium_id=self.medium_id,
            requested=self.requested,
            medium=self.medium,
            **rest,
        )


def acquire(
    ctx: AppContext,
    source: Path,
    case_ref: str,
    *,
    actor: str,
    hashes: Sequence[str] = (),
    examiner: str | None = None,
    notes: str | None = None,
    verify: bool = True,
    store: Path | str | None = None,
    medium_id: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    output: ImageFormat | None = None,
) -> dict[str, Any]:
    """Image ``source`` into the store for case ``case_ref``; returns the sealed manifest.

    ``output`` says what is written (default: the settings' ``image_format``, raw
    unless configured; E01 with ``e01_compression`` and ``e01_segment_size``).

    The item's ``acquisition.log`` is locked (:class:`EvidenceLock`) before its row
    says ``running`` and released only after the row says how it ended, so recovery
    in any other process leaves a live acquisition alone.
    """
    check_ref(case_ref)  # before anything is created: the ref names a store directory
    settings = ctx.settings
    source = Path(source)
    requested = parse_hashes(list(hashes) or settings.extra_hashes)
    output = output or default_output(settings)
    check_source(source)
    if source.is_file():
        output.check_source_size(source.stat().st_size, str(source))
    remote = _remote_store(store if store is not None else settings.store_url)
    if remote is not None:
        remote.check()  # a bucket without Object Lock is refused before anything starts
        store_root = settings.home / "s3-staging"  # manifest, log, inventory before upload
    else:
        store_root = Path(store) if store is not None else settings.evidence_dir
    check_destination(source, store_root)
    try:
        store_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DestinationError(f"cannot create the store {store_root}: {exc.strerror}") from None

    clock = ctx.clock
    started = clock.now()
    evidence_id = new_evidence_id(started)
    opened = _open_item(
        ctx,
        store_root,
        evidence_id,
        case_ref,
        actor=actor,
        source=source,
        medium_id=medium_id,
        examiner=examiner,
        notes=notes,
        hashes=["blake3", *requested],
        output=output,
        remote=remote,
    )
    lock, acquisition_id, case_ref, directory, medium = opened
    image_path = directory / output.image_name
    from custodyd.daemon.imaging.output import ImageMetadata

    metadata = ImageMetadata(
        case=case_ref,
        evidence_id=evidence_id,
        examiner=examiner,
        notes=notes,
        started=started,
        version=tool_version(),
    )
    try:
        log = AcquisitionLog(directory / LOG_NAME, clock)
        log(
            f"custodyd {tool_version()} acquisition {evidence_id} case {case_ref} by {actor} "
            f"(process CPU so far {time.process_time():.2f}s)"
        )
        record = AcquisitionRecord(
            evidence_id=evidence_id,
            case_ref=case_ref,
            actor=actor,
            acquisition_id=acquisition_id,
            directory=directory,
            image_path=image_path,
            log=log,
            started_at=started.isoformat(),
            examiner=examiner,
            notes=notes,
            medium_id=medium_id,
            medium=medium,
            requested=list(requested),
            remote=remote,
            image_ref=(
                str(remote.item(case_ref, evidence_id, output.image_name))
                if remote is not None
                else None
            ),
        )
        try:
            return _image_and_seal(ctx, record, source, verify, progress, cancel, output, metadata)
        finally:
            log.close()
    finally:
        lock.release()


def _open_item(
    ctx: AppContext,
    store_root: Path,
    evidence_id: str,
    case_ref: str,
    *,
    actor: str,
    source: Path,
    medium_id: int | None,
    examiner: str | None,
    notes: str | None,
    hashes: list[str],
    output: ImageFormat,
    remote: Any = None,
) -> tuple[EvidenceLock, int | None, str, Path, dict[str, Any] | None]:
    """Create the evidence directory, lock it, then record the item ``acquiring``.

    The directory and its lock exist before the row commits: a process that sees the
    row ``running`` and can take the lock knows the acquisition is dead. When the
    directory cannot be created the item is recorded ``incomplete`` at once.
    """
    clock = ctx.clock
    error: DestinationError | None = None
    lock: EvidenceLock | None = None
    try:
        with ctx.session() as session:
            case, created = get_or_create_case(session, clock, case_ref)
            case_ref = case.ref
            medium = _medium_identity(session, medium_id)
            directory = evidence_directory(store_root, case_ref, evidence_id)
            try:
                directory.mkdir(parents=True, mode=0o750)
                lock = EvidenceLock.take(directory)
            except (OSError, LockBusy) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                error = DestinationError(f"cannot create {directory}: {reason}")
            now = clock.now()
            assert case.id is not None
            session.add(
                Evidence(
                    id=evidence_id,
                    case_id=case.id,
                    medium_id=medium_id,
                    status="acquiring" if error is None else "incomplete",
                    source_path=str(source),
                    directory=str(directory),
                    image_path=(
                        str(remote.item(case_ref, evidence_id, output.image_name))
                        if remote is not None
                        else str(directory / output.image_name)
                    ),
                    examiner=examiner,
                    created_at=now,
                )
            )
            session.flush()
            acquisition = Acquisition(
                evidence_id=evidence_id, state=AcquisitionState.RUNNING, started_at=now
            )
            if error is not None:
                acquisition.state, acquisition.error, acquisition.finished_at = (
                    AcquisitionState.INCOMPLETE,
                    error.detail,
                    now,
                )
            session.add(acquisition)
            session.flush()
            acquisition_id = acquisition.id
            if created:
                _stage(ctx, session, "case.created", actor, case_ref, None, {"ref": case_ref})
            _stage(
                ctx,
                session,
                "acquisition.started",
                actor,
                case_ref,
                evidence_id,
                {
                    "source": str(source),
                    "medium_id": medium_id,
                    "hashes": hashes,
                    **output.to_dict(),
                    "examiner": examiner,
                    "notes": notes,
                    "directory": str(directory),
                    **({"store": str(remote.root)} if remote is not None else {}),
                },
            )
            if error is not None:
                _stage(
                    ctx,
                    session,
                    "acquisition.incomplete",
                    actor,
                    case_ref,
                    evidence_id,
                    {"reason": "failed", "error": error.slug, "detail": error.detail, "bytes": 0},
                )
    except BaseException:
        if lock is not None:  # nothing was recorded: no lock may outlive this
            lock.release()
        raise
    ctx.ledger.flush_pending()
    if error is not None:
        error.extra.setdefault("evidence_id", evidence_id)  # the item exists: name it
        raise error
    assert lock is not None
    return lock, acquisition_id, case_ref, directory, medium


def _image_and_seal(
    ctx: AppContext,
    record: AcquisitionRecord,
    source: Path,
    verify: bool,
    progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
    output: ImageFormat,
    metadata: ImageMetadata,
) -> dict[str, Any]:
    """The pass, then sealing; anything short of a sealed item is recorded ``incomplete``."""
    # Imported here, not at the top: ``custodyd verify`` imports this module and needs
    # neither the imaging pipeline (E01 writer, isal) nor the inventory (pytsk3).
    from custodyd.daemon.imaging.engine import failed_result, image_source

    settings = ctx.settings
    try:
        result = image_source(
            source,
            record.image_path,
            hashes=record.requested,
            window=settings.piecewise_window,
            block_size=settings.block_size,
            buffers=pipeline_buffers(settings, record.remote),
            retries=settings.rescue_retries,
            progress=progress,
            cancel=cancel,
            log=record.log,
            output=output,
            metadata=metadata,
            publish=False,  # renamed to its final name only after the database says sealed
            sink=_upload_sink(record, output, metadata),
        )
    except Exception as exc:  # could not even start (source vanished, store unwritable)
        result = failed_result(source, exc, settings.piecewise_window)
    record.result = result
    return seal_or_record_incomplete(ctx, record, verify, progress, cancel)


def seal_or_record_incomplete(
    ctx: AppContext,
    record: AcquisitionRecord,
    verify: bool,
    progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
) -> dict[str, Any]:
    """After the imaging pass (``record.result``; a fresh one or a resumed one): seal,
    or record the item ``incomplete`` and re-raise its error."""
    result = record.imaged()
    if not result.complete:
        return _record_incomplete(ctx, record)
    try:
        manifest = _complete(ctx, record, verify, progress, cancel)
    except Exception as exc:
        if record.sealed:
            raise  # the database says sealed: recovery finishes the disk side
        error = exc if isinstance(exc, CustodydError) else CustodydError(str(exc))
        result.outcome = "cancelled" if isinstance(exc, Cancelled) else "failed"
        result.error = error
        if record.remote is not None and record.image_ref is not None:
            _remove_remote(record.remote, record.image_ref, record.log)  # complete, not sealed
        return _record_incomplete(ctx, record)
    if manifest["verified"] is False:
        raise FixityMismatch(
            f"evidence {record.evidence_id}: the written image does not match what was read",
            evidence_id=record.evidence_id,
        )
    return manifest


def _complete(
    ctx: AppContext,
    record: AcquisitionRecord,
    verify: bool,
    progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
) -> dict[str, Any]:
    """Record, verify, inventory, then seal: the database first, the disk after.

    Until the commit that says ``sealed`` the image is ``image.raw.part`` and no
    manifest is on disk, so a crash leaves nothing that claims more than the database
    (recovery makes it ``incomplete``). The commit also leaves the acquisition in
    state ``sealing``; then the image is renamed, ``manifest.json`` written from the
    committed manifest and the directory sealed, and only then is the acquisition
    ``done`` — a crash in between is rolled forward by recovery (``record.sealed``
    is set at that commit: after it nothing is rolled back).
    """
    ledger, clock = ctx.ledger, ctx.clock
    result = record.imaged()
    assert result.image_path is not None
    part_path = result.image_path
    evidence_id, case_ref, actor = record.evidence_id, record.case_ref, record.actor
    log, directory, image_path = record.log, record.directory, record.image_path
    acquisition_id = record.acquisition_id
    log(
        f"read {result.bytes} bytes in {result.seconds:.2f}s; blake3 {result.hashes['blake3']}"
        + "".join(f"; {k} {v}" for k, v in result.hashes.items() if k != "blake3")
    )
    ledger.append(
        "evidence.acquired",
        actor=actor,
        case=case_ref,
        evidence=evidence_id,
        payload={
            "bytes": result.bytes,
            "hashes": result.hashes,
            "read_errors": result.errors.to_list(),
            "read_error_count": len(result.errors.ranges),
            "piecewise_window": result.window,
            "source": result.source.to_dict(),
        },
    )
    verified, verify_seconds = _verify_written(ctx, record, part_path, verify, progress, cancel)
    inv = _safe_inventory(_media(record.image_ref or part_path))
    inv["path"] = record.image_ref or str(image_path)  # the name it is sealed under
    log(
        f"inventory: {len(inv.get('partitions', []))} partitions, "
        f"{len(inv.get('filesystems', []))} filesystems"
    )
    status = "sealed" if verified is not False else "mismatch"
    manifest = record.manifest(
        status=status,
        image_path=record.image_ref or image_path,
        finished_at=clock.now().isoformat(),
        verified=verified,
        inventory=inv,
        verify_seconds=verify_seconds,
    )
    write_json(directory / INVENTORY_NAME, inv)
    manifest_bytes = json_bytes(manifest)
    manifest_digest = hashlib.sha256(manifest_bytes).hexdigest()
    log(f"manifest sha256 {manifest_digest}; sealing (process CPU {time.process_time():.2f}s)")
    log.close()
    sealed_at = clock.now()
    with ctx.session() as session:
        evidence = session.get(Evidence, evidence_id)
        acq = session.get(Acquisition, acquisition_id)
        assert evidence is not None and acq is not None
        evidence.status = status
        evidence.bytes = result.bytes
        evidence.blake3 = result.hashes["blake3"]
        evidence.manifest = manifest
        evidence.inventory = inv
        evidence.sealed_at = sealed_at
        # the disk side follows; recovery finishes it after a crash
        acq.state = AcquisitionState.SEALING
        acq.bytes_done = result.bytes
        acq.bytes_total = result.source.size
        acq.read_errors = len(result.errors.ranges)
        acq.finished_at = sealed_at
        session.add(evidence)
        session.add(acq)
        _stage(
            ctx,
            session,
            "evidence.sealed",
            actor,
            case_ref,
            evidence_id,
            {
                "blake3": result.hashes["blake3"],
                "manifest_sha256": manifest_digest,
                "directory": str(directory),
                "status": status,
            },
        )
    record.sealed = True
    ledger.flush_pending()
    if record.remote is not None and record.image_ref is not None:
        write_atomic(directory / MANIFEST_NAME, manifest_bytes, mode=0o640)
        _upload_beside(record.remote, record.image_ref, directory)
        seal(directory)
    else:
        seal_on_disk(directory, image_path, manifest_bytes)
    with ctx.session() as session:
        acq = session.get(Acquisition, acquisition_id)
        assert acq is not None
        acq.state = AcquisitionState.DONE
        session.add(acq)
    return manifest


def _verify_written(
    ctx: AppContext,
    record: AcquisitionRecord,
    part_path: Path,
    verify: bool,
    progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
) -> tuple[bool | None, float | None]:
    """Verify the written image and ledger ``evidence.verified``: (verdict, seconds),
    (None, None) when no verification was asked for.

    A rescued or resumed image was hashed by reading it back from the destination
    (bypassing the page cache): that read is the verification. Windows pass 1 streamed
    and no later pass touched were compared with the source stream; a second re-read
    would only compare the file with itself. Any other image is read once more."""
    if not verify:
        return None, None
    result, log = record.imaged(), record.log
    readback = result.readback
    if readback is not None:
        verified, seconds = not readback["mismatched"], readback["seconds"]
        log(
            f"verified by read-back: blake3 {result.hashes['blake3']}; "
            f"{readback['compared']} window(s) equal to the source stream, "
            f"{readback['rescued']} rescued, mismatched {readback['mismatched']}"
        )
        payload: dict[str, Any] = {
            "match": verified,
            "blake3": result.hashes["blake3"],
            "expected": result.hashes["blake3"],
            "mismatched_windows": readback["mismatched"],
            "windows_compared_with_source": readback["compared"],
            "windows_rescued": readback["rescued"],
            "pass": "acquisition-readback",
        }
    else:
        check = verify_image(
            _media(record.image_ref or part_path),
            expected_blake3=result.hashes["blake3"],
            expected_piecewise=result.piecewise,
            window=result.window,
            block_size=ctx.settings.block_size,
            buffers=ctx.settings.buffers,
            progress=progress,
            cancel=cancel,
        )
        verified, seconds = check.match, check.seconds
        log(f"verify pass: blake3 {check.blake3} match={check.match} ({check.seconds:.2f}s)")
        payload = {
            "match": check.match,
            "blake3": check.blake3,
            "expected": check.expected,
            "mismatched_windows": [w["index"] for w in check.mismatched_windows],
            "bad_chunks": [c["index"] for c in check.bad_chunks],
            "pass": "acquisition",
        }
    ctx.ledger.append(
        "evidence.verified",
        actor=record.actor,
        case=record.case_ref,
        evidence=record.evidence_id,
        payload=payload,
    )
    return verified, seconds


def _remote_store(store: Path | str | None) -> Any:
    """The S3 store named by ``s3://bucket/prefix``, or None for a local directory."""
    if isinstance(store, str) and store.startswith("s3://"):
        from custodyd.daemon.store.s3 import S3Store

        return S3Store(store)
    return None


UPLOAD_BUFFERS = 2


def pipeline_buffers(settings: Any, remote: Any) -> int:
    """Pipeline blocks in flight. Into S3 the upload paces the pass (the server shares
    the machine): a third or fourth 16 MiB block read ahead only costs memory — measured
    at 512 MiB into SeaweedFS, 2 blocks gave the same MB/s as 4 (within noise) with peak
    RSS 166 MiB instead of 198-210."""
    return min(settings.buffers, UPLOAD_BUFFERS) if remote is not None else settings.buffers


def _upload_sink(record: AcquisitionRecord, output: ImageFormat, metadata: ImageMetadata) -> Any:
    """The image's consumer when it goes to S3: a multipart upload of the raw stream, or
    an E01 whose segments are streamed into one object each as they are written."""
    remote, url, staging = record.remote, record.image_ref, record.image_path
    if remote is None or url is None:
        return None
    from custodyd.daemon.store.s3 import MultipartSink, S3Url

    image = S3Url.parse(url)
    if output.kind == "raw":
        return lambda _info, settled: MultipartSink(remote, image, staging, settled=settled)
    from custodyd.daemon.imaging.streamed_e01 import StreamedE01Sink
    from custodyd.daemon.store.s3_file_upload import FileUpload

    folder = S3Url(image.bucket, image.key.rsplit("/", 1)[0])
    return lambda info, _settled: StreamedE01Sink(
        staging,
        output,
        info,
        metadata,
        lambda name, local: FileUpload(remote, folder.join(name), local),
    )


def _upload_beside(remote: Any, image_url: str, directory: Path) -> None:
    """Manifest, log and inventory as objects beside the image (same prefix)."""
    remote.put_item_files(image_url, directory)


def _remove_remote(remote: Any, image_url: str, log: AcquisitionLog) -> None:
    """A finished upload whose later steps failed: delete it (nothing locks it yet)."""
    for step in remote.discard(image_url):
        log(f"{image_url}: {step} (the acquisition did not complete)")


def _media(image_ref: Path | str) -> Any:
    return media_of(image_ref)


def media_of(image_ref: Path | str) -> Any:
    """A local image path, or a ranged-GET reader of an ``s3://`` image: the object of a
    raw image, or an E01 decoded from its segment objects (``image.E01``, ``.E02``…)."""
    if not (isinstance(image_ref, str) and image_ref.startswith("s3://")):
        return image_ref
    from custodyd.daemon.store.s3 import S3Reader, S3Store, S3Url

    if not image_ref.endswith(".E01"):
        return S3Reader(image_ref)
    from custodyd.daemon.imaging.ewf.layout import segment_extension
    from custodyd.daemon.imaging.ewf.reader import EwfImage

    first = S3Url.parse(image_ref)
    store = S3Store(f"s3://{first.bucket}/")
    base = first.key.removesuffix(".E01")
    try:
        sizes = store.object_sizes(S3Url(first.bucket, base + "."))
    except Exception as exc:
        raise SourceError(f"cannot list the segments of {image_ref}: {exc}") from None
    readers: list[Any] = []
    while (key := f"{base}.{segment_extension(len(readers) + 1)}") in sizes:
        readers.append(S3Reader(S3Url(first.bucket, key), store.s3, sizes[key]))
    if not readers:
        raise SourceError(f"cannot read {image_ref}: no such object")
    image = EwfImage(first.key.rsplit("/", 1)[-1], sources=readers)
    image.url = image_ref
    return image


def default_output(settings: Any) -> ImageFormat:
    from custodyd.daemon.imaging.output import ImageFormat

    return ImageFormat(
        settings.image_format.lower(), settings.e01_compression.lower(), settings.e01_segment_size
    )


def image_format(image_path: Path | str | None) -> str:
    return "e01" if image_path is not None and ".E01" in Path(str(image_path)).name else "raw"


def _stage(
    ctx: AppContext,
    session: Session,
    action: str,
    actor: str,
    case_ref: str | None,
    evidence_id: str | None,
    payload: dict[str, Any],
) -> None:
    """Stage one ledger entry (its own batch and checkpoint) in the caller's transaction;
    the caller runs ``ctx.ledger.flush_pending()`` after the commit (see Ledger.stage)."""
    ctx.ledger.stage(session, [Event(action, actor, case_ref, evidence_id, payload)])


def _medium_identity(session: Session, medium_id: int | None) -> dict[str, Any] | None:
    """The hardware layer's identity of the medium (serial, model, WWN...) for the manifest."""
    if medium_id is None:
        return None
    medium = session.get(Medium, medium_id)
    if medium is None:
        raise NotFound(f"no medium {medium_id}", medium_id=medium_id)
    return {
        "id": medium.id,
        "key": medium.key,
        "path": medium.path,
        "serial": medium.serial,
        "model": medium.model,
        "vendor": medium.vendor,
        "wwn": medium.wwn,
        "bus": medium.bus,
        "size": medium.size,
        "write_block": medium.write_block,
        # the USB bridge (or hardware blocker) the medium hung on when it was acquired
        "usb_id": (medium.identity or {}).get("usb_id"),
        "usb_chain": (medium.identity or {}).get("usb_chain") or [],
    }


def _safe_inventory(image_path: Any) -> dict[str, Any]:
    from custodyd.daemon.inventory import inventory as run_inventory

    try:
        return run_inventory(image_path)
    except Exception as exc:  # inventory must never lose an acquisition
        return {
            "path": str(image_path),
            "partitions": [],
            "filesystems": [],
            "notes": [f"inventory failed: {exc}"],
        }


def _record_incomplete(ctx: AppContext, record: AcquisitionRecord) -> dict[str, Any]:
    """Mark the item incomplete on disk, then in the database; re-raise the engine's error.

    What is recorded is what the partial file holds: ``bytes`` is its size and the
    piecewise digests are those of the windows complete in it (``bytes_read`` says how
    far the source was read).
    """
    result = record.imaged()
    log, directory = record.log, record.directory
    error = result.error or CustodydError("acquisition did not complete")
    kept = _settle_upload(record, error)
    partial = keep_as_incomplete(directory)
    size = media_bytes_in(partial)
    finished = ctx.clock.now()
    manifest = record.manifest(
        status="incomplete",
        image_path=partial if kept is None else record.image_ref,  # a kept upload: its key
        finished_at=finished.isoformat(),
        verified=None,
        inventory=None,
    )
    manifest["hashes"] = {}  # digests of a partial read are not evidence digests
    manifest["bytes"] = size
    manifest["bytes_read"] = result.bytes
    complete_windows = result.piecewise[: size // result.window]
    manifest["piecewise"] = piecewise_manifest(result.window, complete_windows)
    manifest["incomplete_reason"] = f"{result.outcome}: {error.detail}"
    if kept is not None:
        manifest["upload_kept_for_resume"] = kept
    try:
        write_json(directory / MANIFEST_NAME, manifest)
    except OSError as exc:  # e.g. the destination is full: the DB and ledger still say it
        manifest["manifest_write_error"] = exc.strerror
    log(f"marked incomplete: {error.detail}; {size} bytes in {partial}")
    log.close()
    with ctx.session() as session:
        evidence = session.get(Evidence, record.evidence_id)
        acq = session.get(Acquisition, record.acquisition_id)
        assert evidence is not None and acq is not None
        evidence.status = "incomplete"
        evidence.bytes = size
        evidence.manifest = manifest
        if partial is not None:
            evidence.image_path = str(partial)
        acq.state = AcquisitionState.INCOMPLETE  # why: acq.error and the ledger's reason
        acq.bytes_done = size
        acq.bytes_total = result.source.size
        acq.read_errors = len(result.errors.ranges)
        acq.error = error.detail
        acq.finished_at = finished
        session.add(evidence)
        session.add(acq)
        _stage(
            ctx,
            session,
            "acquisition.incomplete",
            record.actor,
            record.case_ref,
            record.evidence_id,
            {
                "reason": result.outcome,
                "error": error.slug,
                "detail": error.detail,
                "bytes": size,
                "bytes_read": result.bytes,
                "partial_output": str(partial) if partial else None,
                **({"upload_kept_for_resume": kept} if kept is not None else {}),
            },
        )
    ctx.ledger.flush_pending()
    error.extra.setdefault("evidence_id", record.evidence_id)  # where the partial output is
    raise error


def _settle_upload(record: AcquisitionRecord, error: CustodydError) -> dict[str, Any] | None:
    """An S3 acquisition that did not complete: abort its upload, or keep it open for
    ``custodyd image --resume`` — only when the *source* failed (a disk that dropped off
    the bus: the examiner reattaches it and continues), the image is raw, and the server
    holds at least one whole part the rescue map vouches for. A cancel, a store error or
    anything else aborts (the issue's rule; a crash is settled by recovery, which aborts
    too). A kept upload is never an object: S3 shows nothing under the key until the
    upload is completed, which only a resume that reads the whole image back does.
    Returns what was kept (for the manifest and the ledger) or None."""
    remote, image_ref = record.remote, record.image_ref
    if remote is None or image_ref is None:
        return None
    from custodyd.daemon.store.s3 import PART_SIZE, S3Url

    if (
        isinstance(error, SourceError)
        and image_ref.endswith("/image.raw")
        and (record.directory / MAP_NAME).exists()
    ):
        kept = remote.kept_upload(S3Url.parse(image_ref))
        if kept is not None:
            upload_id, parts = kept
            whole = trusted_parts(parts, PART_SIZE, record.directory / MAP_NAME)
            if whole:
                record.log(
                    f"{image_ref}: upload {upload_id} kept open for a resume "
                    f"({whole} parts, {whole * PART_SIZE} bytes stored)"
                )
                return {"upload_id": upload_id, "parts": whole, "bytes": whole * PART_SIZE}
    for step in remote.discard(image_ref):
        record.log(f"{image_ref}: {step} (the acquisition did not complete)")
    return None


def trusted_parts(parts: dict[int, tuple[str, int]], part_size: int, map_path: Path) -> int:
    """How many parts of a kept upload a resume trusts: whole parts 1..n listed by the
    server, within what the rescue map (saved only after the server acknowledged those
    bytes) marks finished from the start."""
    from custodyd.daemon.imaging import mapfile

    try:
        finished = mapfile.load(map_path).finished_prefix()
    except mapfile.MapfileError:
        return 0
    n = 0
    while (n + 1) in parts and parts[n + 1][1] == part_size and (n + 1) * part_size <= finished:
        n += 1
    return n


def _evidence(session: Session, evidence_id: str) -> Evidence:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(f"no evidence {evidence_id!r}", evidence_id=evidence_id)
    return evidence


def list_evidence(
    ctx: AppContext, case_ref: str | None = None, status: str | None = "sealed"
) -> list[dict[str, Any]]:
    """Manifests of evidence items (``status=None``: every status), oldest first."""
    with ctx.session() as session:
        query = select(Evidence, Case).where(Evidence.case_id == Case.id)
        if case_ref is not None:
            query = query.where(Case.ref == case_ref)
        if status is not None:
            query = query.where(Evidence.status == status)
        rows = session.exec(query.order_by(Evidence.created_at, Evidence.id)).all()
        return [_manifest_of(ev, case) for ev, case in rows]


def manifest_of(evidence: Evidence, case: Case) -> dict[str, Any]:
    """The manifest of an item as the API and CLI show it (with its current status)."""
    return _manifest_of(evidence, case)


def _manifest_of(evidence: Evidence, case: Case) -> dict[str, Any]:
    if evidence.manifest:
        manifest = dict(evidence.manifest)
        manifest["status"] = evidence.status
        return manifest
    return {  # still acquiring (or crashed before a manifest was written)
        "evidence_id": evidence.id,
        "case": case.ref,
        "status": evidence.status,
        "source": {"path": evidence.source_path},
        "bytes": evidence.bytes,
        "hashes": {},
        "image_path": evidence.image_path,
        "started_at": _iso(evidence.created_at),
    }


def get_manifest(ctx: AppContext, evidence_id: str) -> dict[str, Any]:
    with ctx.session() as session:
        evidence = _evidence(session, evidence_id)
        case = session.get(Case, evidence.case_id)
        assert case is not None
        return _manifest_of(evidence, case)


def verify_evidence(
    ctx: AppContext,
    evidence_id: str,
    *,
    actor: str,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    head_start: HeadStart | None = None,
) -> dict[str, Any]:
    """Re-hash a sealed image; record ``evidence.verified``; a mismatch sets status ``mismatch``.

    ``head_start``: the CLI's thread that began hashing the image where the store
    layout puts it before this process knew, from the database, which file it is;
    used only if it hashed that very file (see :func:`verify_image`).
    """
    with ctx.session() as session:
        evidence = _evidence(session, evidence_id)
        case = session.get(Case, evidence.case_id)
        assert case is not None
        case_ref = case.ref
        manifest = evidence.manifest or {}
        if evidence.status not in ("sealed", "mismatch") or not manifest.get("hashes"):
            raise Conflict(
                f"evidence {evidence_id} is {evidence.status}; "
                "only sealed evidence can be verified",
                evidence_id=evidence_id,
                status=evidence.status,
            )
        sealing = session.exec(
            select(Acquisition.id)
            .where(Acquisition.evidence_id == evidence_id)
            .where(Acquisition.state == "sealing")
        ).first()
        if sealing is not None:  # recorded sealed; its files are being put in place
            raise Conflict(
                f"evidence {evidence_id} is being sealed; verify it in a moment",
                evidence_id=evidence_id,
                status="sealing",
            )
        image_path: Path | str = evidence.image_path
        if not evidence.image_path.startswith("s3://"):
            image_path = Path(evidence.image_path)
    piecewise = manifest.get("piecewise") or {}
    window = int(piecewise.get("window") or ctx.settings.piecewise_window)
    started = time.monotonic()
    check = verify_image(
        _media(image_path),
        expected_blake3=manifest["hashes"]["blake3"],
        expected_piecewise=list(piecewise.get("digests") or []),
        window=window,
        block_size=ctx.settings.block_size,
        buffers=ctx.settings.buffers,
        progress=progress,
        cancel=cancel,
        head_start=head_start,
    )
    report = {
        "evidence_id": evidence_id,
        "case": case_ref,
        "match": check.match,
        "blake3": check.blake3,
        "expected": check.expected,
        "mismatched_windows": check.mismatched_windows,
        "bad_chunks": check.bad_chunks,
        **({"md5": check.md5, "stored_md5": check.stored_md5} if check.md5 else {}),
        "read_errors": check.read_errors,
        "bytes": check.bytes,
        "expected_bytes": manifest.get("bytes"),
        "seconds": round(time.monotonic() - started, 3),
        "verified_at": ctx.clock.now().isoformat(),
    }
    if check.bytes != manifest.get("bytes"):
        report["match"] = False
    with ctx.session() as session:
        if not report["match"]:
            evidence = _evidence(session, evidence_id)
            if evidence.status == "sealed":
                evidence.status = "mismatch"
                session.add(evidence)
        _stage(
            ctx,
            session,
            "evidence.verified",
            actor,
            case_ref,
            evidence_id,
            {
                "match": report["match"],
                "blake3": check.blake3,
                "expected": check.expected,
                "mismatched_windows": [w["index"] for w in check.mismatched_windows],
                "bad_chunks": [c["index"] for c in check.bad_chunks],
                "bytes": check.bytes,
            },
        )
    ctx.ledger.flush_pending()
    return report
