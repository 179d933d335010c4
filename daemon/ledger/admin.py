"""Administrator operations on the ledger's trust boundary (CLI: ``custodyd ledger ...``).

- :func:`init_key`: this appliance's signing key, created explicitly. On an empty
  ledger it becomes the founding key at the first entry; on a non-empty (shared)
  ledger it signs nothing until an enrolled appliance enrols it.
- :func:`enroll_key` / :func:`remove_key`: the trust list, kept as ledger entries.
- :func:`rotate_key`: a new key for this appliance; the old key signs the handover.
- :func:`rewitness`: after a refusal (a fork, a missing or edited witness) and once
  an administrator has established what happened: record the old witnessed
  checkpoints in the ledger, set the old files aside, witness the current ledger.

Every change is itself a ledger entry, so the trust list and its history are as
provable as any custody event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from custodyd.daemon.errors import AlreadyExists, Conflict, InvalidInput, LedgerIntegrityError
from custodyd.daemon.ledger import keys, merkle
from custodyd.daemon.ledger.entry import LedgerEntry, format_time
from custodyd.daemon.ledger.note import NoteError, Verifier, raw_public_key, verifier_key
from custodyd.daemon.ledger.service import Event, Ledger, _reader, _size
from custodyd.daemon.ledger.trust import KEY_ENROLLED, KEY_REMOVED, KEY_ROTATED
from custodyd.daemon.ledger.witness import note_size


@dataclass(frozen=True)
class KeyStatus:
    public_key: str
    founding: bool  # the ledger is empty: this key will found it
    trusted: bool
    witnessed: bool  # init-key wrote the witnesses of a non-empty ledger


def init_key(ledger: Ledger) -> KeyStatus:
    """Create this appliance's key (refused if one exists: keys are never replaced here)."""
    key_dir = ledger.ctx.settings.key_dir
    if ledger.local_key() is not None:
        raise AlreadyExists(
            f"this appliance already has a ledger key ({keys.key_path(key_dir)}); "
            "`custodyd ledger rotate-key` replaces it with a recorded handover"
        )
    ledger._key = keys.create(keys.key_path(key_dir))
    mine = ledger.local_verifier()
    assert mine is not None
    trusted = ledger.trust()
    empty = trusted.founding is None and ledger.size() == 0
    witnessed = False
    if not empty and any(w.note is None and not w.error for w in ledger.witnesses.read()):
        # joining a shared ledger: it must verify (against any witness already there, e.g.
        # a shared one) before this appliance witnesses it
        report = ledger.verify()
        problems = [p for p in report.problems if "is missing while" not in p.message]
        if problems:
            raise LedgerIntegrityError(
                f"key created, but the ledger does not verify, so it is not witnessed: "
                f"{problems[0].message}"
            )
        note = ledger.checkpoint()
        ledger.witnesses.write(note, note_size(note))
        witnessed = True
    return KeyStatus(str(mine), empty, empty or trusted.is_trusted(mine, 1 << 62), witnessed)


def enroll_key(ledger: Ledger, name: str, public_key: str, *, actor: str) -> LedgerEntry:
    """Add another appliance's key to the trust list (a ledger entry signed by this one)."""
    try:
        key = Verifier.parse(public_key)
    except NoteError as exc:
        raise InvalidInput(f"not a C2SP verifier key (name+hash+base64): {exc}") from exc
    if key.name != name:
        raise InvalidInput(f"the key is named {key.name!r}, not {name!r}")
    if ledger.trust().is_trusted(key, 1 << 62):
        raise AlreadyExists(f"key {key} is already in the trust list")
    return ledger.append(KEY_ENROLLED, actor=actor, payload={"name": name, "key": str(key)})


def remove_key(ledger: Ledger, key_or_name: str, *, actor: str, reason: str) -> LedgerEntry:
    """Remove a key from the trust list: its later checkpoints are rejected."""
    if not reason.strip():
        raise InvalidInput("a reason is required")
    trusted = ledger.trust().trusted_at(1 << 62)
    matches = [v for v in trusted.values() if key_or_name in (str(v), v.name)]
    if not matches:
        raise InvalidInput(f"no key {key_or_name!r} in the trust list")
    if len(matches) > 1:
        raise InvalidInput(f"{key_or_name!r} names several keys; give the whole key")
    if len(trusted) == 1:
        raise Conflict("refusing to remove the last trusted key (nobody could sign afterwards)")
    key = matches[0]
    return ledger.append(
        KEY_REMOVED, actor=actor, payload={"name": key.name, "key": str(key), "reason": reason}
    )


