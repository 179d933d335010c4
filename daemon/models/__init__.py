"""SQLModel tables. Importing this package registers every table on ``SQLModel.metadata``.

One module per domain; each domain's migrations live on its own Alembic branch.
"""

from custodyd.daemon.models.auth import ApiToken, CaseMember, ConsoleSession, User
from custodyd.daemon.models.core import Acquisition, AcquisitionState, Case, Evidence, Medium
from custodyd.daemon.models.ledger import LedgerCheckpointRow, LedgerEntryRow, LedgerNodeRow
from custodyd.daemon.models.orders import (
    AlertOutbox,
    AlertRecipient,
    Disposition,
    FixityState,
    OrderItem,
    OrderNotice,
    PreservationOrder,
    Regime,
    ThirdPartyRelease,
    Transfer,
    TransferConsent,
    TransferItem,
)

__all__ = [
    "Acquisition",
    "AcquisitionState",
    "AlertOutbox",
    "AlertRecipient",
    "ApiToken",
    "Case",
    "CaseMember",
    "ConsoleSession",
    "Disposition",
    "Evidence",
    "FixityState",
    "LedgerCheckpointRow",
    "LedgerEntryRow",
    "LedgerNodeRow",
    "Medium",
    "OrderItem",
    "OrderNotice",
    "PreservationOrder",
    "Regime",
    "ThirdPartyRelease",
    "Transfer",
    "TransferConsent",
    "TransferItem",
    "User",
]
