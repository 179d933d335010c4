"""Users: named people who hold a role and own tokens."""

from __future__ import annotations

from sqlmodel import Session, select

from custodyd.daemon.auth.roles import check_role
from custodyd.daemon.clock import Clock
from custodyd.daemon.errors import AlreadyExists, InvalidInput, NotFound
from custodyd.daemon.models import User

MAX_NAME = 100


def check_name(name: str, what: str = "name") -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(c.isspace() or c in "/\\:" for c in name):
        raise InvalidInput(
            f"{what} must be 1-{MAX_NAME} characters without spaces, slashes or colons: {name!r}"
        )
    return name


def find_user(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name == name)).first()


def get_user(session: Session, name: str) -> User:
    user = find_user(session, name)
    if user is None:
        raise NotFound(f"no user {name!r}", user=name)
    return user


def add_user(session: Session, clock: Clock, name: str, role: str) -> User:
    name = check_name(name, "user name")
    role = check_role(role)
    if find_user(session, name) is not None:
        raise AlreadyExists(f"user {name!r} already exists", user=name)
    user = User(name=name, role=role, created_at=clock.now())
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, *, offset: int = 0, limit: int = 100) -> list[User]:
    return list(session.exec(select(User).order_by(User.id).offset(offset).limit(limit)))


def disable_user(session: Session, name: str) -> User:
    user = get_user(session, name)
    user.disabled = True
    session.add(user)
    session.flush()
    return user