def rotate_key(ledger: Ledger, *, actor: str) -> tuple[str, str]:
    """Replace this appliance's key: the OLD key signs the handover entry.

    The new key is written beside the old one first (``.next``), then the
    ``ledger.key_rotated`` entry is appended (signed by the old key), then the new
    key takes the old one's place. A crash in between is finished at the next
    signature (the new key is trusted by then and found in ``.next``).
    """
    key_dir = ledger.ctx.settings.key_dir
    old = ledger.local_verifier()
    if old is None:
        raise InvalidInput("this appliance has no key to rotate (`custodyd ledger init-key`)")
    nxt = keys.create(keys.next_key_path(key_dir))
    new = verifier_key(ledger.key_name, raw_public_key(nxt.public_key()))
    ledger.append(
        KEY_ROTATED,
        actor=actor,
        payload={"name": ledger.key_name, "old_key": str(old), "new_key": new},
    )
    keys.promote_next(key_dir)
    ledger._key = None
    return str(old), new


def rewitness(ledger: Ledger, *, actor: str, reason: str) -> dict[str, Any]:
    """Accept the ledger as it is now, after an administrator dealt with a refusal.

    Refused unless the database ledger itself verifies (entries, nodes, every
    checkpoint against the trust list). Each witness that is missing, unreadable or
    not a prefix of the ledger is set aside (renamed ``*.superseded-<time>``, never
    deleted) and its checkpoint recorded in a ``ledger.rewitnessed`` entry with the
    reason; then every witness gets the new checkpoint. Nothing here is silent: the
    entry is in the ledger, and the old checkpoints remain evidence of the fork.
    """
    if not reason.strip():
        raise InvalidInput("a reason is required")
    report = ledger.verify()
    db_problems = [p for p in report.problems if "witness" not in p.message]
    if db_problems:
        raise LedgerIntegrityError(
            f"the ledger in the database does not verify by itself ({db_problems[0].message}); "
            "restore a good copy of the database instead of re-witnessing"
        )
    stamp = format_time(ledger.ctx.clock.now()).replace(":", "")
    findings = []
    with ledger._writing() as conn:
        size = _size(conn)
        root = merkle.root_from_nodes(size, _reader(conn)) if size else merkle.EMPTY_ROOT
        for found in ledger.witnesses.read():
            state = _witness_state(ledger, conn, found.note, found.error, size, root)
            item: dict[str, Any] = {"path": str(found.path), "state": state}
            if found.note is not None:
                item["note"] = found.note[:4000]
            if state != "consistent" and found.note is not None:
                aside = found.path.with_name(f"{found.path.name}.superseded-{stamp}")
                found.path.rename(aside)
                item["kept_as"] = str(aside)
            findings.append(item)
        ledger._witnessed_in_tx = True  # the point of this command: do not check the old ones
        ledger._replace_witness = True  # written over whatever is there, after the commit
        entries, _, new_size = ledger._append_in(
            conn,
            [
                Event(
                    "ledger.rewitnessed",
                    actor,
                    payload={"reason": reason, "size": size, "witnesses": findings},
                )
            ],
        )
    missing = [w.path for w in ledger.witnesses.read() if w.note is None]
    if missing:
        raise LedgerIntegrityError(f"recorded, but witnesses could not be written: {missing}")
    return {"entry": entries[0].index, "size": new_size, "witnesses": findings}


def _witness_state(
    ledger: Ledger, conn: Any, note: str | None, error: str | None, size: int, root: bytes
) -> str:
    if error:
        return "unreadable"
    if note is None:
        return "missing"
    try:
        claimed = note_size(note)
        cp, _ = ledger._trust(conn).open(note, ledger.origin, max(claimed, 1), ever=True)
    except NoteError:
        return "not-verifiable"
    if cp.size > size:
        return "ahead-of-database"
    try:
        proof = merkle.consistency_proof(cp.size, size, _reader(conn))
        merkle.verify_consistency(cp.size, size, cp.root, root, proof)
    except (merkle.ProofError, LedgerIntegrityError, KeyError, ValueError):
        return "fork"
    return "consistent"


__all__ = [
    "KeyStatus",
    "enroll_key",
    "init_key",
    "remove_key",
    "rewitness",
    "rotate_key",
]
