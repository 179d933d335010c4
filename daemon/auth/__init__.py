"""Access control: users, API tokens (stored as digests), roles, per-case membership,
the first-start admin token, and audited reads. Plain Python; the API translates."""

from custodyd.daemon.auth.audit import EVIDENCE_ACCESSED, HISTORY_READ, record_read
from custodyd.daemon.auth.bootstrap import ADMIN_TOKEN_FILE, ensure_admin_token
from custodyd.daemon.auth.members import (
    Member,
    add_member,
    case_refs_for,
    list_members,
    remove_member,
)
from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.roles import ADMIN, COMPLIANCE, EXAMINER, INVESTIGATOR, ROLES, check_role
from custodyd.daemon.auth.tokens import (
    NewToken,
    authenticate,
    create_token,
    find_token,
    list_tokens,
    principal_for,
    revoke_token,
)
from custodyd.daemon.auth.users import add_user, disable_user, find_user, get_user, list_users

__all__ = [
    "ADMIN",
    "ADMIN_TOKEN_FILE",
    "COMPLIANCE",
    "EVIDENCE_ACCESSED",
    "EXAMINER",
    "HISTORY_READ",
    "INVESTIGATOR",
    "ROLES",
    "Member",
    "NewToken",
    "Principal",
    "add_member",
    "add_user",
    "authenticate",
    "case_refs_for",
    "check_role",
    "create_token",
    "disable_user",
    "ensure_admin_token",
    "find_token",
    "find_user",
    "get_user",
    "list_members",
    "list_tokens",
    "list_users",
    "principal_for",
    "record_read",
    "remove_member",
    "revoke_token",
]
