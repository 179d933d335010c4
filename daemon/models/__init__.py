"""SQLModel tables. Importing this package registers every table on ``SQLModel.metadata``.

One module per domain; each domain's migrations live on its own Alembic branch.
"""

from custodyd.daemon.models.auth import ApiToken, CaseMember, User
from custodyd.daemon.models.core import Acquisition, Case, Evidence, Medium
from custodyd.daemon.models.ledger import LedgerCheckpointRow, LedgerEntryRow, LedgerNodeRow

__all__ = [
    "Acquisition",
    "ApiToken",
    "Case",
    "CaseMember",
    "Evidence",
    "LedgerCheckpointRow",
    "LedgerEntryRow",
    "LedgerNodeRow",
    "Medium",
    "User",
]
