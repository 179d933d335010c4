"""The four roles and what each is for.

``examiner``: media, acquisitions, custody transfers. ``investigator``: reads the
cases they are members of, custody history, proofs. ``compliance``: orders,
retention, disposition. ``admin``: users, tokens, configuration, every case.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from custodyd.daemon.errors import InvalidInput


class Role(StrEnum):
    """A role; equal to (and stored as) its lower-case name."""

    EXAMINER = "examiner"
    INVESTIGATOR = "investigator"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


EXAMINER: Final = Role.EXAMINER
INVESTIGATOR: Final = Role.INVESTIGATOR
COMPLIANCE: Final = Role.COMPLIANCE
ADMIN: Final = Role.ADMIN

ROLES: Final[tuple[Role, ...]] = tuple(Role)


def check_role(role: str) -> Role:
    """``role`` normalised, or :class:`InvalidInput` naming the allowed roles (field ``role``)."""
    normalised = role.strip().lower()
    if normalised not in ROLES:
        raise InvalidInput(
            f"unknown role {role!r}; choose one of: {', '.join(ROLES)}", field="role", role=role
        )
    return Role(normalised)
