"""Who may see preservation orders and transfers (shared by the orders routers).

Compliance officers and admins see every order and transfer; anyone else sees
those of the cases they are members of (investigators read the orders of their
cases). Confidential orders follow the same rule — never wider — and a caller
who may not see one gets 404, not 403, so its existence does not leak.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.roles import ADMIN, COMPLIANCE

WRITERS = (COMPLIANCE,)  # admin always passes require_role
MAX_ID = 2**63 - 1

# A numeric id in a path: bounded, so absurd values are a 422, never a database error.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def sees_all(principal: Principal) -> bool:
    return principal.role in (COMPLIANCE, ADMIN)


def can_see(principal: Principal, case_ref: str | None) -> bool:
    return sees_all(principal) or principal.can_read_case(case_ref)
