"""Targets and regression floors of the benchmarks, judged the same way for every bench.

A *target* is what the project promises (reported as ``met``); a *floor* is far
below it and is what CI asserts, so noise cannot fail a landing while a real
regression still does.
"""

from __future__ import annotations

from typing import Any

Bounds = dict[str, tuple[str, float]]

# `custodyd bench ledger` (targets stated for a ledger of 1,000,000 entries).
LEDGER_TARGETS: Bounds = {
    "append_per_s": (">=", 2000.0),
    "inclusion_ms_p99": ("<", 5.0),
    "consistency_ms_p99": ("<", 5.0),
    "history_ms_p99": ("<", 20.0),
    "verify_s": ("<", 30.0),
}


def met(value: float, op: str, bound: float) -> bool:
    return {"<=": value <= bound, "<": value < bound, ">=": value >= bound, ">": value > bound}[op]


def judge(figures: dict[str, Any], bounds: Bounds) -> dict[str, Any]:
    """``{name: {op, value, got, met}}`` for every bound whose figure was measured."""
    return {
        name: {"op": op, "value": bound, "got": figures[name], "met": met(figures[name], op, bound)}
        for name, (op, bound) in bounds.items()
        if isinstance(figures.get(name), int | float)
    }
