"""ledger: the pending-events outbox (``ledger_pending``)

A domain change and the ledger entries describing it are staged in ONE
transaction of the caller (a row here holding the batch of events); the ledger
then appends the batch and deletes the row in one transaction of its own. A
crash between the two leaves the row, which the next open flushes, so no entry
is lost and none is written twice. Rows are deleted once flushed, so this table
has no append-only triggers.

Revision ID: 0101_ledger_pending
Revises: 0100_ledger
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0101_ledger_pending"
down_revision = "0100_ledger"
branch_labels = None
depends_on = None

BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_pending",
        sa.Column("id", BigKey, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            DO $$
            BEGIN
                IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'custodyd_ledger_writer') THEN
                    GRANT SELECT, INSERT, DELETE ON ledger_pending TO custodyd_ledger_writer;
                    GRANT USAGE ON SEQUENCE ledger_pending_id_seq TO custodyd_ledger_writer;
                END IF;
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE NOTICE 'custodyd: cannot grant ledger_pending to custodyd_ledger_writer';
            END
            $$
            """
        )


def downgrade() -> None:
    op.drop_table("ledger_pending")
