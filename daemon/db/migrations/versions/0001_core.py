"""core: cases, media, evidence, acquisitions

Revision ID: 0001_core
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = ("core",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ref", sa.String(200), nullable=False, unique=True, index=True),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "media",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String, nullable=False, unique=True, index=True),
        sa.Column("path", sa.String, nullable=False),
        sa.Column("serial", sa.String),
        sa.Column("model", sa.String),
        sa.Column("vendor", sa.String),
        sa.Column("wwn", sa.String),
        sa.Column("bus", sa.String),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("logical_sector_size", sa.Integer, nullable=False),
        sa.Column("physical_sector_size", sa.Integer, nullable=False),
        sa.Column("read_only", sa.Boolean, nullable=False),
        sa.Column("write_block", sa.String, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("identity", sa.JSON),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("medium_id", sa.Integer, sa.ForeignKey("media.id"), index=True),
        sa.Column("status", sa.String, nullable=False, index=True),
        sa.Column("source_path", sa.String, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("blake3", sa.String, index=True),
        sa.Column("directory", sa.String, nullable=False),
        sa.Column("image_path", sa.String, nullable=False),
        sa.Column("manifest", sa.JSON),
        sa.Column("inventory", sa.JSON),
        sa.Column("examiner", sa.String),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "acquisitions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "evidence_id", sa.String(64), sa.ForeignKey("evidence.id"), nullable=False, index=True
        ),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("bytes_done", sa.BigInteger, nullable=False),
        sa.Column("bytes_total", sa.BigInteger, nullable=False),
        sa.Column("read_errors", sa.Integer, nullable=False),
        sa.Column("error", sa.String),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    for table in ("acquisitions", "evidence", "media", "cases"):
        op.drop_table(table)
