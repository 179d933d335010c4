"""Legal bases (regimes) of preservation orders: list (anyone), add (admin)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from custodyd.api.auth import current_principal, require_role
from custodyd.api.deps import get_ctx
from custodyd.daemon.auth import Principal
from custodyd.daemon.auth.roles import ADMIN
from custodyd.daemon.context import AppContext
from custodyd.daemon.orders.regimes import RegimeSpec, add_regime, get_regime, list_regimes

router = APIRouter(prefix="/v1/regimes", tags=["orders"])


class RegimeIn(BaseModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=300)
    citation: str = Field("", max_length=1000)
    scope: Literal["international", "domestic"] = "domestic"
    period_days: int = Field(ge=1, le=36500)
    min_days: int | None = Field(None, ge=1, le=36500)
    max_days: int | None = Field(None, ge=1, le=36500)
    renewable: bool = False
    renewal_days: int | None = Field(None, ge=1, le=36500)
    max_renewals: int | None = Field(None, ge=0, le=1000)
    alert_to: list[str] = Field(default_factory=list, max_length=50)


class RegimeOut(BaseModel):
    id: str
    name: str
    citation: str
    scope: str
    period_days: int
    min_days: int | None
    max_days: int | None
    renewable: bool
    renewal_days: int | None
    max_renewals: int | None
    alert_to: list[str]
    builtin: bool


class RegimeList(BaseModel):
    items: list[RegimeOut]


@router.get("", response_model=RegimeList, summary="Every regime (shipped and added)")
def list_(
    _: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    with ctx.session() as session:
        return {"items": [r.as_dict() for r in list_regimes(session)]}


@router.get("/{regime_id}", response_model=RegimeOut, summary="One regime")
def get(
    regime_id: str, _: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    with ctx.session() as session:
        return get_regime(session, regime_id).as_dict()


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=RegimeOut, summary="Add (admin)"
)
def add(
    body: RegimeIn,
    principal: Principal = Depends(require_role(ADMIN)),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    spec = RegimeSpec(**{**body.model_dump(), "alert_to": tuple(body.alert_to)})
    with ctx.session() as session:
        return add_regime(session, ctx.clock, spec, actor=principal.actor).as_dict()
