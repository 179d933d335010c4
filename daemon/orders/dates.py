"""When an order's period starts and ends: the clock rule of the convention texts.

International regimes set a **minimum** for preservation "effected in response to
the request" (consolidated text art. 68(7): 60 days; CARICOM-based texts: 90;
information-crimes draft art. 50(6): 180). The minimum therefore runs from the
day the data were actually preserved, and at the earliest from the day the
request was received — never from the day the foreign authority issued it. A
request that arrives late is never "already expired", and it is never refused
for an old issue date.

A domestic order (information-crimes draft art. 23(2)) lasts **at most** its
regime's maximum counted from the order itself (its issue date); the cap is
never exceeded by a day — one entered after its maximum has passed is recorded
as already ended, not refused and not extended.

:func:`compute_expiry` is pure: it takes the dates and the regime and returns
the expiry, the day the clock started and the rule (with its article) that
produced them, which the CLI, the API and the alerts show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from custodyd.daemon.errors import InvalidInput
from custodyd.daemon.orders.regimes import RegimeSpec


@dataclass(frozen=True)
class OrderDates:
    """What an officer says about the dates of a request or order."""

    issued_on: date
    received_on: date | None = None  # default: the day of entry (never after effected_on)
    effected_on: date | None = None  # default: the day of entry


@dataclass(frozen=True)
class Expiry:
    issued_on: date
    received_on: date
    effected_on: date
    clock_start: date
    expires_on: date
    days: int
    rule: str


def resolve_dates(dates: OrderDates, entry_day: date) -> tuple[date, date]:
    """(received_on, effected_on) with their defaults, validated against ``entry_day``.

    Preservation done in response to a request implies the request had arrived:
    when only ``effected_on`` is given and it is earlier than the entry day, the
    request counts as received that day.
    """
    effected = dates.effected_on or entry_day
    received = dates.received_on or min(entry_day, effected)
    for name, day in (
        ("issued_on", dates.issued_on),
        ("received_on", received),
        ("effected_on", effected),
    ):
        if day > entry_day:
            raise InvalidInput(
                f"{name} {day} is in the future (today is {entry_day} UTC)", field=name
            )
    if received < dates.issued_on:
        raise InvalidInput(
            f"received_on {received} is before issued_on {dates.issued_on}", field="received_on"
        )
    return received, effected


def compute_expiry(
    regime: RegimeSpec, dates: OrderDates, entry_day: date, days: int | None = None
) -> Expiry:
    """The expiry of an order under ``regime`` (``days`` overrides the regime's period)."""
    received, effected = resolve_dates(dates, entry_day)
    length = days if days is not None else regime.period_days
    regime.check_length(length)
    if regime.scope == "international":
        start = max(received, effected)
        why = (
            "the day preservation was effected"
            if effected >= received
            else "the day the request was received (preservation effected earlier)"
        )
        rule = (
            f"minimum of {regime.min_days or length} days counted from {why}, {start}: "
            f"{start} + {length} days ({regime.citation})"
        )
    else:
        start = dates.issued_on
        cap = regime.max_days
        rule = (
            f"{'at most ' + str(cap) + ' days' if cap else str(length) + ' days'} counted from "
            f"the order's issue date, {start}: {start} + {length} days ({regime.citation})"
        )
    expires = start + timedelta(days=length)
    if regime.scope != "international" and expires < entry_day:
        rule += f"; already ended when entered on {entry_day}: the maximum is never exceeded"
    return Expiry(
        issued_on=dates.issued_on,
        received_on=received,
        effected_on=effected,
        clock_start=start,
        expires_on=expires,
        days=length,
        rule=rule,
    )
