"""What the orders routers share: who writes, and the bounded numeric id of a path.

Who may *see* orders, transfers and retention is the domain's rule
(:mod:`custodyd.daemon.orders.access`); the routers pass the principal to it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from custodyd.daemon.auth.roles import COMPLIANCE

WRITERS = (COMPLIANCE,)  # admin always passes require_role
MAX_ID = 2**63 - 1

# A numeric id in a path: bounded, so absurd values are a 422, never a database error.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
