"""Authenticated outbox rows and signing keys that are never created behind anyone's back.

Forged and malformed ``ledger_pending`` rows are refused naming the row (exit 20),
never signed, and crash no command; a missing key is an error, not a new key;
``init-key`` and ``rotate-key`` are explicit and recorded.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from custodyd.daemon.cases import create_case_unrecorded, find_case
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.errors import LedgerKeyMissing, LedgerPendingRejected
from custodyd.daemon.ledger import Event
from custodyd.daemon.ledger.keys import key_path
from custodyd.daemon.ledger.service import PENDING
from tests.ledger.tampering import cli_verify, custodyd, custodyd_here

FORGED = [
    {
        "action": "custody.transferred",
        "actor": "user:alice",
        "case": "C-1",
        "evidence": "EV-1",
        "payload": {"to": "user:mallory"},
    }
]


def insert_row(ctx: AppContext, events: object, **extra: object) -> int:
    with ctx.engine.begin() as conn:
        row = conn.execute(
            PENDING.insert()
            .values(created_at="2026-01-01T00:00:00.000000Z", events=events, **extra)
            .returning(PENDING.c.id)
        )
        return int(row.scalar_one())


def actors(ctx: AppContext) -> set[str]:
    return {e.actor for e in ctx.ledger.entries()}


@pytest.mark.parametrize(
    "row",
    [
        pytest.param({"events": FORGED}, id="well-formed-no-mac"),
        pytest.param({"events": FORGED, "owner": "custodyd", "mac": "00" * 32}, id="bad-mac"),
        pytest.param({"events": "garbage"}, id="malformed"),
        pytest.param({"events": [{"action": 1}]}, id="malformed-event"),
    ],
)
def test_forged_or_malformed_rows_are_refused_never_signed(
    lctx: AppContext, row: dict[str, object]
) -> None:
    lctx.ledger.append("case.created", actor="user:ann", case="C-1")
    with lctx.session() as session:  # a genuine change staged (not flushed yet)...
        create_case_unrecorded(session, lctx.clock, "C-2")
        lctx.ledger.stage(session, [Event("case.created", "user:ann", "C-2")])
    bad = insert_row(lctx, **row)  # ...when the forged row is slipped in
    with pytest.raises(LedgerPendingRejected, match=f"row {bad}"), lctx.session() as session:
        create_case_unrecorded(
            session, lctx.clock, "C-5"
        )  # a new change is refused before it commits
        lctx.ledger.stage(session, [Event("case.created", "user:ann", "C-5")])
    with lctx.session() as session:
        assert find_case(session, "C-5") is None
    with pytest.raises(LedgerPendingRejected, match=f"row {bad}"):
        lctx.ledger.flush_pending()
    with pytest.raises(LedgerPendingRejected, match=f"row {bad}"):
        lctx.ledger.append("x.y", actor="user:ann")
    assert "user:alice" not in actors(lctx) and lctx.ledger.size() == 1

    # other commands still run (no traceback); verify names the row and exits 20
    done = custodyd_here("cases", "list", "--json")
    assert done.returncode == 0, done.stderr
    rc, _, err = cli_verify()
    assert rc == 20 and f"ledger_pending row {bad} is refused" in err, err
    assert "Traceback" not in err
    done = custodyd_here("cases", "create", "C-3")
    assert done.returncode == 20 and f"row {bad}" in done.stderr

    done = custodyd_here("ledger", "discard-pending", str(bad), "--reason", "forged by hand")
    assert done.returncode == 0, done.stderr
    lctx.ledger.flush_pending()  # the genuine rows land now, nothing was lost
    got = [e.action for e in lctx.ledger.entries()]
    assert "ledger.pending_discarded" in got and got.count("case.created") >= 2
    assert "user:alice" not in actors(lctx)
    assert cli_verify()[0] == 0


def test_a_genuine_row_cannot_be_discarded(lctx: AppContext) -> None:
    lctx.ledger.append("x.y", actor="user:ann")
    with lctx.session() as session:
        lctx.ledger.stage(session, [Event("case.created", "user:ann", "C-9")])
    row = lctx.engine.connect().execute(sa.select(PENDING.c.id)).scalar_one()
    done = custodyd_here("ledger", "discard-pending", str(row), "--reason", "oops")
    assert done.returncode == 2 and "not refused rows" in done.stderr


def test_a_genuine_row_edited_is_refused(lctx: AppContext) -> None:
    lctx.ledger.append("x.y", actor="user:ann")
    with lctx.session() as session:
        lctx.ledger.stage(session, [Event("case.created", "user:ann", "C-9")])
    with lctx.engine.begin() as conn:
        events = conn.execute(sa.select(PENDING.c.events)).scalar_one()
        events[0]["actor"] = "user:alice"
        conn.execute(PENDING.update().values(events=events))
    with pytest.raises(LedgerPendingRejected, match="MAC does not verify"):
        lctx.ledger.flush_pending()


def test_missing_key_is_an_error_never_a_new_key(lctx: AppContext) -> None:
    lctx.ledger.append("case.created", actor="user:ann", case="C-1")
    path = key_path(lctx.settings.key_dir)
    path.unlink()
    for args in (("ledger", "verify"), ("ledger", "public-key")):
        done = custodyd(*args)
        assert done.returncode == 20, done
        assert "init-key" in done.stderr + done.stdout and "Traceback" not in done.stderr
        assert not path.exists()
    fresh = open_context(lctx.settings)
    try:
        with pytest.raises(LedgerKeyMissing, match="refusing to sign"):
            fresh.ledger.append("x.y", actor="user:u")
    finally:
        fresh.close()
    assert not path.exists()
    # an explicit init-key on a non-empty ledger: a local key that signs nothing until enrolled
    done = custodyd_here("ledger", "init-key", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["founding"] is False and status["trusted"] is False
    assert custodyd_here("cases", "create", "C-4").returncode == 20
    assert custodyd_here("ledger", "init-key").returncode == 4  # never replaced


def test_empty_ledger_key_is_created_explicitly_or_at_the_first_entry(lctx: AppContext) -> None:
    path = key_path(lctx.settings.key_dir)
    assert custodyd_here("ledger", "public-key").returncode == 20 and not path.exists()
    assert custodyd_here("ledger", "verify").returncode == 0 and not path.exists()
    done = custodyd_here("ledger", "init-key", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["founding"] is True
    key = custodyd_here("ledger", "public-key").stdout.strip()
    lctx.ledger.append("x.y", actor="user:u")
    assert lctx.ledger.trust().founding is not None
    assert str(lctx.ledger.trust().founding) == key


def test_rotate_key_old_key_signs_the_handover(lctx: AppContext, tmp_path: object) -> None:
    from pathlib import Path

    from custodyd.daemon.ledger import offline
    from custodyd.daemon.ledger.note import Verifier, signers

    lctx.ledger.append_many([Event("x.y", "user:u", payload={"i": i}) for i in range(3)])
    founding = lctx.ledger.public_key()
    done = custodyd_here("ledger", "rotate-key", "--json")
    assert done.returncode == 0, done.stderr
    keys = json.loads(done.stdout)
    assert keys["old_key"] == founding and keys["new_key"] != founding
    handover_note = lctx.ledger.checkpoints()[-1]
    old = Verifier.parse(founding)
    assert signers(handover_note) == [(old.name, old.key_hash)]  # the old key signed it
    fresh = open_context(lctx.settings)
    try:
        fresh.ledger.append("x.y", actor="user:u")
        new = Verifier.parse(keys["new_key"])
        assert signers(fresh.ledger.checkpoints()[-1]) == [(new.name, new.key_hash)]
        assert fresh.ledger.public_key() == keys["new_key"]
        report = fresh.ledger.verify()
        assert report.ok, report.message
        assert keys["new_key"] in report.trust["trusted_now"]
        assert founding not in report.trust["trusted_now"]
        bundle = Path(str(tmp_path)) / "b.json"
        assert custodyd_here("ledger", "export", "--out", str(bundle)).returncode == 0
        data = offline.load_bundle(bundle)
        assert offline.verify_bundle(data, old).ok  # offline: the founding key + the trust list
        assert not offline.verify_bundle(data, new).ok  # the new key did not found it
    finally:
        fresh.close()


def test_row_of_an_unknown_appliance_is_never_signed_and_reported(lctx: AppContext) -> None:
    """Another appliance's rows are left to it; one the trust list never held is reported."""
    lctx.ledger.append("x.y", actor="user:ann")
    bad = insert_row(lctx, FORGED, owner="elsewhere", mac="00" * 32)
    assert lctx.ledger.flush_pending() == []  # not ours to sign: left in place
    assert "user:alice" not in actors(lctx)
    rc, _, err = cli_verify()
    assert rc == 20 and f"ledger_pending row {bad} is refused" in err
    assert "unknown appliance" in err


