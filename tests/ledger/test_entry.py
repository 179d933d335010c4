"""Canonical leaf bytes: the fast path must be byte-identical to the rfc8785 package."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from custodyd.daemon.errors import InvalidInput
from custodyd.daemon.ledger.entry import LedgerEntry, canonical_json, encode_leaf, jsonable

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_canonical_json_matches_rfc8785(doc: dict[str, Any]) -> None:
    try:
        expected = rfc8785.dumps(doc)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        with pytest.raises((InvalidInput, UnicodeEncodeError)):
            canonical_json(doc)
        return
    assert canonical_json(doc) == expected


def test_known_canonical_form() -> None:
    leaf = encode_leaf(
        3, "2026-01-01T00:00:00.000000Z", "user:a", "x.y", None, "E1",
        {"z": [1, 2.5, "é\n"], "a": {"b": True}},
    )  # fmt: skip
    assert leaf == (
        b'{"action":"x.y","actor":"user:a","case":null,"evidence":"E1","index":3,'
        b'"payload":{"a":{"b":true},"z":[1,2.5,"\xc3\xa9\\n"]},"time":"2026-01-01T00:00:00.000000Z"}'
    )
    entry = LedgerEntry.from_leaf(leaf)
    assert entry.payload == {"a": {"b": True}, "z": [1, 2.5, "é\n"]}


def test_jsonable_conversions() -> None:
    when = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert jsonable({"t": when, "p": Path("/x"), "l": (1, 2)}) == {
        "t": "2026-05-01T12:00:00.000000Z",
        "p": "/x",
        "l": [1, 2],
    }
    with pytest.raises(InvalidInput):
        jsonable({"b": b"raw"})
    with pytest.raises(InvalidInput):
        jsonable({1: "non-string key"})
