"""Real tampering: drop the triggers with raw SQL, change the ledger, verification names it.

Runs on SQLite and PostgreSQL; several cases go through the real CLI in a subprocess.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import LedgerKeyUntrusted
from custodyd.daemon.ledger import Event, merkle
from custodyd.daemon.ledger.keys import key_path
from tests.ledger.tampering import cli_verify, custodyd_here, drop_triggers, execute


@pytest.fixture
def filled(lctx: AppContext) -> AppContext:
    """33 entries; checkpoints at 10, 20, 30, 31, 32, 33."""
    ledger = lctx.ledger
    for batch in range(3):
        ledger.append_many(
            [
                Event("evidence.accessed", "user:ann", f"C{i % 2}", f"E{i % 5}", {"i": i})
                for i in range(batch * 10, batch * 10 + 10)
            ]
        )
    for i in range(30, 33):
        ledger.append(
            "evidence.accessed", actor="user:ann", case="C0", evidence="E0", payload={"i": i}
        )
    assert ledger.verify().ok
    drop_triggers(lctx.engine)
    return lctx


def test_untampered_cli_verify_exits_zero(filled: AppContext) -> None:
    rc, report, _ = cli_verify(subprocess=True)
    assert rc == 0
    assert report["ok"] and report["size"] == 33 and report["checkpoints"] == 6


def test_edited_payload(filled: AppContext) -> None:
    leaf = filled.ledger.leaf(17)
    execute(
        filled.engine,
        "UPDATE ledger_entries SET leaf = :leaf WHERE idx = 17",
        leaf=leaf.replace(b'"i":17', b'"i":71'),
    )
    report = filled.ledger.verify()
    assert not report.ok and report.first_bad_index == 17, report.problems
    rc, doc, err = cli_verify(subprocess=True)
    assert rc == 20
    assert doc["first_bad_index"] == 17
    assert "first bad entry: 17" in err


def test_edited_payload_with_recomputed_tree(filled: AppContext) -> None:
    """A careful forger also rewrites every stored node: the signed checkpoints still catch it."""
    leaves = [filled.ledger.leaf(i) for i in range(33)]
    leaves[17] = leaves[17].replace(b'"i":17', b'"i":71')
    execute(filled.engine, "UPDATE ledger_entries SET leaf = :leaf WHERE idx = 17", leaf=leaves[17])
    levels = merkle.tree_levels([merkle.leaf_hash(x) for x in leaves])
    for level, hashes in enumerate(levels):
        for idx, value in enumerate(hashes):
            execute(
                filled.engine,
                "UPDATE ledger_nodes SET hash = :h WHERE level = :l AND idx = :i",
                h=value,
                l=level,
                i=idx,
            )
    report = filled.ledger.verify()
    assert not report.ok
    assert report.bad_checkpoint == 20
    assert report.first_bad_index == 10
    assert "entries 10..19" in report.message


def test_deleted_entry(filled: AppContext) -> None:
    execute(filled.engine, "DELETE FROM ledger_entries WHERE idx = 9")
    report = filled.ledger.verify()
    assert not report.ok and report.first_bad_index == 9, report.problems
    assert "entry 9 is missing" in report.message
    rc, doc, _ = cli_verify()
    assert rc == 20 and doc["first_bad_index"] == 9


def test_reordered_entries(filled: AppContext) -> None:
    a, b = filled.ledger.leaf(5), filled.ledger.leaf(12)
    execute(filled.engine, "UPDATE ledger_entries SET leaf = :leaf WHERE idx = 5", leaf=b)
    execute(filled.engine, "UPDATE ledger_entries SET leaf = :leaf WHERE idx = 12", leaf=a)
    report = filled.ledger.verify()
    assert not report.ok and report.first_bad_index == 5
    assert "reordered" in report.message


def test_reordered_by_index(filled: AppContext) -> None:
    execute(filled.engine, "UPDATE ledger_entries SET idx = -1 WHERE idx = 3")
    execute(filled.engine, "UPDATE ledger_entries SET idx = 3 WHERE idx = 4")
    execute(filled.engine, "UPDATE ledger_entries SET idx = 4 WHERE idx = -1")
    report = filled.ledger.verify()
    assert not report.ok and report.first_bad_index == 3


def test_truncated_tail(filled: AppContext) -> None:
    execute(filled.engine, "DELETE FROM ledger_entries WHERE idx >= 25")
    report = filled.ledger.verify()
    assert not report.ok and report.first_bad_index == 25
    rc, doc, _ = cli_verify()
    assert rc == 20 and doc["first_bad_index"] == 25


def test_truncated_tail_with_nodes_and_checkpoints(filled: AppContext) -> None:
    """Entries, subtrees and checkpoints removed consistently: the witness file notices."""
    execute(filled.engine, "DELETE FROM ledger_entries WHERE idx >= 25")
    for level in range(6):
        execute(
            filled.engine,
            "DELETE FROM ledger_nodes WHERE level = :l AND (idx + 1) * :w > 25",
            l=level,
            w=1 << level,
        )
    execute(filled.engine, "DELETE FROM ledger_checkpoints WHERE size > 25")
    report = filled.ledger.verify()
    assert not report.ok and report.first_bad_index == 25
    assert "witness" in report.message


def test_swapped_signing_key(filled: AppContext, lsettings: object) -> None:
    """A key file replaced by another key: the ledger still verifies against its founding
    key (recorded with the first checkpoint), but the new key may not continue the log."""
    path = key_path(filled.settings.key_dir)
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    rc, doc, err = cli_verify()
    assert rc == 0, err
    assert any("not in the trust list" in note for note in doc["notes"])
    from custodyd.daemon.context import open_context

    fresh = open_context(filled.settings)
    try:
        with pytest.raises(LedgerKeyUntrusted, match="refusing to sign"):
            fresh.ledger.append("x.y", actor="user:mallory")
        assert fresh.ledger.size() == 33
    finally:
        fresh.ledger.close()
        fresh.close()


def test_checkpoint_signed_by_an_outside_key_is_rejected(filled: AppContext) -> None:
    """A checkpoint row re-signed by a key the trust list does not hold: verify names it."""
    from custodyd.daemon.ledger.note import sign_note

    rogue = Ed25519PrivateKey.generate()
    note = filled.ledger.checkpoints()[1]  # size 20
    text = note.split("\n\n")[0] + "\n"
    execute(
        filled.engine,
        "UPDATE ledger_checkpoints SET note = :n WHERE size = 20",
        n=sign_note(text, "custodyd", rogue),
    )
    rc, doc, err = cli_verify()
    assert rc == 20 and doc["bad_checkpoint"] == 20, err
    assert "not by a key the trust list holds" in err


def test_offline_bundle(filled: AppContext, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    key_file = tmp_path / "key.pub"
    done = custodyd_here("ledger", "export", "--out", str(bundle), "--json")
    assert done.returncode == 0, done.stderr
    key_file.write_text(custodyd_here("ledger", "public-key").stdout)
    rc, doc, _ = cli_verify("--bundle", str(bundle), "--key", str(key_file), subprocess=True)
    assert rc == 0 and doc["ok"] and doc["size"] == 33

    data = json.loads(bundle.read_text())
    leaf = base64.b64decode(data["entries"][7]["leaf"]).replace(b'"i":7', b'"i":8')
    data["entries"][7]["leaf"] = base64.b64encode(leaf).decode()
    data["entries"][7]["payload"] = {"i": 8}
    bundle.write_text(json.dumps(data))
    rc, doc, err = cli_verify("--bundle", str(bundle), "--key", str(key_file))
    # Offline only the signed roots vouch for the leaves: the first checkpoint (size 10)
    # no longer matches, which pins the change to entries 0..9.
    assert rc == 20 and doc["first_bad_index"] == 0 and doc["bad_checkpoint"] == 10
    assert "entries 0..9" in err


def test_offline_bundle_wrong_key_and_truncation(filled: AppContext, tmp_path: Path) -> None:
    from custodyd.daemon.ledger import offline
    from custodyd.daemon.ledger.note import Verifier, raw_public_key, verifier_key

    data = filled.ledger.export_bundle()
    key = Verifier.parse(filled.ledger.public_key())
    assert offline.verify_bundle(data, key).ok
    other = Verifier.parse(
        verifier_key(key.name, raw_public_key(Ed25519PrivateKey.generate().public_key()))
    )
    assert not offline.verify_bundle(data, other).ok
    cut = dict(data, entries=data["entries"][:30])
    report = offline.verify_bundle(cut, key)
    assert not report.ok and report.first_bad_index == 30
    decoded = dict(data, entries=[dict(e) for e in data["entries"]])
    decoded["entries"][4]["actor"] = "user:somebody-else"  # decoded field disagrees with leaf
    report = offline.verify_bundle(decoded, key)
    assert not report.ok and report.first_bad_index == 4
