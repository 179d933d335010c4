"""Ledger entries and their canonical bytes.

An entry is serialized as RFC 8785 (JSON Canonicalization Scheme) JSON of
``{"action", "actor", "case", "evidence", "index", "payload", "time"}``; those
exact bytes are the Merkle leaf and are stored verbatim, so anyone can re-hash
them. ``index`` is inside the leaf, which binds each entry to its position.
``time`` is RFC 3339 UTC with microseconds (``2026-01-01T12:00:00.000000Z``).
"""

from __future__ import annotations

import base64
import enum
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Any

import rfc8785

from custodyd.daemon.errors import InvalidInput
from custodyd.daemon.ledger.merkle import leaf_hash

FIELDS = ("action", "actor", "case", "evidence", "index", "payload", "time")


def format_time(when: datetime) -> str:
    if when.tzinfo is None:
        raise InvalidInput("ledger times must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def jsonable(value: Any) -> Any:
    """Payload values as plain JSON: datetimes become RFC 3339 text, paths and UUIDs text.

    Anything else that JSON cannot carry (bytes, sets, objects) is refused rather
    than silently stringified: a ledger entry must say exactly what was meant.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PurePath | uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"ledger payload keys must be strings, not {key!r}")
            out[key] = jsonable(item)
        return out
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    raise InvalidInput(f"ledger payload value {value!r} ({type(value).__name__}) is not JSON")


MAX_SAFE_INTEGER = 2**53 - 1


def _plain(value: Any) -> bool:
    """True when Python's compact sorted JSON is byte-identical to RFC 8785 for ``value``.

    That holds without floats (ES6 number formatting differs from Python's),
    without integers beyond 2**53 - 1 (RFC 8785 refuses them) and with ASCII keys
    (RFC 8785 sorts by UTF-16 code units, Python by code points). Strings escape
    identically (``"``, ``\\``, \\b \\f \\n \\r \\t, other controls as lowercase
    ``\\u00xx``; everything else literal UTF-8).
    """
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if isinstance(value, dict):
        return all(k.isascii() and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False


def canonical_json(doc: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of ``doc`` (JSON values only); the ``rfc8785`` package decides
    every case the fast path is not provably identical for."""
    if _plain(doc):
        try:
            text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            return text.encode("utf-8")
        except UnicodeEncodeError:
            pass  # lone surrogates: let rfc8785 refuse them
    try:
        return rfc8785.dumps(doc)
    except rfc8785.CanonicalizationError as exc:
        raise InvalidInput(f"ledger payload cannot be canonicalized: {exc}") from exc


def entry_document(
    index: int,
    time: str,
    actor: str,
    action: str,
    case: str | None,
    evidence: str | None,
    payload: Mapping[str, Any] | None,
) -> dict[str, Any]:
    if not action or not actor:
        raise InvalidInput("a ledger entry needs an action and an actor")
    return {
        "action": action,
        "actor": actor,
        "case": case,
        "evidence": evidence,
        "index": index,
        "payload": jsonable(dict(payload or {})),
        "time": time,
    }


def encode_leaf(
    index: int,
    time: str,
    actor: str,
    action: str,
    case: str | None,
    evidence: str | None,
    payload: Mapping[str, Any] | None,
) -> bytes:
    return canonical_json(entry_document(index, time, actor, action, case, evidence, payload))


@dataclass(frozen=True)
class LedgerEntry:
    """One custody event as recorded. ``leaf`` is the exact hashed bytes."""

    index: int
    time: str
    actor: str
    action: str
    case: str | None
    evidence: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    leaf: bytes = b""

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], leaf: bytes) -> LedgerEntry:
        return cls(
            index=doc["index"],
            time=doc["time"],
            actor=doc["actor"],
            action=doc["action"],
            case=doc["case"],
            evidence=doc["evidence"],
            payload=doc["payload"],
            leaf=bytes(leaf),
        )

    @classmethod
    def from_leaf(cls, leaf: bytes) -> LedgerEntry:
        """Decode stored leaf bytes; :class:`ValueError` when they are not an entry."""
        doc = json.loads(leaf)
        if not isinstance(doc, dict) or sorted(doc) != list(FIELDS):
            raise ValueError("leaf is not a ledger entry object")
        if not isinstance(doc["index"], int) or not isinstance(doc["payload"], dict):
            raise ValueError("leaf has a malformed index or payload")
        return cls(
            index=doc["index"],
            time=doc["time"],
            actor=doc["actor"],
            action=doc["action"],
            case=doc["case"],
            evidence=doc["evidence"],
            payload=doc["payload"],
            leaf=bytes(leaf),
        )

    @property
    def timestamp(self) -> datetime:
        return parse_time(self.time)

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf)

    def to_dict(self, *, with_leaf: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "case": self.case,
            "evidence": self.evidence,
            "payload": self.payload,
        }
        if with_leaf:
            out["leaf"] = base64.b64encode(self.leaf).decode()
        return out
