"""ledger: the trust boundary (checkpoint signers, authenticated outbox rows)

- ``ledger_checkpoints.signer``: the C2SP verifier key that signed each checkpoint
  (the first one's is the ledger's founding key; later ones must be in the trust
  list kept in the ledger's own key entries).
- ``ledger_pending.owner`` / ``.mac``: the appliance that staged a row and an HMAC
  over it under that appliance's pending-row key; rows without a valid MAC are
  refused, never signed.
- a partial index on the key entries, so the trust list is read without a scan.

Revision ID: 0102_ledger_trust
Revises: 0101_ledger_pending
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0102_ledger_trust"
down_revision = "0101_ledger_pending"
branch_labels = None
depends_on = None

KEY_ACTIONS = "('ledger.key_enrolled', 'ledger.key_removed', 'ledger.key_rotated')"


def upgrade() -> None:
    op.add_column("ledger_checkpoints", sa.Column("signer", sa.Text, nullable=True))
    op.add_column("ledger_pending", sa.Column("owner", sa.String(200), nullable=True))
    op.add_column("ledger_pending", sa.Column("mac", sa.String(64), nullable=True))
    op.execute(
        f"CREATE INDEX ix_ledger_entries_keys ON ledger_entries (idx) WHERE action IN {KEY_ACTIONS}"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_ledger_entries_keys")
    op.drop_column("ledger_pending", "mac")
    op.drop_column("ledger_pending", "owner")
    op.drop_column("ledger_checkpoints", "signer")
