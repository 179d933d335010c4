"""The typed records a report is rendered from.

A report is a pure function of one :class:`Report`: the gatherer
(:mod:`custodyd.daemon.reports.gather`) fills it from the records the API
returns (the manifest, the ledger entries, the orders), and the renderer
(:mod:`custodyd.daemon.reports.render`) hands it to the typst template as JSON.
Nothing in here is markup: every user-controlled value stays a JSON string and
the template places it as text, so it can never be interpreted as typst code.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from custodyd.daemon.orders.states import OrderStatus


class ProvenEntry(BaseModel):
    """One ledger entry with its RFC 9162 inclusion proof against the report's checkpoint."""

    index: int
    time: str
    actor: str
    action: str
    case: str | None
    evidence: str | None
    payload: dict[str, Any]
    details: str = Field(description="The payload as short 'key: value' text for people")
    leaf: str = Field(
        description="The exact RFC 8785 bytes of the leaf (UTF-8); empty when withheld"
    )
    leaf_hash: str = Field(description="hex SHA-256(0x00 || leaf), RFC 9162 section 2.1.1")
    proof: list[str] = Field(description="hex audit path, leaf to root (RFC 9162 2.1.3)")


class SignedCheckpoint(BaseModel):
    """The C2SP signed checkpoint every proof in the report is checked against."""

    origin: str
    size: int
    root_hex: str
    note: str
    public_key: str = Field(description="C2SP verifier key: name+keyhash+base64(0x01||key)")


class SourceIdentity(BaseModel):
    """What the source medium was, as identified at acquisition time."""

    path: str | None = None
    device: str | None = None
    is_device: bool | None = None
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    wwn: str | None = None
    bus: str | None = None
    usb_bridge: str | None = None
    usb_chain: list[str] = []
    write_block: str | None = None
    write_block_reason: str | None = None
    size: int | None = None
    logical_sector_size: int | None = None
    physical_sector_size: int | None = None


class ImageFile(BaseModel):
    """Where and how the image was written (raw, or E01 with its segments)."""

    format: str | None = None
    path: str | None = None
    compression: str | None = None
    segments: list[str] = []
    chunk_size: int | None = None
    chunks: int | None = None
    compressed_chunks: int | None = None
    stored_bytes: int | None = None


class Digest(BaseModel):
    algorithm: str
    hex: str


class PieceRow(BaseModel):
    index: int
    offset: int
    length: int
    blake3: str


class ReadErrorRow(BaseModel):
    offset: int
    length: int
    start_sector: int | None = None
    sectors: int | None = None
    sector_size: int | None = None


class Verification(BaseModel):
    """One re-hash of the image as the ledger recorded it (``evidence.verified``)."""

    index: int
    time: str
    actor: str
    match: bool | None
    kind: str = Field(description="'acquisition' for the verify pass, else a later check")


class Partition(BaseModel):
    start_sector: int | None = None
    length_sectors: int | None = None
    description: str | None = None


class Filesystem(BaseModel):
    offset_sectors: int | None = None
    type: str | None = None
    file_count: int | None = None


class OrderRecord(BaseModel):
    """A preservation order covering the item, as the orders API shows it to this reader."""

    id: int
    ref: str
    regime: str
    status: OrderStatus
    issued_on: str
    received_on: str | None = None
    effected_on: str | None = None
    expires_on: str
    expiry_rule: str | None = Field(None, description="The rule, with its article, behind it")
    in_force: bool = Field(description="As of the report's ledger state, not of printing")
    hold: bool
    confidential: bool
    whole_case: bool
    authority: str | None = None
    offence: str | None = None


class StoredObjectRow(BaseModel):
    """One object version in the S3 store, as the server reports it."""

    name: str
    version_id: str
    bytes: int
    latest: bool
    retention_mode: str | None = None
    retain_until: str | None = None
    legal_hold: bool | None = None
    sha256: str | None = None


class StoreRecord(BaseModel):
    """What the object store holds for an item kept in S3 (read from it for the report)."""

    folder: str
    objects: list[StoredObjectRow] = []
    delete_markers: list[str] = []
    manifest_sha256: str | None = Field(
        None, description="SHA-256 of the manifest.json object read from the store"
    )
    manifest_matches: bool | None = Field(
        None, description="That object is the manifest the ledger sealed (None: nothing sealed)"
    )


class Item(BaseModel):
    """One evidence item: acquisition, hashes, piecewise table, errors, verification."""

    evidence_id: str
    case: str
    status: str
    examiner: str | None = None
    acquired_by: str | None = None
    notes: str | None = None
    source: SourceIdentity
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    rate_bps: int | None = None
    bytes: int | None = None
    image: ImageFile = ImageFile()
    hashes: list[Digest] = []
    manifest_sha256: str | None = None
    piecewise_window: int | None = None
    piecewise: list[PieceRow] = []
    read_errors: list[ReadErrorRow] = []
    read_error_bytes: int = 0
    verified_at_acquisition: bool | None = None
    verifications: list[Verification] = []
    volume_system: str | None = None
    partitions: list[Partition] = []
    filesystems: list[Filesystem] = []
    inventory_notes: list[str] = []
    orders: list[OrderRecord] = []
    held_notice: str | None = Field(
        None, description="Set when an order the reader may not know holds the item"
    )
    retained_until: str | None = None
    hold: bool = False
    tool: str | None = None
    store: StoreRecord | None = Field(
        None, description="Set for an item kept in S3: the store's own account of it"
    )


class CaseInfo(BaseModel):
    ref: str
    title: str
    created_at: str | None = None


class Report(BaseModel):
    """Everything one PDF shows. Same ledger state and reader's entitlement -> same value."""

    kind: Literal["evidence", "case"]
    subject: str = Field(description="The evidence id, or the case ref")
    case: CaseInfo
    items: list[Item]
    timeline: list[ProvenEntry]
    checkpoint: SignedCheckpoint
    as_of: str = Field(description="Time of the newest ledger entry the report covers")
    last_index: int = Field(description="Index of the newest ledger entry the report covers")
    generator: str
