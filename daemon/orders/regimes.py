"""Legal bases of preservation orders: regimes are data, not code.

The shipped regimes are read from ``regimes.json`` beside this module (the 60/90/180
day minimums of the three draft texts and the renewable domestic order of at most
180 days). Administrators add more; those are stored in the
``order_regimes`` table. A shipped id can never be redefined.

Fields: ``period_days`` is the period an order runs from its issue date unless the
order asks for another length; ``min_days``/``max_days`` bound that length;
``renewable`` with ``renewal_days`` (the default and the longest length of one
renewal, also bounded by ``max_days``) and optional ``max_renewals``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from custodyd.daemon.clock import Clock
from custodyd.daemon.errors import AlreadyExists, InvalidInput, NotFound
from custodyd.daemon.models import Regime

SHIPPED = Path(__file__).with_name("regimes.json")


@dataclass(frozen=True)
class RegimeSpec:
    id: str
    name: str
    citation: str
    scope: str
    period_days: int
    min_days: int | None = None
    max_days: int | None = None
    renewable: bool = False
    renewal_days: int | None = None
    max_renewals: int | None = None
    alert_to: tuple[str, ...] = ()
    builtin: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["alert_to"] = list(self.alert_to)
        return data

    def check_length(self, days: int, what: str = "order period") -> None:
        """Raise InvalidInput when ``days`` is outside this regime's bounds."""
        if days <= 0:
            raise InvalidInput(f"{what} must be at least one day, not {days}")
        if self.min_days is not None and days < self.min_days:
            raise InvalidInput(
                f"{what} of {days} days is below the minimum of {self.min_days} days "
                f"under {self.id} ({self.citation})",
                regime=self.id,
            )
        if self.max_days is not None and days > self.max_days:
            raise InvalidInput(
                f"{what} of {days} days exceeds the maximum of {self.max_days} days "
                f"under {self.id} ({self.citation})",
                regime=self.id,
            )


def validate(spec: RegimeSpec) -> RegimeSpec:
    if not spec.id or len(spec.id) > 64 or any(c.isspace() or c in "/\\" for c in spec.id):
        raise InvalidInput(f"regime id must be 1-64 characters without spaces: {spec.id!r}")
    if spec.scope not in {"international", "domestic"}:
        raise InvalidInput(f"regime scope must be international or domestic: {spec.scope!r}")
    if spec.min_days is not None and spec.max_days is not None and spec.min_days > spec.max_days:
        raise InvalidInput("regime minimum days exceed its maximum")
    spec.check_length(spec.period_days, "regime period")
    if spec.renewable:
        if not spec.renewal_days or spec.renewal_days <= 0:
            raise InvalidInput("a renewable regime needs a positive renewal length")
        if spec.max_days is not None and spec.renewal_days > spec.max_days:
            raise InvalidInput("regime renewal length exceeds its maximum days")
    return spec


@cache
def shipped() -> dict[str, RegimeSpec]:
    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    specs: dict[str, RegimeSpec] = {}
    for raw in data["regimes"]:
        raw = dict(raw)
        raw["alert_to"] = tuple(raw.get("alert_to") or ())
        spec = validate(RegimeSpec(builtin=True, **raw))
        specs[spec.id] = spec
    return specs


def _from_row(row: Regime) -> RegimeSpec:
    return RegimeSpec(
        id=row.id,
        name=row.name,
        citation=row.citation,
        scope=row.scope,
        period_days=row.period_days,
        min_days=row.min_days,
        max_days=row.max_days,
        renewable=row.renewable,
        renewal_days=row.renewal_days,
        max_renewals=row.max_renewals,
        alert_to=tuple(row.alert_to or ()),
        builtin=False,
    )


def list_regimes(session: Session) -> list[RegimeSpec]:
    custom = [_from_row(r) for r in session.exec(select(Regime).order_by(Regime.id))]
    return [*shipped().values(), *custom]


def get_regime(session: Session, regime_id: str) -> RegimeSpec:
    spec = shipped().get(regime_id)
    if spec is not None:
        return spec
    row = session.get(Regime, regime_id)
    if row is None:
        known = ", ".join(s.id for s in list_regimes(session))
        raise NotFound(f"no regime {regime_id!r} (known: {known})", regime=regime_id)
    return _from_row(row)


def add_regime(session: Session, clock: Clock, spec: RegimeSpec, *, actor: str) -> RegimeSpec:
    """Store an administrator's regime. Shipped and existing ids are refused."""
    spec = validate(spec)
    if spec.id in shipped() or session.get(Regime, spec.id) is not None:
        raise AlreadyExists(f"regime {spec.id!r} already exists", regime=spec.id)
    session.add(
        Regime(
            id=spec.id,
            name=spec.name,
            citation=spec.citation,
            scope=spec.scope,
            period_days=spec.period_days,
            min_days=spec.min_days,
            max_days=spec.max_days,
            renewable=spec.renewable,
            renewal_days=spec.renewal_days,
            max_renewals=spec.max_renewals,
            alert_to=list(spec.alert_to) or None,
            created_by=actor,
            created_at=clock.now(),
        )
    )
    session.flush()
    return get_regime(session, spec.id)
