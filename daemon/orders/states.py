"""The words of the orders domain: states, outcomes and kinds, one Enum each.

They are ``StrEnum``: the database columns, the ledger payloads and the JSON of
the API and CLI carry their values unchanged (``"hold"``), and a value compares
equal to its text, so rows written before these Enums read the same.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    """Where a preservation order stands (see :mod:`custodyd.daemon.orders.lifecycle`)."""

    ACTIVE = "active"  # running to expires_on
    HOLD = "hold"  # a follow-up request arrived: kept until a decision, whatever the date
    EXECUTING = "executing"  # the follow-up request was granted and is being executed
    DECIDED = "decided"  # refused, withdrawn or executed: the expiry applies again
    EXPIRED = "expired"
    RELEASED = "released"  # ended early
    REFUSED = "refused"  # the preservation request itself was refused


# Kept whatever the date (no expiry applies while one of these stands).
STANDING = frozenset({OrderStatus.HOLD, OrderStatus.EXECUTING})
# Running to their expiry.
DATED = frozenset({OrderStatus.ACTIVE, OrderStatus.DECIDED})
# Ended: nothing more happens to them.
ENDED = frozenset({OrderStatus.EXPIRED, OrderStatus.RELEASED, OrderStatus.REFUSED})


class Outcome(StrEnum):
    """The decision on a follow-up request."""

    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class NoticeKind(StrEnum):
    """A notice to the requesting state (art. 68(6))."""

    CANNOT_SECURE = "cannot-secure"
    CONFIDENTIALITY_THREAT = "confidentiality-threat"
    OTHER = "other"


class TransferStatus(StrEnum):
    OPEN = "open"
    RETURNED = "returned"
    DESTROYED = "destroyed"


class Closing(StrEnum):
    """How a transfer ends: the data came back, or were destroyed."""

    RETURNED = "returned"
    DESTROYED = "destroyed"


class Direction(StrEnum):
    OUTGOING = "outgoing"  # we hand the data to the recipient
    INCOMING = "incoming"  # we received them (art. 57 binds us)


class DisposalMethod(StrEnum):
    DESTROY = "destroy"
    RETURN = "return"


class DueKind(StrEnum):
    """What a deadline of the "due" list belongs to."""

    ORDER = "order"
    TRANSFER = "transfer"
