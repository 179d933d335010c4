"""ledger: append-only entries, Merkle subtree hashes, signed checkpoints

The tables refuse UPDATE and DELETE through triggers on both engines (and
TRUNCATE on PostgreSQL). On PostgreSQL the migration also creates the role
``custodyd_ledger_writer`` (NOLOGIN) with SELECT/INSERT only on the ledger
tables; deployments grant it to the login role the daemon uses, so even a bug
cannot issue UPDATE/DELETE. Creating the role needs CREATEROLE; without it the
migration logs a notice and continues (the triggers still hold).

Revision ID: 0100_ledger
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0100_ledger"
down_revision = None
branch_labels = ("ledger",)
depends_on = "0001_core"

TABLES = ("ledger_entries", "ledger_nodes", "ledger_checkpoints")
BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("idx", BigKey, primary_key=True, autoincrement=False),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("case_ref", sa.String, nullable=True),
        sa.Column("evidence_id", sa.String, nullable=True),
        sa.Column("leaf", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_ledger_entries_evidence", "ledger_entries", ["evidence_id", "idx"])
    op.create_index("ix_ledger_entries_case", "ledger_entries", ["case_ref", "idx"])
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", BigKey, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("signed_at", sa.String(40), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_append_only()
    else:
        _sqlite_append_only()


def _sqlite_append_only() -> None:
    for table in TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'ledger is append-only: {verb} on {table} refused'); END"
            )


def _postgres_append_only() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION custodyd_ledger_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION custodyd_ledger_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION custodyd_ledger_append_only()"
        )
    tables = ", ".join(TABLES)
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'custodyd_ledger_writer') THEN
                CREATE ROLE custodyd_ledger_writer NOLOGIN;
            END IF;
            REVOKE ALL ON {tables} FROM custodyd_ledger_writer;
            GRANT SELECT, INSERT ON {tables} TO custodyd_ledger_writer;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'custodyd: no CREATEROLE; role custodyd_ledger_writer not created';
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    for table in reversed(TABLES):
        op.drop_table(table)
