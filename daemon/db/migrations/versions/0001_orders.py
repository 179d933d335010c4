"""orders: regimes, preservation orders, transfers, dispositions, alert outbox, fixity

Revision ID: 0001_orders
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_orders"
down_revision = None
branch_labels = ("orders",)
depends_on = "0001_core"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "order_regimes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("citation", sa.String, nullable=False),
        sa.Column("scope", sa.String, nullable=False),
        sa.Column("period_days", sa.Integer, nullable=False),
        sa.Column("min_days", sa.Integer),
        sa.Column("max_days", sa.Integer),
        sa.Column("renewable", sa.Boolean, nullable=False),
        sa.Column("renewal_days", sa.Integer),
        sa.Column("max_renewals", sa.Integer),
        sa.Column("alert_to", sa.JSON),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "preservation_orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ref", sa.String(200), nullable=False, index=True),
        sa.Column("regime_id", sa.String(64), nullable=False, index=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("whole_case", sa.Boolean, nullable=False),
        sa.Column("authority", sa.String),
        sa.Column("offence", sa.String),
        sa.Column("summary", sa.String),
        sa.Column("data_concerned", sa.String),
        sa.Column("relation", sa.String),
        sa.Column("custodian", sa.String),
        sa.Column("necessity", sa.String),
        sa.Column("followup_announced", sa.Boolean, nullable=False),
        sa.Column("confidential", sa.Boolean, nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("period_days", sa.Integer, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False, index=True),
        sa.Column("renewals", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("followup_ref", sa.String),
        sa.Column("followup_at", TS),
        sa.Column("decision", sa.String),
        sa.Column("decision_ref", sa.String),
        sa.Column("decided_at", TS),
        sa.Column("ended_at", TS),
        sa.Column("end_reason", sa.String),
        sa.Column("lead_days", sa.JSON),
        sa.Column("alert_to", sa.JSON),
        sa.Column("entered_by", sa.String, nullable=False),
        sa.Column("entered_at", TS, nullable=False),
    )
    op.create_table(
        "preservation_order_items",
        sa.Column(
            "order_id", sa.Integer, sa.ForeignKey("preservation_orders.id"), primary_key=True
        ),
        sa.Column("evidence_id", sa.String(64), sa.ForeignKey("evidence.id"), primary_key=True),
    )
    op.create_index("ix_order_items_evidence", "preservation_order_items", ["evidence_id"])
    op.create_table(
        "data_transfers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ref", sa.String(200)),
        sa.Column("direction", sa.String, nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("recipient", sa.String, nullable=False),
        sa.Column("purpose", sa.String, nullable=False),
        sa.Column("transferred_on", sa.Date, nullable=False),
        sa.Column("consented_days", sa.Integer, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False, index=True),
        sa.Column("third_party_consent", sa.Boolean, nullable=False),
        sa.Column("consent_ref", sa.String),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("use_report", sa.String),
        sa.Column("reported_at", TS),
        sa.Column("closed_at", TS),
        sa.Column("lead_days", sa.JSON),
        sa.Column("alert_to", sa.JSON),
        sa.Column("entered_by", sa.String, nullable=False),
        sa.Column("entered_at", TS, nullable=False),
    )
    op.create_table(
        "data_transfer_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "transfer_id",
            sa.Integer,
            sa.ForeignKey("data_transfers.id"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "evidence_id", sa.String(64), sa.ForeignKey("evidence.id"), nullable=False, index=True
        ),
        sa.Column("part", sa.String),
    )
    op.create_table(
        "data_transfer_releases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "transfer_id",
            sa.Integer,
            sa.ForeignKey("data_transfers.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("third_party", sa.String, nullable=False),
        sa.Column("consent_ref", sa.String),
        sa.Column("part", sa.String),
        sa.Column("released_by", sa.String, nullable=False),
        sa.Column("released_at", TS, nullable=False),
    )
    op.create_table(
        "dispositions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "evidence_id", sa.String(64), sa.ForeignKey("evidence.id"), nullable=False, index=True
        ),
        sa.Column("method", sa.String, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("returned_to", sa.String),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("performed_at", TS, nullable=False),
        sa.Column("files", sa.JSON),
    )
    op.create_table(
        "alert_recipients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("key", sa.String(200), nullable=False, index=True),
        sa.Column("address", sa.String, nullable=False),
        sa.UniqueConstraint("scope", "key", "address"),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subject_kind", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("lead_days", sa.Integer),
        sa.Column("state", sa.String(12), nullable=False, index=True),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS),
        sa.Column("last_error", sa.String),
        sa.Column("payload", sa.JSON),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("claimed_at", TS),
        sa.Column("sent_at", TS),
        sa.UniqueConstraint("subject_kind", "subject_id", "key", "channel"),
    )
    op.create_table(
        "fixity_state",
        sa.Column("evidence_id", sa.String(64), sa.ForeignKey("evidence.id"), primary_key=True),
        sa.Column("last_checked_at", TS, nullable=False),
        sa.Column("last_match", sa.Boolean, nullable=False),
        sa.Column("last_result", sa.JSON),
    )


def downgrade() -> None:
    for table in (
        "fixity_state",
        "alert_outbox",
        "alert_recipients",
        "dispositions",
        "data_transfer_releases",
        "data_transfer_items",
        "data_transfers",
        "preservation_order_items",
        "preservation_orders",
        "order_regimes",
    ):
        op.drop_table(table)
