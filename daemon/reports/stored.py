"""The part of a report read from the object store, for an item kept in S3.

The item's objects are listed and the small ones fetched with GETs
(:func:`custodyd.daemon.store.s3_item.read_item`). When the ``manifest.json``
object is byte for byte the manifest the ledger sealed (its SHA-256 equals the
``evidence.sealed`` entry's ``manifest_sha256``), the report's acquisition,
digests, piecewise table, read errors and inventory are taken from that object:
what the report prints is what the store holds. When it is missing or differs,
the report says so and shows custodyd's record of the sealed manifest instead —
never a silent substitute.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from custodyd.daemon.reports.records import StoredObjectRow, StoreRecord
from custodyd.daemon.store.s3_item import read_item

MANIFEST = "manifest.json"


def from_store(
    image_url: str, manifest: dict[str, Any], sealed_sha256: str | None
) -> tuple[dict[str, Any], StoreRecord]:
    """The manifest to print (the store's, when it is the sealed one) and the store's account."""
    item = read_item(image_url)
    raw = item.contents.get(MANIFEST)
    digest = hashlib.sha256(raw).hexdigest() if raw is not None else None
    matches = None if sealed_sha256 is None else digest == sealed_sha256
    if matches and raw is not None:
        stored = json.loads(raw)
        stored["status"] = manifest.get("status")  # the item's current status is custodyd's
        manifest = stored
    record = StoreRecord(
        folder=item.folder,
        objects=[
            StoredObjectRow(
                name=v.name,
                version_id=v.version_id,
                bytes=v.bytes,
                latest=v.latest,
                retention_mode=v.retention_mode,
                retain_until=v.retain_until,
                legal_hold=v.legal_hold,
                sha256=v.sha256,
            )
            for v in item.versions
        ],
        delete_markers=item.delete_markers,
        manifest_sha256=digest,
        manifest_matches=matches,
    )
    return manifest, record
