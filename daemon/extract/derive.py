"""Extract one file of a sealed image into a new, sealed, derived evidence item.

The law asks that a *part* of preserved data can be disclosed (consolidated text
art. 69(1); information-crimes draft art. 51) and that the release is recorded.
``extract`` copies one file out of a sealed item (never writing to it), hashes
the copy with BLAKE3 and SHA-256 while writing it, seals it read-only in its own
evidence directory, and records ``evidence.derived`` for both items: the new one
(``parent``, partition and its byte offset, path, inode, digests) and the parent
(which part was taken, and into which item). A transfer may then disclose just
the derived item.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import blake3
from pydantic import BaseModel

from custodyd.daemon.acquisition import tool_version
from custodyd.daemon.context import AppContext
from custodyd.daemon.durable import write_all
from custodyd.daemon.errors import Conflict, NotFound
from custodyd.daemon.extract.locate import Located, chunks, locate
from custodyd.daemon.ledger.service import Event
from custodyd.daemon.models import Case, Evidence
from custodyd.daemon.store.layout import (
    MANIFEST_NAME,
    evidence_directory,
    new_evidence_id,
    seal,
    write_json,
)

DERIVED = "evidence.derived"
CONTENT_NAME = "extracted.bin"
EXTRACTABLE = ("sealed",)


class Digests(BaseModel):
    blake3: str
    sha256: str


class DerivedFrom(BaseModel):
    """Which part of which sealed item the derived item holds."""

    parent: str
    parent_blake3: str | None
    partition: int | None
    offset_bytes: int
    filesystem: str
    path: str | None
    inode: int


class Tool(BaseModel):
    name: str
    version: str


class DerivedItem(BaseModel):
    """The manifest of a derived item (``manifest.json`` in its directory, and the answer)."""

    evidence_id: str
    case: str
    status: str
    kind: str
    parent: str
    derived_from: DerivedFrom
    bytes: int
    hashes: Digests
    image_path: str
    created_at: str
    actor: str
    tool: Tool


def _copy_and_hash(found: Located, fd: int) -> tuple[Digests, int]:
    """Write the file to ``fd`` while hashing it with BLAKE3 and SHA-256.

    The three consumers of a chunk run in parallel threads (hashlib, blake3 and
    ``os.write`` release the GIL on large buffers) while the next chunk is read,
    so the copy costs about its slowest stage, not the sum of them.
    """
    b3, sha = blake3.blake3(), hashlib.sha256()
    written = 0
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="extract") as pool:
        pending: list[Future[Any]] = []
        for data in chunks(found):
            for future in pending:
                future.result()  # each stream sees its chunks in order
            pending = [
                pool.submit(b3.update, data),
                pool.submit(sha.update, data),
                pool.submit(write_all, fd, data),
            ]
            written += len(data)
        for future in pending:
            future.result()
    return Digests(blake3=b3.hexdigest(), sha256=sha.hexdigest()), written


@dataclass(frozen=True)
class ExtractRequest:
    evidence_id: str
    path: str | None = None
    inode: int | None = None
    partition: int | None = None


def extract(ctx: AppContext, request: ExtractRequest, *, actor: str) -> DerivedItem:
    """Extract, seal and record; returns the derived item's manifest."""
    with ctx.session() as session:
        parent = session.get(Evidence, request.evidence_id)
        if parent is None:
            raise NotFound(f"no evidence {request.evidence_id!r}", evidence=request.evidence_id)
        if parent.status not in EXTRACTABLE:
            raise Conflict(
                f"evidence {parent.id} is {parent.status}; only a sealed item is extracted from",
                evidence=parent.id,
            )
        case = session.get(Case, parent.case_id)
        assert case is not None and case.id is not None
        case_id, case_ref = case.id, case.ref
        parent_image, parent_blake3 = parent.image_path, parent.blake3
    img, found = locate(
        parent_image, path=request.path, inode=request.inode, partition=request.partition
    )
    started = ctx.clock.now()
    evidence_id = new_evidence_id(started)
    directory = evidence_directory(ctx.settings.evidence_dir, case_ref, evidence_id)
    directory.mkdir(parents=True, mode=0o750)
    content = directory / CONTENT_NAME
    fd = os.open(content, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
    try:
        hashes, written = _copy_and_hash(found, fd)
        os.fsync(fd)
    finally:
        os.close(fd)
        close = getattr(img, "close", None)
        if callable(close):
            close()
    derived_from = DerivedFrom(
        parent=request.evidence_id,
        parent_blake3=parent_blake3,
        partition=found.partition,
        offset_bytes=found.offset_bytes,
        filesystem=found.fs_type,
        path=found.path,
        inode=found.inode,
    )
    manifest = DerivedItem(
        evidence_id=evidence_id,
        case=case_ref,
        status="sealed",
        kind="derived",
        parent=request.evidence_id,
        derived_from=derived_from,
        bytes=written,
        hashes=hashes,
        image_path=str(content),
        created_at=started.isoformat(),
        actor=actor,
        tool=Tool(name="custodyd", version=tool_version()),
    )
    write_json(directory / MANIFEST_NAME, manifest.model_dump())
    seal(directory)
    source = (
        f"{request.evidence_id}:"
        + (found.path or f"inode {found.inode}")
        + (f" (partition {found.partition})" if found.partition else "")
    )
    with ctx.session() as session:
        session.add(
            Evidence(
                id=evidence_id,
                case_id=case_id,
                status="sealed",
                source_path=source,
                bytes=written,
                blake3=hashes.blake3,
                directory=str(directory),
                image_path=str(content),
                manifest=manifest.model_dump(),
                examiner=actor,
                created_at=started,
                sealed_at=ctx.clock.now(),
            )
        )
        session.flush()
        payload = {
            **derived_from.model_dump(),
            "derived": evidence_id,
            "bytes": written,
            "hashes": hashes.model_dump(),
        }
        ctx.ledger.stage(
            session,
            [
                Event(DERIVED, actor, case_ref, evidence_id, payload),
                Event(DERIVED, actor, case_ref, request.evidence_id, payload),
            ],
        )
    ctx.ledger.flush_pending()
    return manifest
