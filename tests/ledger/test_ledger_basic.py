"""Appending, reading back, durability across contexts, the append-only triggers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.errors import InvalidInput, LedgerInconsistent, NotFound
from custodyd.daemon.ledger import Event, LedgerEntry, merkle


def test_append_and_read_back(lctx: AppContext, clock: ManualClock) -> None:
    ledger = lctx.ledger
    assert ledger.size() == 0
    first = ledger.append("case.created", actor="cli:alice", case="C-1", payload={"title": "x"})
    clock.advance(timedelta(seconds=5))
    second = ledger.append(
        "evidence.acquired",
        actor="system:custodyd",
        case="C-1",
        evidence="EV1",
        payload={"hashes": {"blake3": "ab" * 32}, "bytes": 1024},
    )
    ledger.append("evidence.verified", actor="user:bob", case="C-2", evidence="EV2")
    assert (first.index, second.index) == (0, 1)
    assert ledger.size() == 3
    assert first.time == "2026-01-01T00:00:00.000000Z"
    assert second.time == "2026-01-01T00:00:05.000000Z"
    assert [e.index for e in ledger.history("EV1")] == [1]
    assert [e.action for e in ledger.case_history("C-1")] == ["case.created", "evidence.acquired"]
    assert ledger.history("nothing") == []
    got = ledger.history("EV1")[0]
    assert got == second
    assert got.payload["hashes"]["blake3"] == "ab" * 32
    # the leaf is canonical JSON (RFC 8785): sorted keys, no whitespace
    assert second.leaf.startswith(b'{"action":"evidence.acquired","actor":"system:custodyd"')
    assert ledger.leaf(1) == second.leaf
    assert LedgerEntry.from_leaf(ledger.leaf(1)) == second
    with pytest.raises(NotFound):
        ledger.leaf(3)


def test_durable_across_contexts(lctx: AppContext) -> None:
    lctx.ledger.append_many(
        [Event("medium.attached", "system:custodyd", payload={"n": i}) for i in range(10)]
    )
    other = open_context(lctx.settings)
    try:
        assert other.ledger.size() == 10
        assert other.ledger.root() == lctx.ledger.root()
        assert other.ledger.verify().ok
    finally:
        other.ledger.close()
        other.close()


def test_root_matches_reference(lctx: AppContext) -> None:
    entries = lctx.ledger.append_many(
        [Event("x.y", "user:u", evidence=f"E{i % 4}", payload={"i": i}) for i in range(37)]
    )
    assert lctx.ledger.root() == merkle.root_of([e.leaf for e in entries])
    for size in (1, 2, 3, 16, 17, 37):
        assert lctx.ledger.root(size) == merkle.root_of([e.leaf for e in entries[:size]])


def test_payload_must_be_json(lctx: AppContext) -> None:
    with pytest.raises(InvalidInput):
        lctx.ledger.append("x", actor="user:u", payload={"blob": b"\x00"})
    with pytest.raises(InvalidInput):
        lctx.ledger.append("", actor="user:u")
    assert lctx.ledger.size() == 0


@pytest.mark.parametrize("table", ["ledger_entries", "ledger_nodes", "ledger_checkpoints"])
def test_database_refuses_update_and_delete(lctx: AppContext, table: str) -> None:
    lctx.ledger.append("case.created", actor="user:u", case="C")
    column = {"ledger_entries": "actor", "ledger_nodes": "hash", "ledger_checkpoints": "note"}
    value = b"x" if table == "ledger_nodes" else "x"
    for statement, params in (
        (f"UPDATE {table} SET {column[table]} = :v", {"v": value}),
        (f"DELETE FROM {table}", {}),
    ):
        with pytest.raises(DatabaseError, match="append-only"), lctx.engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    assert lctx.ledger.verify().ok


def test_postgres_refuses_truncate(lctx: AppContext) -> None:
    if lctx.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    lctx.ledger.append("case.created", actor="user:u", case="C")
    with pytest.raises(DatabaseError, match="append-only"), lctx.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE ledger_entries CASCADE"))
    with lctx.engine.connect() as conn:
        grants = conn.execute(
            sa.text(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = 'custodyd_ledger_writer' AND table_name = 'ledger_entries'"
            )
        ).scalars()
        assert sorted(grants) == ["INSERT", "SELECT"]


def test_witness_is_per_ledger_origin(lctx: AppContext, tmp_path: Path) -> None:
    """The witness is keyed by the ledger's origin, not the database URL: pointing the
    same data directory at another (empty) database of the same ledger is refused, as a
    restore would be; a ledger with another origin has its own witness."""
    lctx.ledger.append_many([Event("x.y", "user:u") for _ in range(5)])
    other_db = {"database_url": f"sqlite:///{tmp_path / 'other.db'}"}
    same = open_context(lctx.settings.model_copy(update=other_db))
    try:
        with pytest.raises(LedgerInconsistent, match="covers 5 entries, the database only 1"):
            same.ledger.append("x.y", actor="user:u")
        assert same.ledger.size() == 0
    finally:
        same.close()
    other = open_context(
        lctx.settings.model_copy(update={**other_db, "ledger_origin": "lab.example/other"})
    )
    try:
        other.ledger.append("x.y", actor="user:u")
        assert other.ledger.verify().ok
        assert other.ledger.witnesses.paths != lctx.ledger.witnesses.paths
    finally:
        other.close()
    assert lctx.ledger.verify().ok


def test_hot_reads_survive_a_dropped_connection(lctx: AppContext) -> None:
    """PostgreSQL proofs skip the pool's pre-ping; a killed connection is retried once."""
    if lctx.engine.dialect.name != "postgresql":
        pytest.skip("connection drops are a PostgreSQL matter")
    entries = lctx.ledger.append_many([Event("x.y", "user:u", evidence="E") for _ in range(9)])
    proof = lctx.ledger.inclusion_proof(3, 9)
    with lctx.engine.begin() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    assert killed
    assert lctx.ledger.inclusion_proof(3, 9) == proof
    assert [e.index for e in lctx.ledger.history("E")] == [e.index for e in entries]
