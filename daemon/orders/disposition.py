"""Disposition: return or destroy an evidence item at the end of its retention.

Refused (:class:`DispositionRefused`, HTTP 409 / exit 4) while any order covering
the item is in force or any hold stands; the check happens before a single byte
is touched. Otherwise the image and every copy in the item's directory are
securely deleted — overwritten with zeros, flushed to disk, then unlinked — and
the record files are kept (``manifest.json``, ``acquisition.log``,
``inventory.json``), as is the ledger. The directory was sealed read-only by
imaging; it is made writable for the deletion and sealed again afterwards. A
destruction record (who, when, how, why, which files with their sizes) is
stored, the item becomes ``disposed`` and the ledger gets ``evidence.disposed``.

Overwriting is a best effort on copy-on-write filesystems and SSDs (the old
blocks may survive in the device); full-disk encryption of the store is the
real protection there, and the record says which method was used.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.durable import fsync_dir, write_all
from custodyd.daemon.errors import Conflict, DispositionRefused, InvalidInput, NotFound
from custodyd.daemon.ledger.service import Event
from custodyd.daemon.models import Acquisition, Case, Disposition, Evidence
from custodyd.daemon.orders.lifecycle import expire_due
from custodyd.daemon.orders.retention import assert_disposable
from custodyd.daemon.orders.states import DisposalMethod
from custodyd.daemon.orders.views import DispositionDone, DispositionRecord

KEEP = frozenset({"manifest.json", "acquisition.log", "inventory.json"})
CHUNK = 4 * 1024 * 1024


def secure_delete(path: Path) -> dict[str, Any]:
    """Overwrite ``path`` with zeros, fsync, unlink. Returns what was done."""
    size = path.stat().st_size
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    zeros = bytes(CHUNK)
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        left = size
        while left > 0:
            left -= write_all(fd, zeros[: min(CHUNK, left)])
        os.fsync(fd)  # why: the zeros must reach the disk before the name is gone
    finally:
        os.close(fd)
    path.unlink()
    return {"path": str(path), "bytes": size, "overwritten": "zeros, 1 pass", "unlinked": True}


def _delete_object_versions(image_url: str) -> list[dict[str, Any]]:
    """Destroy an item's image in an S3 store: every version of the object is deleted
    (manifest, log and inventory stay, as locally). A store that refuses — its Object
    Lock retention or legal hold still stands — stops the disposal before anything is
    recorded."""
    from custodyd.daemon.store.s3 import S3Store, S3Url

    store = S3Store(image_url)
    deleted: list[dict[str, Any]] = [  # an upload kept for a resume that will not come
        {
            "path": f"s3://{S3Url.parse(image_url).bucket}/{key}",
            "upload": upload,
            "deleted": "upload aborted",
        }
        for upload, key in store.abort_uploads(image_url)
    ]
    for url in store.image_objects(image_url):  # the raw object, or every E01 segment
        for version in store.versions(url):
            try:
                store.s3.delete_object(Bucket=url.bucket, Key=url.key, VersionId=version)
            except Exception as exc:
                raise DispositionRefused(
                    f"the object store refused to delete {url} (version {version}): {exc}",
                    object=str(url),
                ) from None
            deleted.append({"path": str(url), "version": version, "deleted": "object version"})
    return deleted


def _targets(item: Evidence) -> tuple[Path, list[Path]]:
    directory = Path(item.directory)
    files = []
    if directory.is_dir():
        files = [p for p in sorted(directory.iterdir()) if p.is_file() and p.name not in KEEP]
    image = Path(item.image_path)
    if image.is_file() and image not in files and image.name not in KEEP:
        files.append(image)
    for copy in (item.manifest or {}).get("copies") or []:
        path = Path(str(copy.get("path") if isinstance(copy, dict) else copy))
        if path.is_file() and path not in files:
            files.append(path)
    return directory, files


def dispose(
    ctx: AppContext,
    evidence_id: str,
    *,
    method: str,
    reason: str,
    actor: str,
    returned_to: str | None = None,
    transfer_id: int | None = None,
) -> DispositionDone:
    """Return or destroy ``evidence_id``; ``transfer_id`` links the record to the closing
    of the transfer it was received under."""
    if method not in tuple(DisposalMethod):
        raise InvalidInput(f"method must be destroy or return, not {method!r}")
    if not reason.strip():
        raise InvalidInput("a disposition needs a reason")
    expire_due(ctx)  # lapsed orders are recorded as expired before they are judged
    with ctx.session() as session:
        item = session.get(Evidence, evidence_id)
        if item is None:
            raise NotFound(f"no evidence item {evidence_id!r}", evidence=evidence_id)
        if item.status == "disposed":
            raise Conflict(f"evidence {evidence_id} was already disposed of", evidence=evidence_id)
        running = session.exec(
            select(Acquisition.id).where(
                Acquisition.evidence_id == evidence_id,
                col(Acquisition.state).in_(("queued", "running")),
            )
        ).first()
        if running is not None or item.status == "acquiring":
            raise Conflict(f"evidence {evidence_id} is still being acquired", evidence=evidence_id)
        assert_disposable(session, evidence_id, clock=ctx.clock)
        case = session.get(Case, item.case_id)
        case_ref = case.ref if case else None
        directory, files = _targets(item)
        remote_image = item.image_path if item.image_path.startswith("s3://") else None
    done: list[dict[str, Any]] = []
    if remote_image is not None:  # the store refuses while its own retention stands
        done.extend(_delete_object_versions(remote_image))
    if directory.is_dir():
        os.chmod(directory, 0o755)
    try:
        for path in files:
            if path.parent != directory and path.parent.is_dir():
                os.chmod(path.parent, os.stat(path.parent).st_mode | stat.S_IWUSR)
            done.append(secure_delete(path))
    finally:
        if directory.is_dir():
            for kept in directory.iterdir():
                if kept.is_file():
                    os.chmod(kept, 0o444)
            os.chmod(directory, 0o555)
            fsync_dir(directory)  # why: the unlinks and the re-sealed mode must survive a crash
    with ctx.session() as session:
        item = session.get(Evidence, evidence_id)
        assert item is not None
        previous = item.status
        item.status = "disposed"
        session.add(item)
        row = Disposition(
            evidence_id=evidence_id,
            method=method,
            reason=reason,
            returned_to=returned_to,
            actor=actor,
            performed_at=ctx.clock.now(),
            files=done,
            transfer_id=transfer_id,
        )
        session.add(row)
        session.flush()
        result = DispositionDone(
            **_record(row).model_dump(),
            case=case_ref,
            previous_status=previous,
            kept=sorted(p.name for p in directory.iterdir()) if directory.is_dir() else [],
        )
        ctx.ledger.stage(
            session,
            [
                Event(
                    "evidence.disposed",
                    actor,
                    case_ref,
                    evidence_id,
                    {
                        "disposition_id": result.id,
                        "method": method,
                        "reason": reason,
                        "returned_to": returned_to,
                        "files": done,
                        "blake3": item.blake3,
                        "transfer_id": transfer_id,
                    },
                )
            ],
        )
    ctx.ledger.flush_pending()
    return result


def _record(row: Disposition) -> DispositionRecord:
    assert row.id is not None
    return DispositionRecord(
        id=row.id,
        evidence_id=row.evidence_id,
        method=DisposalMethod(row.method),
        reason=row.reason,
        returned_to=row.returned_to,
        actor=row.actor,
        performed_at=utc(row.performed_at).isoformat(),
        files=list(row.files or []),
        transfer_id=row.transfer_id,
    )


def get_disposition(ctx: AppContext, evidence_id: str) -> DispositionRecord | None:
    with ctx.session() as session:
        row = session.exec(
            select(Disposition).where(Disposition.evidence_id == evidence_id)
        ).first()
        return None if row is None else _record(row)
