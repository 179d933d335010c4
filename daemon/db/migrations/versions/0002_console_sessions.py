"""auth: console sessions (browser sign-in with an API token)

Revision ID: 0002_console_sessions
Revises: 0001_auth
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_console_sessions"
down_revision = "0001_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_hash", sa.String(64), nullable=False, unique=True, index=True),
        sa.Column(
            "token_id", sa.Integer, sa.ForeignKey("api_tokens.id"), nullable=False, index=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("console_sessions")
