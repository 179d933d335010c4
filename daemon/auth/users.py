"""Users: named people who hold a role and own tokens."""

from __future__ import annotations

from sqlmodel import Session, select

from custodyd.daemon import names
from custodyd.daemon.auth.roles import check_role
from custodyd.daemon.clock import Clock
from custodyd.daemon.errors import AlreadyExists, InvalidInput, NotFound
from custodyd.daemon.models import User

PRINCIPAL_FORBIDDEN = frozenset(":")


def check_name(name: str, what: str = "name") -> str:
    """A user or token name: the one name rule (:mod:`custodyd.daemon.names`), and no
    white space or ``:`` either (the name follows ``user:``/``token:`` in ledger actors)."""
    names.check_name(name, what)
    if any(c.isspace() or c in PRINCIPAL_FORBIDDEN for c in name):
        raise InvalidInput(f"{what} {names.echo(name)} is not allowed: no spaces or colons")
    return name


def find_user(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name == name)).first()


def get_user(session: Session, name: str) -> User:
    user = find_user(session, name)
    if user is None:
        raise NotFound(f"no user {names.echo(name)}", user=names.clip(name))
    return user


def add_user_unrecorded(session: Session, clock: Clock, name: str, role: str) -> User:
    name = check_name(name, "user name")
    role = check_role(role)
    if find_user(session, name) is not None:
        raise AlreadyExists(f"user {names.echo(name)} already exists", user=name)
    user = User(name=name, role=role, created_at=clock.now())
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, *, offset: int = 0, limit: int = 100) -> list[User]:
    return list(session.exec(select(User).order_by(User.id).offset(offset).limit(limit)))


def disable_user_unrecorded(session: Session, name: str) -> User:
    user = get_user(session, name)
    user.disabled = True
    session.add(user)
    session.flush()
    return user
