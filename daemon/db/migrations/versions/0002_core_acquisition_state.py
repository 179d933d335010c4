"""core: one word for an acquisition that ended without a sealed item

Acquisitions recorded ``failed`` or ``cancelled`` become ``incomplete`` (what
recovery already wrote for a crashed one); why each ended stays in ``error`` and
in the ledger's ``acquisition.incomplete`` entry. Not reversible: the distinction
lives on in those two places, not in the state.

Revision ID: 0002_core
Revises: 0001_core
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_core"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE acquisitions SET state = 'incomplete' WHERE state IN ('failed', 'cancelled')"
        )
    )


def downgrade() -> None:
    pass
