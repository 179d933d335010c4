"""What the object store holds for one S3 item, as the store itself says it.

A report of an item kept in S3 is read from the store, not from custodyd's own
records only: every object version under the item's prefix (image or E01
segments, manifest, log, inventory, map), each with its size and the Object Lock
the server reports for it (COMPLIANCE retention date, legal hold), and the bytes
of the small objects (manifest, log, inventory) fetched with GETs so their
SHA-256 can be compared with what the ledger sealed.

Nothing here changes the store: only LIST, HEAD-like and GET calls.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from custodyd.daemon.errors import ServiceUnavailable
from custodyd.daemon.store.s3 import S3Store, S3Url, _error_code

SMALL_OBJECT = 16 * 1024 * 1024  # manifest, log, inventory, map: read whole (one GET)
IMAGE_PREFIX = "image."


@dataclass(frozen=True)
class StoredVersion:
    """One object version under the item's prefix."""

    name: str  # the key relative to the item's folder (``image.raw``, ``manifest.json``…)
    version_id: str
    bytes: int
    latest: bool
    retention_mode: str | None
    retain_until: str | None  # ISO 8601 UTC, as the server reports it
    legal_hold: bool | None
    sha256: str | None = None  # of the content, for the small objects (read with a GET)


@dataclass
class StoredItem:
    """The item's folder in the store: its object versions and the small objects' bytes."""

    folder: str  # s3://bucket/prefix/case/EV…
    versions: list[StoredVersion]
    delete_markers: list[str]
    contents: dict[str, bytes] = field(default_factory=dict)  # latest small objects by name

    def latest(self, name: str) -> StoredVersion | None:
        for version in self.versions:
            if version.name == name and version.latest:
                return version
        return None


def read_item(image_url: str, store: S3Store | None = None) -> StoredItem:
    """List and read the item whose image (or first segment) is ``image_url``.

    Raises :class:`ServiceUnavailable` when the store cannot be read: a report that
    says what the store holds is not issued from a guess.
    """
    image = S3Url.parse(image_url)
    folder = S3Url(image.bucket, image.key.rsplit("/", 1)[0])
    store = store or S3Store(f"s3://{image.bucket}/")
    try:
        return _read(store, folder)
    except ServiceUnavailable:
        raise
    except Exception as exc:
        raise ServiceUnavailable(
            f"cannot read the item's objects from {folder}: {exc}", store=str(folder)
        ) from None


def _read(store: S3Store, folder: S3Url) -> StoredItem:
    s3 = store.s3
    prefix = folder.key + "/"
    raw_versions: list[dict[str, Any]] = []
    markers: list[str] = []
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=folder.bucket, Prefix=prefix
    ):
        raw_versions.extend(page.get("Versions", []))
        markers.extend(m["Key"][len(prefix) :] for m in page.get("DeleteMarkers", []))
    contents: dict[str, bytes] = {}
    versions = []
    for v in sorted(raw_versions, key=lambda v: (_rank(v["Key"][len(prefix) :]), v["Key"])):
        name = v["Key"][len(prefix) :]
        if "/" in name:
            continue  # not one of the item's own objects
        mode, until = _retention(s3, folder.bucket, v["Key"], v["VersionId"])
        digest = None
        if int(v["Size"]) <= SMALL_OBJECT and not name.startswith(IMAGE_PREFIX):
            body = s3.get_object(Bucket=folder.bucket, Key=v["Key"], VersionId=v["VersionId"])
            data: bytes = body["Body"].read()
            digest = hashlib.sha256(data).hexdigest()
            if v.get("IsLatest"):
                contents[name] = data
        versions.append(
            StoredVersion(
                name=name,
                version_id=str(v["VersionId"]),
                bytes=int(v["Size"]),
                latest=bool(v.get("IsLatest")),
                retention_mode=mode,
                retain_until=until,
                legal_hold=_legal_hold(s3, folder.bucket, v["Key"], v["VersionId"]),
                sha256=digest,
            )
        )
    return StoredItem(str(folder), versions, sorted(markers), contents)


def _rank(name: str) -> int:
    """Image objects first, then the rest by name."""
    return 0 if name.startswith(IMAGE_PREFIX) else 1


def _retention(s3: Any, bucket: str, key: str, version: str) -> tuple[str | None, str | None]:
    try:
        answer = s3.get_object_retention(Bucket=bucket, Key=key, VersionId=version)
    except Exception as exc:
        if _error_code(exc) in (
            "NoSuchObjectLockConfiguration",
            "ObjectLockConfigurationNotFoundError",
            "NoSuchKey",
        ):
            return None, None
        raise
    retention = answer.get("Retention") or {}
    until = retention.get("RetainUntilDate")
    return retention.get("Mode"), _iso(until) if isinstance(until, datetime) else None


def _legal_hold(s3: Any, bucket: str, key: str, version: str) -> bool | None:
    try:
        answer = s3.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version)
    except Exception as exc:
        if _error_code(exc) in ("NoSuchObjectLegalHold", "NoSuchObjectLockConfiguration"):
            return None
        raise
    return (answer.get("LegalHold") or {}).get("Status") == "ON"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


REPORTS = "reports"


def store_report(folder_url: str, pdf: bytes, store: S3Store | None = None) -> str:
    """Keep an issued report as an object beside the item (``reports/<sha256>.pdf``),
    under the same Object Lock as the item's image now has (COMPLIANCE until the same
    date, the same legal hold; later order changes move it with the rest). The same
    state renders the same bytes, so a report issued twice is stored once. Its URL."""
    folder = S3Url.parse(folder_url)
    url = folder.join(REPORTS, hashlib.sha256(pdf).hexdigest() + ".pdf")
    store = store or S3Store(f"s3://{folder.bucket}/")
    s3 = store.s3
    try:
        s3.head_object(Bucket=url.bucket, Key=url.key)
        return str(url)
    except Exception as exc:
        if _error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise ServiceUnavailable(f"cannot store the report at {url}: {exc}") from None
    lock: dict[str, Any] = {}
    images = store.image_objects(str(folder.join("image.raw")))
    image = next((i for i in images if store.versions(i)), None)
    if image is not None:
        version = store.versions(image)[-1]
        mode, until = _retention(s3, image.bucket, image.key, version)
        if mode == "COMPLIANCE" and until is not None:
            lock["ObjectLockMode"] = "COMPLIANCE"
            lock["ObjectLockRetainUntilDate"] = datetime.fromisoformat(until)
        if _legal_hold(s3, image.bucket, image.key, version):
            lock["ObjectLockLegalHoldStatus"] = "ON"
    try:
        s3.put_object(
            Bucket=url.bucket, Key=url.key, Body=pdf, ContentType="application/pdf", **lock
        )
    except Exception as exc:
        raise ServiceUnavailable(f"cannot store the report at {url}: {exc}") from None
    return str(url)


def report_objects(store: S3Store, folder: S3Url) -> list[S3Url]:
    """The issued reports kept beside an item (for the Object Lock to follow the orders)."""
    sizes = store.object_sizes(folder.join(REPORTS) if folder.key else folder)
    return [S3Url(folder.bucket, key) for key in sorted(sizes)]
