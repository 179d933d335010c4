"""The four roles and what each is for.

``examiner``: media, acquisitions, custody transfers. ``investigator``: reads the
cases they are members of, custody history, proofs. ``compliance``: orders,
retention, disposition. ``admin``: users, tokens, configuration, every case.
"""

from __future__ import annotations

from typing import Final

from custodyd.daemon.errors import InvalidInput

EXAMINER: Final = "examiner"
INVESTIGATOR: Final = "investigator"
COMPLIANCE: Final = "compliance"
ADMIN: Final = "admin"

ROLES: Final[tuple[str, ...]] = (EXAMINER, INVESTIGATOR, COMPLIANCE, ADMIN)


def check_role(role: str) -> str:
    """``role`` normalised, or :class:`InvalidInput` naming the allowed roles."""
    normalised = role.strip().lower()
    if normalised not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}", role=role)
    return normalised
