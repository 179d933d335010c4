"""orders: the dates the law counts from, grant -> executing, refusal, notices,
need-to-know, per-party consent, dispositions linked to transfers (issue 11)

SQLite cannot add a NOT NULL column without a default, so the new date columns
are added with the issue date as their value for existing rows (the old code
counted from it) and enforced by the model.

Revision ID: 0002_orders
Revises: 0001_orders
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_orders"
down_revision = "0001_orders"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("preservation_orders") as batch:
        batch.add_column(sa.Column("received_on", sa.Date))
        batch.add_column(sa.Column("effected_on", sa.Date))
        batch.add_column(sa.Column("clock_start", sa.Date))
        batch.add_column(sa.Column("expiry_rule", sa.String))
        batch.add_column(sa.Column("need_to_know", sa.JSON))
        batch.add_column(sa.Column("commitment_salt", sa.String(64)))
        batch.add_column(sa.Column("refusal_grounds", sa.String(64)))
        batch.add_column(sa.Column("refusal_reason", sa.String))
        batch.add_column(sa.Column("executed_basis", sa.String))
        batch.add_column(sa.Column("executed_transfer_id", sa.Integer))
        batch.add_column(sa.Column("executed_at", TS))
    op.execute(
        "UPDATE preservation_orders SET received_on = issued_on, effected_on = issued_on, "
        "clock_start = issued_on WHERE received_on IS NULL"
    )
    op.create_table(
        "order_notices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "order_id",
            sa.Integer,
            sa.ForeignKey("preservation_orders.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("text", sa.String, nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("noticed_at", TS, nullable=False),
    )
    op.create_table(
        "data_transfer_consents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "transfer_id",
            sa.Integer,
            sa.ForeignKey("data_transfers.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("third_party", sa.String(500), nullable=False),
        sa.Column("consent_ref", sa.String(500), nullable=False),
        sa.Column("recorded_by", sa.String, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    )
    with op.batch_alter_table("dispositions") as batch:
        batch.add_column(sa.Column("transfer_id", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("dispositions") as batch:
        batch.drop_column("transfer_id")
    op.drop_table("data_transfer_consents")
    op.drop_table("order_notices")
    with op.batch_alter_table("preservation_orders") as batch:
        for name in (
            "executed_at",
            "executed_transfer_id",
            "executed_basis",
            "refusal_reason",
            "refusal_grounds",
            "commitment_salt",
            "need_to_know",
            "expiry_rule",
            "clock_start",
            "effected_on",
            "received_on",
        ):
            batch.drop_column(name)
