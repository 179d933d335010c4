"""Preservation orders, regimes, transfers of personal data, dispositions, alert outbox.

Dates that the law counts in days (issue date, expiry, deadlines) are plain
``date`` columns, UTC calendar days. An order is in force up to the **end** of its
``expires_on`` day (the conservative reading: never dispose a day early).

``alert_outbox`` is the exactly-once mechanism for alerts: one row per
(subject, key, channel) under a unique constraint, where the key names the
deadline and the lead time; a row is inserted once, delivered, and marked sent.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from custodyd.daemon.models.columns import json_column, utc_datetime


class Regime(SQLModel, table=True):
    """A legal basis added by an administrator (the shipped ones live in regimes.json)."""

    __tablename__ = "order_regimes"

    id: str = Field(primary_key=True, max_length=64)
    name: str
    citation: str = ""
    scope: str = "domestic"  # international | domestic
    period_days: int
    min_days: int | None = None
    max_days: int | None = None
    renewable: bool = False
    renewal_days: int | None = None
    max_renewals: int | None = None
    alert_to: list[str] | None = json_column()
    created_by: str
    created_at: datetime = utc_datetime()


class PreservationOrder(SQLModel, table=True):
    __tablename__ = "preservation_orders"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(index=True, max_length=200)
    regime_id: str = Field(max_length=64, index=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    whole_case: bool = False
    authority: str | None = None
    offence: str | None = None
    summary: str | None = None
    data_concerned: str | None = None
    relation: str | None = None
    custodian: str | None = None
    necessity: str | None = None
    followup_announced: bool = False
    confidential: bool = False
    issued_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    # when the request reached us, and when the data were actually preserved: the
    # minimum of an international regime runs from max(received_on, effected_on)
    received_on: date = Field(sa_column=sa.Column(sa.Date))
    effected_on: date = Field(sa_column=sa.Column(sa.Date))
    clock_start: date = Field(sa_column=sa.Column(sa.Date))
    expiry_rule: str | None = None  # the rule (with its article) that gave expires_on
    period_days: int
    expires_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False, index=True))
    renewals: int = 0
    # active | hold | executing | decided | expired | released | refused
    status: str = Field(default="active", index=True, max_length=20)
    followup_ref: str | None = None
    followup_at: datetime | None = utc_datetime(nullable=True)
    decision: str | None = None  # granted | refused | withdrawn
    decision_ref: str | None = None
    decided_at: datetime | None = utc_datetime(nullable=True)
    executed_basis: str | None = None  # seizure, production or transfer that executed a grant
    executed_transfer_id: int | None = None
    executed_at: datetime | None = utc_datetime(nullable=True)
    refusal_grounds: str | None = Field(default=None, max_length=64)
    refusal_reason: str | None = None
    need_to_know: list[str] | None = json_column()  # user names (confidential orders)
    commitment_salt: str | None = Field(default=None, max_length=64)
    ended_at: datetime | None = utc_datetime(nullable=True)
    end_reason: str | None = None
    lead_days: list[int] | None = json_column()
    alert_to: list[str] | None = json_column()
    entered_by: str
    entered_at: datetime = utc_datetime()


class OrderItem(SQLModel, table=True):
    __tablename__ = "preservation_order_items"

    order_id: int = Field(foreign_key="preservation_orders.id", primary_key=True)
    evidence_id: str = Field(foreign_key="evidence.id", primary_key=True, max_length=64)


class Transfer(SQLModel, table=True):
    """Personal data handed to (or received from) another authority."""

    __tablename__ = "data_transfers"

    id: int | None = Field(default=None, primary_key=True)
    ref: str | None = Field(default=None, max_length=200)
    direction: str = "outgoing"  # outgoing | incoming
    case_id: int = Field(foreign_key="cases.id", index=True)
    recipient: str
    purpose: str
    transferred_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    consented_days: int
    deadline: date = Field(sa_column=sa.Column(sa.Date, nullable=False, index=True))
    third_party_consent: bool = False
    consent_ref: str | None = None
    status: str = Field(default="open", index=True, max_length=20)  # open | returned | destroyed
    use_report: str | None = None
    reported_at: datetime | None = utc_datetime(nullable=True)
    closed_at: datetime | None = utc_datetime(nullable=True)
    lead_days: list[int] | None = json_column()
    alert_to: list[str] | None = json_column()
    entered_by: str
    entered_at: datetime = utc_datetime()


class TransferItem(SQLModel, table=True):
    """One evidence item (or a described part of it) included in a transfer."""

    __tablename__ = "data_transfer_items"

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: int = Field(foreign_key="data_transfers.id", index=True)
    evidence_id: str = Field(foreign_key="evidence.id", index=True, max_length=64)
    part: str | None = None  # None: the whole item; else what part was released


class ThirdPartyRelease(SQLModel, table=True):
    __tablename__ = "data_transfer_releases"

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: int = Field(foreign_key="data_transfers.id", index=True)
    third_party: str
    consent_ref: str | None = None
    part: str | None = None
    released_by: str
    released_at: datetime = utc_datetime()


class OrderNotice(SQLModel, table=True):
    """A time-stamped notice to the requesting state (art. 68(6)): cannot secure, threat."""

    __tablename__ = "order_notices"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="preservation_orders.id", index=True)
    kind: str = Field(max_length=40)  # cannot-secure | confidentiality-threat | other
    text: str
    actor: str
    noticed_at: datetime = utc_datetime()


class TransferConsent(SQLModel, table=True):
    """Prior written consent of the sender to share with one named third party (art. 57)."""

    __tablename__ = "data_transfer_consents"

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: int = Field(foreign_key="data_transfers.id", index=True)
    third_party: str = Field(max_length=500)
    consent_ref: str = Field(max_length=500)
    recorded_by: str
    recorded_at: datetime = utc_datetime()


class Disposition(SQLModel, table=True):
    """The destruction (or return) record of an item: who, when, how, why."""

    __tablename__ = "dispositions"

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: str = Field(foreign_key="evidence.id", index=True, max_length=64)
    method: str  # destroy | return
    reason: str
    returned_to: str | None = None
    actor: str
    performed_at: datetime = utc_datetime()
    files: list[dict[str, Any]] | None = json_column()
    transfer_id: int | None = None  # the transfer whose closing disposed of the item


class AlertRecipient(SQLModel, table=True):
    """Extra alert recipients for a case or a regime (on top of settings.alert_to)."""

    __tablename__ = "alert_recipients"
    __table_args__ = (sa.UniqueConstraint("scope", "key", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=10)  # case | regime
    key: str = Field(max_length=200, index=True)
    address: str


class AlertOutbox(SQLModel, table=True):
    __tablename__ = "alert_outbox"
    __table_args__ = (sa.UniqueConstraint("subject_kind", "subject_id", "key", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    subject_kind: str = Field(max_length=20)  # order | transfer | fixity
    subject_id: str = Field(max_length=64)
    key: str = Field(max_length=100)  # e.g. "2026-03-01/7": deadline and lead time
    channel: str = Field(max_length=10)  # smtp | webhook
    lead_days: int | None = None
    # pending | sending | sent | failed | superseded
    state: str = Field(default="pending", index=True, max_length=12)
    due_at: datetime = utc_datetime()
    attempts: int = 0
    next_attempt_at: datetime | None = utc_datetime(nullable=True)
    last_error: str | None = None
    payload: dict[str, Any] | None = json_column()
    created_at: datetime = utc_datetime()
    claimed_at: datetime | None = utc_datetime(nullable=True)
    sent_at: datetime | None = utc_datetime(nullable=True)


class FixityState(SQLModel, table=True):
    __tablename__ = "fixity_state"

    evidence_id: str = Field(foreign_key="evidence.id", primary_key=True, max_length=64)
    last_checked_at: datetime = utc_datetime()
    last_match: bool
    last_result: dict[str, Any] | None = json_column()
