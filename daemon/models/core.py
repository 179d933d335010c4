"""Cases, media, evidence items and acquisitions: the acquisition engine's records.

Evidence ``status`` is the honest state of an item: ``acquiring`` while imaging,
``incomplete`` when it was cancelled/failed/crashed (never counted as evidence),
``sealed`` once imaged, verified and made read-only, ``mismatch`` when a fixity
check found the image changed, ``disposed`` after return or destruction.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field, SQLModel

from custodyd.daemon.models.columns import json_column, utc_datetime


class Case(SQLModel, table=True):
    __tablename__ = "cases"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True, max_length=200)
    title: str = ""
    status: str = "open"  # open | closed
    created_at: datetime = utc_datetime()
    closed_at: datetime | None = utc_datetime(nullable=True)


class Medium(SQLModel, table=True):
    """A physical source as the hardware layer identified it."""

    __tablename__ = "media"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True)  # stable identity: wwn/serial, else path+size
    path: str
    serial: str | None = None
    model: str | None = None
    vendor: str | None = None
    wwn: str | None = None
    bus: str | None = None
    size: int = 0
    logical_sector_size: int = 512
    physical_sector_size: int = 512
    read_only: bool = False
    write_block: str = "none"  # hardware | software | none
    state: str = "attached"  # attached | held | queued | acquiring | acquired | refused | detached
    identity: dict[str, Any] | None = json_column()
    first_seen: datetime = utc_datetime()
    last_seen: datetime = utc_datetime()


class Evidence(SQLModel, table=True):
    __tablename__ = "evidence"

    id: str = Field(primary_key=True, max_length=64)
    case_id: int = Field(foreign_key="cases.id", index=True)
    medium_id: int | None = Field(default=None, foreign_key="media.id", index=True)
    status: str = Field(default="acquiring", index=True)
    source_path: str
    bytes: int = 0
    blake3: str | None = Field(default=None, index=True)
    directory: str
    image_path: str
    manifest: dict[str, Any] | None = json_column()
    inventory: dict[str, Any] | None = json_column()
    examiner: str | None = None
    created_at: datetime = utc_datetime()
    sealed_at: datetime | None = utc_datetime(nullable=True)


class AcquisitionState(StrEnum):
    """The one vocabulary of an acquisition's state (stored as the lower-case value).

    Every way an acquisition can end without a sealed item — the source failed, it
    was cancelled, the process died — is ``incomplete``; *why* is in ``error`` and in
    the ledger's ``acquisition.incomplete`` entry (``reason``), not in another state.
    """

    RUNNING = "running"
    SEALING = "sealing"  # the database says sealed; the disk side is being finished
    DONE = "done"
    INCOMPLETE = "incomplete"


class Acquisition(SQLModel, table=True):
    __tablename__ = "acquisitions"

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: str = Field(foreign_key="evidence.id", index=True)
    state: str = AcquisitionState.RUNNING  # an AcquisitionState
    bytes_done: int = 0
    bytes_total: int = 0
    read_errors: int = 0
    error: str | None = None
    started_at: datetime = utc_datetime()
    finished_at: datetime | None = utc_datetime(nullable=True)
