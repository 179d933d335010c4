"""What the orders domain answers: typed results of orders, transfers, retention and
disposition, shared by the API (its response models), the CLI (``--json``) and reports.

Days are ISO dates (``YYYY-MM-DD``) and instants ISO times with their UTC offset,
as text: the JSON shows exactly these strings. A field marked *omitted when
absent* is left out of the JSON instead of being ``null`` (an order's commitment
exists only for a confidential order; a transfer lists dispositions only in the
answer to its closing).

Need-to-know is part of the types: a caller who may not know a confidential
order gets a :class:`RetentionStatus` whose ``held`` says so and whose
``blocking`` leaves the order out (:mod:`custodyd.daemon.orders.redaction`);
orders themselves are never redacted field by field — such a caller is told the
order does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from custodyd.daemon.orders.states import (
    Direction,
    DisposalMethod,
    NoticeKind,
    OrderStatus,
    Outcome,
    TransferStatus,
)


def _absent(value: Any) -> bool:
    return value is None


def omitted_when_absent() -> Any:
    """A field that defaults to None and is left out of the JSON while it is None."""
    return Field(None, exclude_if=_absent)


class OrderNoticeView(BaseModel):
    kind: NoticeKind
    text: str
    actor: str
    at: str


class CommitmentView(BaseModel):
    """The salted commitment of a confidential order's fields (see ``confidentiality``)."""

    scheme: str
    salt: str
    value: str
    fields: dict[str, str | None]


class OrderView(BaseModel):
    """A whole preservation order, for those entitled to read it (callers check that)."""

    id: int
    ref: str
    regime_id: str
    case_id: int
    whole_case: bool
    authority: str | None
    offence: str | None
    summary: str | None
    data_concerned: str | None
    relation: str | None
    custodian: str | None
    necessity: str | None
    followup_announced: bool
    confidential: bool
    issued_on: str
    received_on: str
    effected_on: str
    clock_start: str
    expiry_rule: str | None
    period_days: int
    expires_on: str
    renewals: int
    status: OrderStatus
    followup_ref: str | None
    followup_at: str | None
    decision: Outcome | None
    decision_ref: str | None
    decided_at: str | None
    executed_basis: str | None
    executed_transfer_id: int | None
    executed_at: str | None
    refusal_grounds: str | None
    refusal_reason: str | None
    need_to_know: list[str]
    ended_at: str | None
    end_reason: str | None
    lead_days: list[int] | None
    alert_to: list[str] | None
    entered_by: str
    entered_at: str
    case: str = Field(description="The case's ref")
    evidence: list[str] = Field(description="Evidence ids covered (a whole-case order: all)")
    in_force: bool
    hold: bool = Field(description="Kept whatever the date (on hold or being executed)")
    regime: str
    notices: list[OrderNoticeView]
    commitment: CommitmentView | None = omitted_when_absent()


class TransferItemView(BaseModel):
    evidence_id: str
    part: str | None = Field(description="The released part; null: the whole item")


class ConsentView(BaseModel):
    third_party: str
    consent_ref: str
    recorded_by: str
    recorded_at: str


class ThirdPartyReleaseView(BaseModel):
    third_party: str
    part: str | None
    consent_ref: str | None
    released_by: str
    released_at: str


class ClosingDisposal(BaseModel):
    """An item of an incoming transfer disposed of by the transfer's closing."""

    evidence_id: str
    disposition_id: int


class TransferView(BaseModel):
    id: int
    ref: str | None
    direction: Direction
    case_id: int
    recipient: str
    purpose: str
    transferred_on: str
    consented_days: int
    deadline: str
    third_party_consent: bool
    consent_ref: str | None
    status: TransferStatus
    use_report: str | None
    reported_at: str | None
    closed_at: str | None
    lead_days: list[int] | None
    alert_to: list[str] | None
    entered_by: str
    entered_at: str
    days_left: int
    case: str
    items: list[TransferItemView]
    evidence: list[str]
    consents: list[ConsentView]
    third_party_releases: list[ThirdPartyReleaseView]
    dispositions: list[ClosingDisposal] | None = omitted_when_absent()


class BlockingOrder(BaseModel):
    """An order in force that keeps an item."""

    order_id: int
    ref: str
    regime: str
    status: OrderStatus
    expires_on: str
    hold: bool
    confidential: bool


class RetentionStatus(BaseModel):
    """Whether an item may be disposed of, and which orders keep it."""

    evidence_id: str
    disposable: bool
    hold: bool
    retain_until: date | None = Field(
        description="Latest expiry in force; null when nothing (or a hold) applies"
    )
    blocking: list[BlockingOrder] = Field(default_factory=list)
    held: str | None = Field(
        None, description="Set when an order the caller may not know keeps the item"
    )


class DueBase(BaseModel):
    evidence_id: str | None = Field(description="null: a whole-case order on an empty case")
    case: str
    id: int
    ref: str | None
    deadline: str
    days_left: int
    confidential: bool


class OrderDue(DueBase):
    kind: Literal["order"] = "order"  # DueKind.ORDER
    regime: str


class TransferDue(DueBase):
    kind: Literal["transfer"] = "transfer"  # DueKind.TRANSFER
    recipient: str


Due = Annotated[OrderDue | TransferDue, Field(discriminator="kind")]


class DispositionRecord(BaseModel):
    """The stored destruction (or return) record of an item: who, when, how, why."""

    id: int
    evidence_id: str
    method: DisposalMethod
    reason: str
    returned_to: str | None
    actor: str
    performed_at: str
    files: list[dict[str, Any]] = Field(description="What was overwritten or deleted")
    transfer_id: int | None


class DispositionDone(DispositionRecord):
    """The answer to a disposal: the record, with what it changed."""

    case: str | None
    previous_status: str
    kept: list[str] = Field(description="Record files kept in the item's directory")
