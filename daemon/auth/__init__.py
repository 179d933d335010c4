"""Access control: users, API tokens (stored as digests), roles, per-case membership,
the first-start admin token, and audited reads. Plain Python; the API translates.

One name per operation. ``add_user``, ``disable_user``, ``create_token``,
``revoke_token`` (:mod:`~custodyd.daemon.auth.admin`), ``create_case``, ``close_case``
(:mod:`~custodyd.daemon.auth.casework`), ``set_member`` and ``remove_member`` make the
change *and* record it in the ledger, in one transaction: the CLI and the API call
these. The same name with ``_unrecorded`` (exported here) changes the rows only,
inside the caller's session, without a ledger entry — for the recorded operation
itself, for the first-start admin token (``bootstrap``), and for test fixtures.
"""

from custodyd.daemon.auth.audit import EVIDENCE_ACCESSED, HISTORY_READ, record_read
from custodyd.daemon.auth.bootstrap import ADMIN_TOKEN_FILE, ensure_admin_token
from custodyd.daemon.auth.members import (
    Member,
    case_refs_for,
    list_members,
    remove_member_unrecorded,
    set_member_unrecorded,
)
from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.roles import ADMIN, COMPLIANCE, EXAMINER, INVESTIGATOR, ROLES, check_role
from custodyd.daemon.auth.tokens import (
    NewToken,
    authenticate,
    create_token_unrecorded,
    find_token,
    list_tokens,
    principal_for,
    revoke_token_unrecorded,
)
from custodyd.daemon.auth.users import (
    add_user_unrecorded,
    disable_user_unrecorded,
    find_user,
    get_user,
    list_users,
)

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
    "add_user_unrecorded",
    "authenticate",
    "case_refs_for",
    "check_role",
    "create_token_unrecorded",
    "disable_user_unrecorded",
    "ensure_admin_token",
    "find_token",
    "find_user",
    "get_user",
    "list_members",
    "list_tokens",
    "list_users",
    "principal_for",
    "record_read",
    "remove_member_unrecorded",
    "revoke_token_unrecorded",
    "set_member_unrecorded",
]