def test_checkpoint_by_a_removed_key_is_rejected(lctx: AppContext) -> None:
    """After remove-key, a checkpoint that key signs (say, a stale appliance) fails verify."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from custodyd.daemon.ledger import admin
    from custodyd.daemon.ledger.note import Checkpoint, raw_public_key, sign_note, verifier_key
    from tests.ledger.tampering import drop_triggers, execute

    lctx.ledger.append("x.y", actor="user:ann")
    other = Ed25519PrivateKey.generate()
    other_key = verifier_key("lab-b", raw_public_key(other.public_key()))
    admin.enroll_key(lctx.ledger, "lab-b", other_key, actor="user:admin")
    admin.remove_key(lctx.ledger, "lab-b", actor="user:admin", reason="stolen laptop")
    entry = lctx.ledger.append("x.y", actor="user:ann")
    size = entry.index + 1
    root = lctx.ledger.root(size)
    forged = sign_note(Checkpoint(lctx.ledger.origin, size, root).text(), "lab-b", other)
    drop_triggers(lctx.engine)
    sql = "UPDATE ledger_checkpoints SET note = :n WHERE size = :s"
    execute(lctx.engine, sql, n=forged, s=size)
    report = lctx.ledger.verify()
    assert not report.ok and report.bad_checkpoint == size, report.message
    assert "not by a key the trust list holds" in report.message
