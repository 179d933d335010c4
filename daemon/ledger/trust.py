"""The trust list: which Ed25519 keys may sign this ledger's checkpoints, and when.

Several appliances append to one ledger, each signing the checkpoints of its own
appends with its own key; no key file is ever copied. The list lives in the
ledger itself:

- the *founding key* signed the first checkpoint (online: recorded beside it in
  ``ledger_checkpoints.signer``; offline: the key the verifier was given);
- ``ledger.key_enrolled`` {name, key} adds a key (``custodyd ledger enroll-key``);
- ``ledger.key_removed`` {name, key, reason} removes one;
- ``ledger.key_rotated`` {name, old_key, new_key} replaces one (signed by the old key).

Keys are C2SP verifier keys (``name+hash+base64``). The rule a checkpoint of
size N must meet: its signer is trusted after applying the key entries that lie
*before the previous checkpoint* (size P; P = 0 for the first). So the batch
that enrols, removes or rotates a key is still signed under the old list, and
the change governs every later checkpoint: a removed key's later checkpoints are
rejected, a rotated-out key's too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from custodyd.daemon.ledger.note import Checkpoint, NoteError, Verifier, open_checkpoint, signers

KEY_ENROLLED = "ledger.key_enrolled"
KEY_REMOVED = "ledger.key_removed"
KEY_ROTATED = "ledger.key_rotated"
KEY_ACTIONS = (KEY_ENROLLED, KEY_REMOVED, KEY_ROTATED)

KeyId = tuple[str, bytes]  # (name, 4-byte key hash) as on a signature line


@dataclass(frozen=True)
class KeyEvent:
    """One key entry of the ledger: at ``index``, ``added`` and/or ``removed`` keys."""

    index: int
    action: str
    added: Verifier | None = None
    removed: Verifier | None = None


def key_event(index: int, leaf: bytes) -> KeyEvent | None:
    """The key change an entry's leaf records (None if it is not a well-formed key entry)."""
    try:
        doc = json.loads(leaf)
        action, payload = doc["action"], doc["payload"]
        if action == KEY_ENROLLED:
            return KeyEvent(index, action, added=Verifier.parse(payload["key"]))
        if action == KEY_REMOVED:
            return KeyEvent(index, action, removed=Verifier.parse(payload["key"]))
        if action == KEY_ROTATED:
            return KeyEvent(
                index,
                action,
                added=Verifier.parse(payload["new_key"]),
                removed=Verifier.parse(payload["old_key"]),
            )
    except (ValueError, KeyError, TypeError, NoteError):
        return None
    return None


def _kid(v: Verifier) -> KeyId:
    return (v.name, v.key_hash)


class TrustList:
    """Founding key plus the key entries in index order."""

    def __init__(self, founding: Verifier | None, events: Iterable[KeyEvent] = ()) -> None:
        self.founding = founding
        self.events: list[KeyEvent] = sorted(events, key=lambda e: e.index)

    def add(self, events: Iterable[KeyEvent]) -> None:
        self.events.extend(events)
        self.events.sort(key=lambda e: e.index)

    def trusted_at(self, before: int) -> dict[KeyId, Verifier]:
        """Keys trusted once the key entries with index < ``before`` are applied."""
        keys: dict[KeyId, Verifier] = {}
        if self.founding is not None:
            keys[_kid(self.founding)] = self.founding
        for ev in self.events:
            if ev.index >= before:
                break
            if ev.removed is not None:
                keys.pop(_kid(ev.removed), None)
            if ev.added is not None:
                keys[_kid(ev.added)] = ev.added
        return keys

    def ever_at(self, before: int) -> dict[KeyId, Verifier]:
        """Every key trusted at some point before ``before`` (for witnessed notes)."""
        keys: dict[KeyId, Verifier] = {}
        if self.founding is not None:
            keys[_kid(self.founding)] = self.founding
        for ev in self.events:
            if ev.index < before and ev.added is not None:
                keys[_kid(ev.added)] = ev.added
        return keys

    def is_trusted(self, key: Verifier, before: int) -> bool:
        return self.trusted_at(before).get(_kid(key)) == key

    def open(
        self, note: str, origin: str | None, previous_size: int, *, ever: bool = False
    ) -> tuple[Checkpoint, Verifier]:
        """Verify ``note`` with the key trusted for a checkpoint after ``previous_size``.

        Returns the checkpoint and the key that signed it; :class:`NoteError` when no
        signature line is by a key the list trusts then (or the signature is bad).
        """
        allowed = self.ever_at(previous_size) if ever else self.trusted_at(previous_size)
        if not allowed:
            raise NoteError("the trust list holds no key (no founding key known)")
        named = signers(note)
        for kid in named:
            verifier = allowed.get(kid)
            if verifier is not None:
                return open_checkpoint(note, verifier, origin), verifier
        names = ", ".join(f"{n}+{h.hex()}" for n, h in named) or "nobody"
        raise NoteError(
            f"signed by {names}, not by a key the trust list holds for it "
            f"(trusted: {', '.join(sorted(f'{n}+{h.hex()}' for n, h in allowed))})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "founding_key": str(self.founding) if self.founding else None,
            "events": [
                {
                    "index": ev.index,
                    "action": ev.action,
                    "added": str(ev.added) if ev.added else None,
                    "removed": str(ev.removed) if ev.removed else None,
                }
                for ev in self.events
            ],
            "trusted_now": sorted(str(v) for v in self.trusted_at(1 << 62).values()),
        }


def events_from_entries(entries: Iterable[Mapping[str, Any]]) -> list[KeyEvent]:
    """Key events from decoded entries that carry their ``leaf`` bytes (bundle rows)."""
    found = []
    for item in entries:
        leaf = item.get("leaf")
        index = item.get("index")
        if item.get("action") in KEY_ACTIONS and isinstance(leaf, bytes) and isinstance(index, int):
            ev = key_event(index, leaf)
            if ev is not None:
                found.append(ev)
    return found
