"""Ledger tables: entries, complete-subtree hashes, signed checkpoints.

All three are append-only: the ``ledger`` migration installs triggers that make
the database itself refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).

- ``ledger_entries``: one row per custody event. ``leaf`` holds the exact RFC 8785
  bytes that were hashed; the other columns are copies for indexed lookups
  (``ledger verify`` checks they agree with the leaf).
- ``ledger_nodes``: every complete Merkle subtree, ``(level, idx)`` covering
  leaves ``[idx * 2**level, (idx + 1) * 2**level)``; level 0 are leaf hashes.
- ``ledger_checkpoints``: every signed checkpoint (C2SP note text), by tree size.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# BIGINT on PostgreSQL; INTEGER on SQLite so the key is the rowid (no extra index).
BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class LedgerEntryRow(SQLModel, table=True):
    __tablename__ = "ledger_entries"

    idx: int = Field(sa_column=sa.Column("idx", BigKey, primary_key=True, autoincrement=False))
    time: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    actor: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    action: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    case_ref: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
    evidence_id: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
    leaf: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))

    __table_args__ = (
        sa.Index("ix_ledger_entries_evidence", "evidence_id", "idx"),
        sa.Index("ix_ledger_entries_case", "case_ref", "idx"),
    )


class LedgerNodeRow(SQLModel, table=True):
    __tablename__ = "ledger_nodes"
    __table_args__ = {"sqlite_with_rowid": False}

    level: int = Field(sa_column=sa.Column(sa.SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))


class LedgerCheckpointRow(SQLModel, table=True):
    __tablename__ = "ledger_checkpoints"

    size: int = Field(sa_column=sa.Column("size", BigKey, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    note: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    signed_at: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    signer: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))


LEDGER_TABLES = ("ledger_entries", "ledger_nodes", "ledger_checkpoints")


class LedgerPendingRow(SQLModel, table=True):
    """A staged batch of events (the outbox): inserted in the caller's transaction,
    appended to the ledger and deleted in one ledger transaction (no triggers)."""

    __tablename__ = "ledger_pending"

    id: int | None = Field(
        default=None, sa_column=sa.Column("id", BigKey, primary_key=True, autoincrement=True)
    )
    created_at: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    events: list[dict[str, Any]] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    owner: str | None = Field(default=None, sa_column=sa.Column(sa.String(200), nullable=True))
    mac: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
