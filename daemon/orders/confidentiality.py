"""Need-to-know for confidential orders, and salted commitments in the ledger.

The preserving side keeps a confidential order confidential for the time set
(information-crimes draft art. 23(3); consolidated text art. 68(2)(g)). A
confidential order names who may know it (``need_to_know``: user names);
compliance officers and administrators always may. Anyone else — members of
the case included — is told nothing: the order does not exist for them (404),
is not listed, is absent from retention answers, and the ``order.*`` entries of
custody timelines are replaced by the notice :data:`HELD_NOTICE`.

The ledger is readable by every member of a case and is exported as a whole,
so it never carries the confidential fields of such an order. Each entry
carries instead a **salted commitment**: ``sha256(salt || rfc8785(fields))``
hex, where ``salt`` is 32 random bytes kept with the order. Anyone can check
that the tree is intact; someone entitled, given the salt and the fields, can
prove they are the ones committed to; without the salt, guessing the fields
(an offence name, an authority) cannot be confirmed against the ledger.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any, Final

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.roles import ADMIN, COMPLIANCE
from custodyd.daemon.ledger.entry import canonical_json
from custodyd.daemon.models import PreservationOrder

HELD_NOTICE: Final = "held under a confidential order"
COMMITMENT_SCHEME: Final = "sha256(salt || rfc8785(fields))"
CONFIDENTIAL_FIELDS: Final = (
    "ref",
    "authority",
    "offence",
    "summary",
    "data_concerned",
    "relation",
    "custodian",
    "necessity",
)


def new_salt() -> str:
    return secrets.token_hex(32)


def committed_fields(order: PreservationOrder) -> dict[str, Any]:
    return {name: getattr(order, name) for name in CONFIDENTIAL_FIELDS}


def commitment(salt_hex: str, fields: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(bytes.fromhex(salt_hex) + canonical_json(dict(fields)))
    return digest.hexdigest()


def verify_commitment(value: str, salt_hex: str, fields: Mapping[str, Any]) -> bool:
    """Whether ``fields`` with ``salt_hex`` are what the ledger committed to."""
    try:
        return hmac.compare_digest(commitment(salt_hex, fields), value)
    except ValueError:  # a salt that is not hex
        return False


def order_commitment(order: PreservationOrder) -> str:
    assert order.commitment_salt is not None
    return commitment(order.commitment_salt, committed_fields(order))


def user_name(principal: Principal) -> str | None:
    """The user behind a principal (``user:NAME``), None for bare tokens."""
    kind, _, name = principal.actor.partition(":")
    return name if kind == "user" and name else None


def may_know(principal: Principal, order: PreservationOrder, case_ref: str | None) -> bool:
    """Whether ``principal`` may learn that ``order`` exists and read it."""
    if principal.role in (COMPLIANCE, ADMIN):
        return True
    if not principal.can_read_case(case_ref):
        return False
    if not order.confidential:
        return True
    name = user_name(principal)
    return name is not None and name in (order.need_to_know or [])
