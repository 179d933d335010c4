"""Users, API tokens and per-case membership: who may call the API and on which cases.

A token's secret is shown once and never stored: only its SHA-256 digest is kept
(``token_hash``), so a copy of the database does not hand out access. A token
carries one role; per-case membership (``case_members``) lists the cases a user
or a token may see. Admins see every case.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from custodyd.daemon.models.columns import utc_datetime


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=100)
    role: str = Field(max_length=20)  # examiner | investigator | compliance | admin
    disabled: bool = False
    created_at: datetime = utc_datetime()


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=100)
    token_hash: str = Field(unique=True, index=True, max_length=64)  # sha256 hex of the secret
    prefix: str = Field(max_length=16)  # first characters, to recognise a token in a list
    role: str = Field(max_length=20)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    created_at: datetime = utc_datetime()
    revoked_at: datetime | None = utc_datetime(nullable=True)


class CaseMember(SQLModel, table=True):
    """One user or one token (exactly one of the two) is a member of one case."""

    __tablename__ = "case_members"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    token_id: int | None = Field(default=None, foreign_key="api_tokens.id", index=True)
    role: str = Field(max_length=20)
    added_at: datetime = utc_datetime()


class ConsoleSession(SQLModel, table=True):
    """A browser session of the console, opened by presenting an API token.

    Only the SHA-256 of the session secret is stored (like tokens). The session
    acts as its token: revoking the token (or disabling its user) ends every
    session opened with it, and a session never outlives ``expires_at``.
    """

    __tablename__ = "console_sessions"

    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(unique=True, index=True, max_length=64)
    token_id: int = Field(foreign_key="api_tokens.id", index=True)
    created_at: datetime = utc_datetime()
    expires_at: datetime = utc_datetime()
    ended_at: datetime | None = utc_datetime(nullable=True)
