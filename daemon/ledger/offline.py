"""Offline verification of an export bundle: no database, no custodyd state.

A third party needs only ``BUNDLE.json`` (from ``custodyd ledger export``) and the
ledger's public key obtained independently (C2SP verifier-key text). Every leaf
is re-hashed from its base64 bytes, the decoded fields are checked against the
leaf, the tree is rebuilt, and every signed checkpoint in the bundle is checked
(signature, origin, root at its size, consistency with the one before). The
latest checkpoint must cover the whole bundle.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from custodyd.daemon.errors import InvalidInput
from custodyd.daemon.ledger import verify
from custodyd.daemon.ledger.note import Checkpoint, NoteError, Verifier


def load_bundle(path: Path) -> dict[str, Any]:
    try:
        bundle = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read ledger bundle {path}: {exc}") from exc
    if not isinstance(bundle, dict) or not isinstance(bundle.get("entries"), list):
        raise InvalidInput(f"{path} is not a custodyd ledger bundle")
    return bundle


def read_key(key: str) -> Verifier:
    """A verifier key given as text or as the path of a file holding it."""
    text = key
    path = Path(key)
    if "+" not in key or path.is_file():
        try:
            text = path.read_text().strip()
        except OSError as exc:
            raise InvalidInput(f"cannot read public key {key}: {exc}") from exc
    try:
        return Verifier.parse(text)
    except NoteError as exc:
        raise InvalidInput(f"not a C2SP verifier key: {exc}") from exc


def _rows(entries: list[Any]) -> Iterator[verify.EntryRow]:
    for position, item in enumerate(entries):
        if not isinstance(item, Mapping):
            yield position, b"", None
            continue
        try:
            leaf = base64.b64decode(item.get("leaf", ""), validate=True)
        except (binascii.Error, ValueError, TypeError):
            leaf = b""
        index = item.get("index")
        fields = tuple(item.get(name) for name in verify.COLUMN_FIELDS)
        yield (index if isinstance(index, int) else -1), leaf, fields


def verify_bundle(bundle: Mapping[str, Any], key: Verifier) -> verify.VerifyReport:
    entries = bundle.get("entries") or []
    notes: list[str] = list(bundle.get("checkpoints") or [])
    latest = bundle.get("checkpoint")
    if isinstance(latest, str) and latest not in notes:
        notes.append(latest)
    origin = bundle.get("origin")
    report = verify.run(
        _rows(entries),
        [(None, n) for n in notes],
        key,
        origin if isinstance(origin, str) else None,
    )
    if isinstance(latest, str):
        try:
            size = Checkpoint.parse(latest.split("\n\n")[0] + "\n").size
        except NoteError:
            size = -1
        if size != len(entries):
            report.problems.append(
                verify.Problem(
                    min(size, len(entries)) if size >= 0 else None,
                    f"the bundle's checkpoint covers {size} entries but it holds {len(entries)}",
                )
            )
            report.ok = False
            if report.first_bad_index is None and size >= 0:
                report.first_bad_index = min(size, len(entries))
            if not report.message or report.message.endswith("all verified"):
                report.message = report.problems[-1].message
    else:
        report.ok = False
        report.message = "the bundle has no checkpoint"
        report.problems.append(verify.Problem(None, report.message))
    public = bundle.get("public_key")
    if isinstance(public, str) and public.strip() != str(key):
        report.problems.append(
            verify.Problem(None, "note: the bundle names a different public key than the one given")
        )
    return report
