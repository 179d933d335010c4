"""Who is calling: the authenticated identity every API request and audit entry names."""

from __future__ import annotations

from dataclasses import dataclass, field

from custodyd.daemon.auth.roles import ADMIN


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    ``actor`` is the ledger actor string (``user:<name>`` when the token belongs to
    a user, else ``token:<name>``). ``case_refs`` are the cases it is a member of;
    admins may read every case whatever ``case_refs`` holds.
    """

    actor: str
    role: str
    case_refs: frozenset[str] = field(default_factory=frozenset)
    token_id: int | None = None
    user_id: int | None = None
    token_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def can_read_case(self, ref: str | None) -> bool:
        """Whether items of case ``ref`` exist for this caller (non-members get 404)."""
        if self.is_admin:
            return True
        return ref is not None and ref in self.case_refs
