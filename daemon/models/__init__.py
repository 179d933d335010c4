"""SQLModel tables. Importing this package registers every table on ``SQLModel.metadata``.

One module per domain; each domain's migrations live on its own Alembic branch.
"""

from custodyd.daemon.models.core import Acquisition, Case, Evidence, Medium
from custodyd.daemon.models.orders import (
    AlertOutbox,
    AlertRecipient,
    Disposition,
    FixityState,
    OrderItem,
    PreservationOrder,
    Regime,
    ThirdPartyRelease,
    Transfer,
    TransferItem,
)

__all__ = [
    "Acquisition",
    "AlertOutbox",
    "AlertRecipient",
    "Case",
    "Disposition",
    "Evidence",
    "FixityState",
    "Medium",
    "OrderItem",
    "PreservationOrder",
    "Regime",
    "ThirdPartyRelease",
    "Transfer",
    "TransferItem",
]
