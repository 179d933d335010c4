"""The ledger never signs over a fork: witnesses outside the database, on both engines.

Whole ``custodyd`` processes where the issue's contract names commands: restoring an
older copy of the database refuses ``cases create`` and fails ``ledger verify`` (20);
deleting the witness fails ``ledger verify``; an administrator's ``ledger rewitness``
is the only way on, and it is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.errors import LedgerInconsistent
from custodyd.daemon.ledger import Event, merkle
from custodyd.daemon.ledger.note import sign_note
from tests.ledger.forks import snapshot
from tests.ledger.tampering import cli_verify, custodyd, drop_triggers, execute


def witness_files(ctx: AppContext) -> list[Path]:
    return ctx.ledger.witnesses.paths


def fill(ctx: AppContext, n: int, tag: str = "a") -> None:
    ctx.ledger.append_many([Event("x.y", "user:u", None, f"E-{tag}", {"i": i}) for i in range(n)])


def test_restored_older_copy_is_refused_until_rewitnessed(
    lctx: AppContext, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's reproduction, as whole processes: back up, 3 cases, restore, append."""
    assert custodyd("cases", "create", "FIRST").returncode == 0
    lctx.close()
    restore = snapshot(db_url, tmp_path, monkeypatch)
    for ref in ("A", "B", "C"):
        done = custodyd("cases", "create", ref)
        assert done.returncode == 0, done.stderr
    witnessed = witness_files(lctx)[0].read_text()
    restore()

    for ref in ("X", "Y"):  # refused, and it keeps refusing
        done = custodyd("cases", "create", ref, "--json")
        assert done.returncode == 20, (done.returncode, done.stderr)
        problem = json.loads(done.stderr.strip().splitlines()[-1])
        assert problem["type"] == "urn:custodyd:problem:ledger-inconsistent"
        assert problem["status"] == 503 and "refusing to sign" in problem["detail"]
    assert witness_files(lctx)[0].read_text() == witnessed  # never overwritten by a fork
    done = custodyd("ledger", "verify", "--json")
    assert done.returncode == 20, done.stderr
    assert "witness" in json.loads(done.stdout)["message"]
    # refused before the change commits: neither the cases nor unsigned entries exist
    listed = custodyd("cases", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert not {"X", "Y"} & {c["ref"] for c in json.loads(listed.stdout)["items"]}
    assert custodyd("cases", "create", "P").returncode != 0
    assert custodyd("ledger", "verify").returncode == 20

    done = custodyd("ledger", "rewitness", "--reason", "restored backup of 09:00", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [w["state"] for w in result["witnesses"]] == ["ahead-of-database"]
    assert Path(result["witnesses"][0]["kept_as"]).read_text() == witnessed
    assert custodyd("ledger", "verify").returncode == 0
    assert custodyd("cases", "create", "Z").returncode == 0
    ctx = open_context(Settings())
    try:
        rewitnessed = [e for e in ctx.ledger.entries() if e.action == "ledger.rewitnessed"]
        assert len(rewitnessed) == 1
        assert rewitnessed[0].payload["witnesses"][0]["note"] == witnessed
        assert rewitnessed[0].payload["reason"] == "restored backup of 09:00"
    finally:
        ctx.close()


def test_fork_longer_than_the_witness_is_refused(
    lctx: AppContext, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Restore, then append MORE than was lost: same size or beyond, still a fork."""
    fill(lctx, 5)
    lctx.close()
    restore = snapshot(db_url, tmp_path, monkeypatch)
    fill(lctx, 3, "lost")
    lctx.close()
    restore()
    forked = open_context(Settings())
    try:
        with pytest.raises(LedgerInconsistent, match="not consistent with the witness"):
            fill(forked, 12, "fork")
        with pytest.raises(LedgerInconsistent, match="covers 8 entries, the database only 6"):
            forked.ledger.append("x.y", actor="user:u")
        assert forked.ledger.size() == 5
        assert not forked.ledger.verify().ok
    finally:
        forked.close()


def test_triggers_dropped_rows_deleted_then_appended(lctx: AppContext) -> None:
    fill(lctx, 20)
    drop_triggers(lctx.engine)
    for table in ("ledger_entries", "ledger_nodes", "ledger_checkpoints"):
        execute(lctx.engine, f"DELETE FROM {table}")
    with pytest.raises(LedgerInconsistent, match="covers 20 entries, the database only 12"):
        fill(lctx, 12, "b")
    with pytest.raises(LedgerInconsistent):
        fill(lctx, 30, "c")  # longer than the witness: a fork
    assert lctx.ledger.size() == 0
    rc, doc, _ = cli_verify()
    assert rc == 20 and "witness" in doc["message"]


def test_unsigned_rows_smuggled_in_are_not_signed(lctx: AppContext) -> None:
    """Entries (with nodes) inserted past the last checkpoint: the next append refuses."""
    fill(lctx, 4)
    leaf = json.dumps(
        {"action": "custody.transferred", "actor": "user:alice", "case": None, "evidence": None,
         "index": 4, "payload": {}, "time": "2026-01-01T00:00:00.000000Z"},
        separators=(",", ":"), sort_keys=True,
    ).encode()  # fmt: skip
    execute(
        lctx.engine,
        "INSERT INTO ledger_entries (idx, time, actor, action, leaf) "
        "VALUES (4, '2026-01-01T00:00:00.000000Z', 'user:alice', 'custody.transferred', :l)",
        l=leaf,
    )
    execute(
        lctx.engine,
        "INSERT INTO ledger_nodes (level, idx, hash) VALUES (0, 4, :h)",
        h=merkle.leaf_hash(leaf),
    )
    with pytest.raises(LedgerInconsistent, match="carry no signed checkpoint"):
        lctx.ledger.append("x.y", actor="user:u")


def test_deleted_witness_fails_verify_and_refuses_appends(lctx: AppContext) -> None:
    assert custodyd("cases", "create", "W-1").returncode == 0
    rc, doc, _ = cli_verify(subprocess=True)
    assert rc == 0 and doc["witnesses"] == 1
    for path in witness_files(lctx):
        path.unlink()
    rc, doc, err = cli_verify(subprocess=True)  # the contract: exit 20
    assert rc == 20 and "missing while the ledger holds" in doc["message"], err
    done = custodyd("cases", "create", "W-2")
    assert done.returncode == 20 and "missing" in done.stderr
    assert custodyd("ledger", "rewitness", "--reason", "witness disk replaced").returncode == 0
    rc, doc, _ = cli_verify()
    assert rc == 0


def test_edited_witness_is_caught(lctx: AppContext) -> None:
    fill(lctx, 6)
    path = witness_files(lctx)[0]
    note = path.read_text()
    lines = note.split("\n")
    lines[1] = "7"  # claims a larger tree: the signature no longer matches
    path.write_text("\n".join(lines))
    rc, doc, _ = cli_verify()
    assert rc == 20
    with pytest.raises(LedgerInconsistent):
        lctx.ledger.append("x.y", actor="user:u")
    # re-signed by an outside key: still not trusted
    text = note.split("\n\n")[0] + "\n"
    path.write_text(sign_note(text, "custodyd", Ed25519PrivateKey.generate()))
    rc, doc, _ = cli_verify()
    assert rc == 20 and "does not verify" in doc["message"]
    with pytest.raises(LedgerInconsistent, match="does not verify"):
        lctx.ledger.append("x.y", actor="user:u")


def test_every_witness_dir_is_written_and_checked(
    home: Path, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dirs = [tmp_path / "disk2", tmp_path / "share"]
    monkeypatch.setenv("CUSTODYD_WITNESS_DIRS", ",".join(map(str, dirs)))
    assert custodyd("cases", "create", "M-1").returncode == 0
    files = [next(d.glob("*.note")) for d in dirs]
    assert files[0].read_text() == files[1].read_text()
    assert files[0].name == files[1].name and "custodyd.local_ledger" in files[0].name
    rc, doc, _ = cli_verify()
    assert rc == 0 and doc["witnesses"] == 2
    files[1].unlink()
    rc, doc, _ = cli_verify()
    assert rc == 20 and str(files[1]) in doc["message"]


def test_verify_against_a_checkpoint_kept_elsewhere(
    lctx: AppContext, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a fork an administrator accepted (rewitness) is caught by an outside checkpoint."""
    fill(lctx, 3)
    lctx.close()
    restore = snapshot(db_url, tmp_path, monkeypatch)
    fill(lctx, 2, "b")
    kept = tmp_path / "court.note"
    kept.write_text(custodyd("ledger", "checkpoint").stdout)
    rc, _, err = cli_verify("--checkpoint", str(kept))
    assert rc == 0, err
    lctx.close()
    restore()
    assert custodyd("ledger", "rewitness", "--reason", "accepted loss").returncode == 0
    assert cli_verify()[0] == 0
    rc, doc, err = cli_verify("--checkpoint", str(kept))
    assert rc == 20 and "court.note" in doc["message"], err


def test_an_empty_ledger_with_a_witness_is_not_a_fresh_install(lctx: AppContext) -> None:
    fill(lctx, 2)
    drop_triggers(lctx.engine)
    with lctx.engine.begin() as conn:
        for table in ("ledger_entries", "ledger_nodes", "ledger_checkpoints"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    with pytest.raises(LedgerInconsistent, match="covers 2 entries, the database only 1"):
        lctx.ledger.append("x.y", actor="user:u")
