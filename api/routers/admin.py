"""Users and tokens (admin): the API side of ``custodyd users`` / ``custodyd tokens``.

A created token's secret is in the 201 response only; it is stored as a hash.
Every change is a ledger entry (``user.added``, ``user.disabled``, ``token.created``,
``token.revoked``), made by the same functions as the CLI's (``daemon/auth/admin.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from custodyd.api.auth import require_role
from custodyd.api.deps import get_ctx
from custodyd.api.pagination import Page, PageParams, page, page_params
from custodyd.daemon.auth import Principal, list_tokens, list_users
from custodyd.daemon.auth import admin as access
from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import ApiToken, User

router = APIRouter(prefix="/v1", tags=["admin"])

Role = Literal["examiner", "investigator", "compliance", "admin"]


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role


class UserOut(BaseModel):
    name: str
    role: str
    disabled: bool
    created_at: datetime


class TokenIn(BaseModel):
    role: Role
    cases: list[str] = Field(default_factory=list, max_length=1000)
    name: str | None = Field(None, min_length=1, max_length=100)
    user: str | None = Field(None, min_length=1, max_length=100)


class TokenOut(BaseModel):
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="The secret: shown this once, stored only as a hash")
    cases: list[str]


def user_out(user: User) -> UserOut:
    return UserOut(
        name=user.name, role=user.role, disabled=user.disabled, created_at=utc(user.created_at)
    )


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut(
        name=token.name,
        role=token.role,
        prefix=token.prefix,
        created_at=utc(token.created_at),
        revoked_at=utc(token.revoked_at) if token.revoked_at else None,
    )


@router.get("/users", response_model=Page[UserOut], summary="Users (admin)")
def users(
    params: PageParams = Depends(page_params),
    _principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_ctx),
) -> Page[UserOut]:
    offset, limit = params.window()
    with ctx.session() as session:
        items, nxt = params.trim(list_users(session, offset=offset, limit=limit))
        return page([user_out(u) for u in items], params, nxt)


@router.post(
    "/users", status_code=status.HTTP_201_CREATED, response_model=UserOut, summary="Add (admin)"
)
def add_user(
    body: UserIn,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_ctx),
) -> UserOut:
    return user_out(access.add_user(ctx, principal.actor, body.name, body.role))


@router.post("/users/{name}/disable", response_model=UserOut, summary="Disable a user (admin)")
def disable_user(
    name: str,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_ctx),
) -> UserOut:
    """Their tokens stop working at once; recorded as ``user.disabled`` (first time)."""
    return user_out(access.disable_user(ctx, principal.actor, name))


@router.get("/tokens", response_model=Page[TokenOut], summary="Active tokens (admin)")
def tokens(
    params: PageParams = Depends(page_params),
    _principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_ctx),
) -> Page[TokenOut]:
    offset, limit = params.window()
    with ctx.session() as session:
        rows, nxt = params.trim(list_tokens(session, offset=offset, limit=limit))
        items = [token_out(t) for t in rows]
    return page(items, params, nxt)


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=NewTokenOut,
    summary="Create a token (admin); the secret is in this response only",
)
def create_token(
    body: TokenIn,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_ctx),
) -> NewTokenOut:
    new = access.create_token(
        ctx, principal.actor, role=body.role, cases=body.cases, name=body.name, user=body.user
    )
    cases = list(dict.fromkeys(body.cases))
    return NewTokenOut(**token_out(new.token).model_dump(), token=new.secret, cases=cases)


@router.delete("/tokens/{name}", response_model=TokenOut, summary="Revoke a token (admin)")
def revoke(
    name: str,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_ctx),
) -> TokenOut:
    return token_out(access.revoke_token(ctx, principal.actor, name))
